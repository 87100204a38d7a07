// Service worker registration: each app has its own worker at its root (/main/sw.js, /aux/sw.js) so its scope is
// the app; both load /common/sw-core.js, which caches the app shell only, never an API call.

export function registerServiceWorker(path) {
  if (!("serviceWorker" in navigator) || !window.isSecureContext) return;
  window.addEventListener("load", () => {
    navigator.serviceWorker.register(path).catch(() => {
      // no worker (private mode, an old browser): the app works online all the same
    });
  });
}
