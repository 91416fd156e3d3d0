// The in-app notification list: unread first, mark one or all as read.
import { get, post } from './api.js';
import { busy, fill, h, syncList, toast } from './dom.js';
import { formatDate, has, t } from './i18n.js';
import { pushControl } from './push.js';

export function notificationsView(main, app) {
  const list = h('ul.list.notes', { 'aria-live': 'polite' });
  const more = h('button.secondary', { type: 'button', hidden: true }, t('common.more'));
  const allRead = h('button.secondary', { type: 'button' }, t('notifications.readAll'));
  let items = [];
  let cursor = null;

  const push = h('div');
  fill(main, h('section', null,
    h('div.row', null, h('h1', null, t('notifications.title')), allRead),
    push, list, more));
  // Added when ready: the key request must not hold up the list.
  pushControl().then((c) => fill(push, c)).catch(() => {});

  function item(n) {
    const read = h('button.link', { type: 'button' }, t('notifications.markRead'));
    read.onclick = () => busy(read, async () => {
      const updated = await post(`/v1/me/notifications/${n.id}/read`, {});
      items = items.map((x) => (x.id === n.id ? updated : x));
      show();
      app.refreshUnread();
    });
    const kind = has(`notifications.kind.${n.kind}`) ? t(`notifications.kind.${n.kind}`) : n.kind;
    return h('li.card', { class: n.readAt ? 'read' : 'unread' },
      h('p.meta', null, h('span.tag', null, kind), ' ', h('time', { datetime: n.createdAt }, formatDate(n.createdAt)),
        n.readAt ? null : h('span.sr-only', null, ` (${t('notifications.unread')})`)),
      h('h2', null, n.title),
      n.body ? h('p', null, n.body) : null,
      h('p.actions', null,
        n.sessionId ? h('a', { href: `#/s/${n.sessionId}` }, t('notifications.open')) : null,
        n.readAt ? null : read));
  }

  function show() {
    if (!items.length) return fill(list, h('li.muted', null, t('notifications.empty')));
    [...list.children].forEach((c) => { if (!c.dataset.key) c.remove(); });
    syncList(list, items, (n) => `${n.id}:${n.readAt ? 1 : 0}`, item);
    more.hidden = !cursor;
  }

  async function load(next) {
    const page = await get(`/v1/me/notifications?limit=50${next ? `&cursor=${encodeURIComponent(next)}` : ''}`);
    items = next ? [...items, ...page.items] : page.items;
    cursor = page.nextCursor;
    show();
  }

  more.onclick = () => busy(more, () => load(cursor));
  allRead.onclick = () => busy(allRead, async () => {
    await post('/v1/me/notifications/read-all', {});
    await load();
    app.setUnread(0);
    toast(t('notifications.allDone'));
  });
  const onNote = () => load().catch(() => {});
  app.onOutbox.addEventListener('notification', onNote);
  load().catch((e) => fill(list, h('li.error', { role: 'alert' }, e.message)));
  return () => app.onOutbox.removeEventListener('notification', onNote);
}
