// Aux camera app's service worker: the app shell only (see /common/sw-core.js).
self.SHELL_NAME = "dualcam-aux-v1";
self.SHELL_FILES = ["/aux/", "/aux/app.js", "/aux/manifest.webmanifest", "/common/device.js"];
importScripts("/common/sw-core.js");
