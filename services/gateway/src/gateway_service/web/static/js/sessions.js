// My sessions, a new session, and joining one by its link.
import { get, newKey, post } from './api.js';
import { busy, fill, h, newId } from './dom.js';
import { t } from './i18n.js';

export function sessionsView(main, app) {
  const list = h('ul.list.sessions');
  const more = h('button.secondary', { type: 'button', hidden: true }, t('common.more'));
  let cursor = null;

  const ids = { topic: newId(), desc: newId(), vis: newId(), link: newId() };
  const error = h('p.error', { role: 'alert' });
  const topic = h('input', { id: ids.topic, name: 'topic', required: true, maxlength: 200 });
  const desc = h('textarea', { id: ids.desc, name: 'description', rows: 2, maxlength: 4000 });
  const vis = h('select', { id: ids.vis, name: 'visibility' },
    ['members', 'public', 'private'].map((v) => h('option', { value: v }, t(`visibility.${v}`))));
  const createForm = h('form.card', {
    onsubmit: (e) => {
      e.preventDefault();
      busy(e.submitter, async () => {
        const s = await post('/v1/sessions', { topic: topic.value.trim(), description: desc.value.trim(), visibility: vis.value },
          { idempotencyKey: newKey() });
        app.go(`#/s/${s.id}`);
      }, (err) => { error.textContent = err.message; });
    },
  }, h('h2', null, t('sessions.new')),
  h('label', { for: ids.topic }, t('sessions.topic')), topic,
  h('label', { for: ids.desc }, t('sessions.description')), desc,
  h('label', { for: ids.vis }, t('sessions.visibility')), vis,
  h('button.primary', { type: 'submit' }, t('sessions.create')), error);

  const link = h('input', { id: ids.link, name: 'link', inputmode: 'url', autocomplete: 'off' });
  const linkError = h('p.error', { role: 'alert' });
  const joinForm = h('form.card', {
    onsubmit: (e) => {
      e.preventDefault();
      const m = link.value.trim().match(/(?:^|\/s\/|#\/s\/)([0-9a-f-]{36})(?:[^?]*\?(.*))?$/i);
      if (!m) { linkError.textContent = t('sessions.badLink'); return; }
      const invite = new URLSearchParams(m[2] || '').get('invite');
      app.go(`#/s/${m[1]}${invite ? `?invite=${encodeURIComponent(invite)}` : ''}`);
    },
  }, h('h2', null, t('sessions.joinTitle')),
  h('label', { for: ids.link }, t('sessions.link')), link,
  h('button.secondary', { type: 'submit' }, t('sessions.open')), linkError);

  fill(main, h('section', null,
    h('h1', null, t('sessions.title', { name: app.me().name || '' })),
    list, more, createForm, joinForm));

  function row(s) {
    return h('li.card.session', null,
      h('a.stretch', { href: `#/s/${s.id}` }, h('strong', null, s.topic)),
      h('p.meta', null, h('span.phase', { 'data-phase': s.phase }, t(`phase.${s.phase}`)), ' · ',
        t(s.myRole === 'owner' ? 'sessions.youOwn' : 'sessions.youMember')));
  }

  async function load(next) {
    const page = await get(`/v1/sessions?limit=50${next ? `&cursor=${encodeURIComponent(next)}` : ''}`);
    if (!next) list.replaceChildren();
    list.append(...page.items.map(row));
    if (!list.children.length) list.append(h('li.muted', null, t('sessions.none')));
    cursor = page.nextCursor;
    more.hidden = !cursor;
  }
  more.onclick = () => busy(more, () => load(cursor));
  load().catch((e) => fill(list, h('li.error', { role: 'alert' }, e.message)));
  return null;
}
