// Offline after the first load: the app's own files are kept in a cache and served from it when
// the network is gone. The API is never cached here (the app keeps its data in IndexedDB), except
// the type registry, which it needs to check readings offline.
const CACHE = "kol-tablet-v2";
const SHELL = ["./", "index.html", "app.css", "app.js", "ble.js", "diary.js", "i18n.js", "store.js",
               "transport.js", "messages.js", "vendor/mqtt.esm.js", "manifest.webmanifest", "icon.svg"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

// Network first, so an updated app is used at once when online; the cache when offline.
self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== location.origin) return;
  const scope = new URL(self.registration.scope);
  const inShell = url.pathname.startsWith(scope.pathname);
  const registry = url.pathname.endsWith("/api/v1/tablet/measurement-types");
  if (!inShell && !registry) return;
  event.respondWith(fetch(event.request).then((response) => {
    if (response.ok) {
      const copy = response.clone();
      caches.open(CACHE).then((cache) => cache.put(event.request, copy));
    }
    return response;
  }).catch(() => caches.match(event.request, { ignoreSearch: true })
    .then((hit) => hit || caches.match("./"))));
});
