// Main camera app's service worker: the app shell only (see /common/sw-core.js).
self.SHELL_NAME = "dualcam-main-v1";
self.SHELL_FILES = [
  "/main/",
  "/main/app.js",
  "/main/home.js",
  "/main/check.js",
  "/main/sessions.js",
  "/main/sitting.js",
  "/main/sitting-device.js",
  "/main/sitting-shared.js",
  "/main/pairing.js",
  "/main/guide.js",
  "/main/face-check.js",
  "/main/waiting.js",
  "/main/answer.js",
  "/main/question-images.js",
  "/main/upload.js",
  "/main/manifest.webmanifest",
  "/common/device.js",
];
importScripts("/common/sw-core.js");
