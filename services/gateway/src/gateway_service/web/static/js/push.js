// Phone notifications (Web Push): offered only where the browser has PushManager and the server
// has a key (GET /v1/me/push/key answers 404 while push is off), so nobody sees a button that
// cannot work.
import { get, post, request } from './api.js';
import { busy, fill, h, toast } from './dom.js';
import { t } from './i18n.js';

// PushManager.subscribe wants the key as bytes; the API gives it base64url.
function keyBytes(b64url) {
  const b64 = b64url.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (b64url.length % 4)) % 4);
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

export async function pushControl() {
  const box = h('div.push');
  if (!('serviceWorker' in navigator) || !('PushManager' in self) || !self.Notification) return box;
  let key;
  try { key = (await get('/v1/me/push/key', { cache: false })).publicKey; } catch { return box; }
  const reg = await navigator.serviceWorker.ready;

  async function show() {
    const sub = await reg.pushManager.getSubscription();
    if (sub && Notification.permission === 'granted') {
      const off = h('button.secondary', { type: 'button' }, t('push.turnOff'));
      off.onclick = () => busy(off, async () => {
        await request('DELETE', '/v1/me/push/subscriptions', { body: { endpoint: sub.endpoint }, cache: false })
          .catch(() => {});  // already gone on the server: unsubscribing here is what matters
        await sub.unsubscribe();
        await show();
      });
      return fill(box, h('p.muted', null, t('push.on')), off);
    }
    const on = h('button', { type: 'button' }, t('push.turnOn'));
    on.onclick = () => busy(on, async () => {
      if (await Notification.requestPermission() !== 'granted') return toast(t('push.denied'));
      const made = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(key) });
      await post('/v1/me/push/subscriptions', made.toJSON(), { cache: false });
      toast(t('push.done'));
      await show();
    });
    return fill(box, on);
  }
  await show();
  return box;
}
