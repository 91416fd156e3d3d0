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

// Web Push: the server sends {title, body, url} (encrypted for this browser; it arrives decrypted).
self.addEventListener('push', (event) => {
  let note = {};
  try { note = event.data ? event.data.json() : {}; } catch { /* not JSON: show the defaults */ }
  event.waitUntil(self.registration.showNotification(note.title || 'Rally', {
    body: note.body || '', icon: '/app/icon-192.png', badge: '/app/icon-192.png',
    data: { url: note.url || '/' },
  }));
});

// Opening a notification focuses a tab of the app already showing that page, else opens one.
self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const url = new URL((event.notification.data && event.notification.data.url) || '/', self.location.origin);
  if (url.origin !== self.location.origin) return;  // only ever this app's own pages
  event.waitUntil(self.clients.matchAll({ type: 'window', includeUncontrolled: true }).then((wins) => {
    const open = wins.find((w) => new URL(w.url).pathname === url.pathname);
    return open ? open.focus() : self.clients.openWindow(url.href);
  }));
});
