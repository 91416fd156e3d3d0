// The member app's service worker: its own files kept for offline use (the API's answers are kept
// by the page itself, so other pages of this origin are never touched).
const VERSION = '__VERSION__';
const SHELL = `rally-shell-${VERSION}`;
const ASSETS = ["__ASSETS__"];

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(SHELL).then((c) => c.addAll(ASSETS)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k.startsWith('rally-shell-') && k !== SHELL).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

self.addEventListener('fetch', (event) => {
  const req = event.request;
  const url = new URL(req.url);
  if (req.method !== 'GET' || url.origin !== self.location.origin) return;
  if (req.mode === 'navigate' && (url.pathname === '/' || url.pathname.startsWith('/s/'))) {
    // The page fresh when online; the kept one when not.
    event.respondWith(fetch(req).catch(() => caches.match('/', { cacheName: SHELL })));
  } else if (url.pathname.startsWith('/app/')) {
    event.respondWith(caches.match(req, { cacheName: SHELL, ignoreSearch: true }).then((hit) => hit || fetch(req)));
  }
});
