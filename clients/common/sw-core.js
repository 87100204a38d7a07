// App-shell cache for the phone apps (loaded by /main/sw.js and /aux/sw.js with importScripts).
//
// Only the shell (HTML, JS, CSS, icons, manifest) is cached, network first: a phone that reloads while offline
// still gets the app, and an online phone always gets the current version. API calls (/api/…), the WebSocket and
// uploads are never touched: they go to the network or fail, and the app handles that.

/* global self, caches, SHELL_NAME, SHELL_FILES */

const COMMON_FILES = [
  "/common/styles.css",
  "/common/api.js",
  "/common/capture.js",
  "/common/clock.js",
  "/common/device.js",
  "/common/events.js",
  "/common/i18n.js",
  "/common/live-stills.js",
  "/common/media.js",
  "/common/pwa.js",
  "/common/recorder.js",
  "/common/replaced-view.js",
  "/common/sitting-view.js",
  "/common/store.js",
  "/common/ui.js",
  "/common/upload-view.js",
  "/common/uploader.js",
  "/common/webm.js",
  "/common/ws.js",
  "/common/icons/main-192.png",
  "/common/icons/aux-192.png",
];

function isShell(url) {
  if (url.origin !== self.location.origin) return false;
  if (url.pathname.startsWith("/api/")) return false;
  return url.pathname.startsWith("/common/") || url.pathname.startsWith(self.registration.scope.replace(self.location.origin, ""));
}

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(SHELL_NAME)
      .then((cache) => cache.addAll([...SHELL_FILES, ...COMMON_FILES]))
      .catch(() => {}) // a missing file must not block the app; the cache fills as pages load
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter((n) => n.startsWith("dualcam-") && n !== SHELL_NAME && n.split("-")[1] === SHELL_NAME.split("-")[1]).map((n) => caches.delete(n))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (!isShell(url)) return; // API calls and everything else: straight to the network
  event.respondWith(
    fetch(request)
      .then((response) => {
        if (response.ok) {
          const copy = response.clone();
          caches.open(SHELL_NAME).then((cache) => cache.put(request, copy));
        }
        return response;
      })
      .catch(() => caches.match(request, { ignoreSearch: true }).then((hit) => hit || caches.match(SHELL_FILES[0]))),
  );
});
