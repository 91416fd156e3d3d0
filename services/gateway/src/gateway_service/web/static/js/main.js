// The member app: boot, sign-in, navigation between views, offline state, notifications badge.
import { auth, events, get } from './api.js';
import { expired, finishSignIn, refreshIfNeeded, signInDev, startSignIn } from './auth.js';
import { busy, fill, h, newId, toast } from './dom.js';
import { LANGUAGES, language, pickLanguage, setLanguage, t } from './i18n.js';
import { openStream } from './live.js';
import { flush, queued } from './outbox.js';

let viewsLoading = null;
const loadViews = () => (viewsLoading ||= import('./views.js').then((m) => m.views));

const config = JSON.parse(document.querySelector('meta[name="rally-config"]').content || '{}');
const main = document.getElementById('main');
const nav = document.getElementById('nav');
let dispose = null;
let meStream = null;
let unread = 0;
let renders = 0;

export const app = {
  config,
  me: () => auth.get(),
  go(hash) { if (location.hash === hash) render(); else location.hash = hash; },
  setUnread(n) { unread = Math.max(0, n); renderNav(); },
  async refreshUnread() {
    try { app.setUnread((await get('/v1/me/notifications?unread=true&limit=200', { cache: false })).items.length); }
    catch { /* offline: keep the last count */ }
  },
  // A proof queued offline went out (or was refused): views showing its task reload.
  onOutbox: new EventTarget(),
};

function route() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, query = ''] = raw.split('?');
  const params = new URLSearchParams(query);
  const m = path.match(/^\/s\/([^/]+)$/);
  if (m) return { name: 'session', id: decodeURIComponent(m[1]), invite: params.get('invite') };
  if (path === '/notifications') return { name: 'notifications' };
  return { name: 'sessions' };
}

function renderNav() {
  const me = auth.get();
  nav.hidden = !me;
  if (!me) return nav.replaceChildren();
  const current = route().name;
  const link = (href, name, label, extra) => h('a', { href, 'aria-current': current === name ? 'page' : null }, label, extra);
  fill(nav,
    link('#/', 'sessions', t('nav.sessions')),
    link('#/notifications', 'notifications', t('nav.notifications'),
      unread ? h('span.badge', { 'aria-label': t('nav.unread', { n: unread }) }, String(unread)) : null),
    h('button.link', { type: 'button', onclick: signOut, title: me.name }, t('nav.signOut')));
}

async function signOut() {
  await auth.clear();
  meStream?.stop();
  meStream = null;
  location.hash = '#/';
  render();
}

function signInView() {
  const nameId = newId('name');
  const error = h('p.error', { role: 'alert' });
  const parts = [h('h1', null, t('signin.title')), h('p.lead', null, t('signin.lead'))];
  if (config.devTokens) {
    const input = h('input', { id: nameId, name: 'name', autocomplete: 'nickname', required: true, maxlength: 120 });
    parts.push(h('form.card', {
      onsubmit: (e) => {
        e.preventDefault();
        busy(e.submitter, async () => { await signInDev(input.value.trim()); await signedIn(); },
          (err) => { error.textContent = err.message; });
      },
    }, h('label', { for: nameId }, t('signin.name')), input,
    h('p.hint', null, t('signin.devHint')),
    h('button.primary', { type: 'submit' }, t('signin.submit'))));
  } else if (config.authMode === 'dev') {
    parts.push(h('p.card', null, t('signin.devRefused')));
  }
  if (config.oidc) {
    parts.push(h('div.card', null, h('button.primary', {
      type: 'button',
      onclick: (e) => busy(e.currentTarget, () => startSignIn(config.oidc), (err) => { error.textContent = err.message; }),
    }, t('signin.provider'))));
  } else if (!config.devTokens && config.authMode !== 'dev') {
    parts.push(h('p.card', null, t('signin.unavailable')));
  }
  parts.push(error);
  fill(main, h('section.signin', null, parts));
}

async function signedIn() {
  openMeStream();
  app.refreshUnread();
  sendQueued();
  render();
}

function openMeStream() {
  meStream?.stop();
  meStream = openStream('/v1/me/stream', {
    onEvent: (ev) => {
      if (ev.type === 'rally.notify.delivered' && ev.data.channel !== 'email' && ev.data.channel !== 'webhook') {
        app.refreshUnread();
        app.onOutbox.dispatchEvent(new Event('notification'));
      }
    },
  });
}

// Proofs saved offline go out once the phone is online; while the network is still coming back,
// again after 2, 4, 8 ... 30 s.
let retryIn = 2000;
let retryTimer = null;
async function sendQueued() {
  clearTimeout(retryTimer);
  if (!auth.get() || !navigator.onLine || !(await queued()).length) return;
  for (const r of await flush()) {
    toast(r.ok ? t('proof.queuedSent') : t('proof.queuedRefused', { reason: r.error.message }), r.ok ? 'ok' : 'error');
    app.onOutbox.dispatchEvent(new CustomEvent('sent', { detail: r }));
  }
  if ((await queued()).length) {
    retryTimer = setTimeout(sendQueued, retryIn);
    retryIn = Math.min(retryIn * 2, 30_000);
  } else retryIn = 2000;
}

async function render() {
  const seq = ++renders;
  dispose?.();
  dispose = null;
  renderNav();
  if (expired()) return signInView();
  const r = route();
  let views;
  try { views = await loadViews(); } catch {
    viewsLoading = null;  // offline before the app was kept: the next try loads it again
    fill(main, h('p.error.card', { role: 'alert' }, t('error.offline')));
    return;
  }
  if (seq !== renders) return;  // another navigation came first
  if (r.name === 'session') dispose = views.sessionView(main, app, r);
  else if (r.name === 'notifications') dispose = views.notificationsView(main, app);
  else dispose = views.sessionsView(main, app);
}

function showConnectivity() {
  const banner = document.getElementById('offline');
  banner.hidden = navigator.onLine;
  banner.textContent = t('offline.banner');
}

function languagePicker() {
  const select = document.getElementById('lang');
  fill(select, Object.entries(LANGUAGES).map(([code, name]) => h('option', { value: code, lang: code, selected: code === language() }, name)));
  select.onchange = async () => {
    await setLanguage(select.value, true);
    showConnectivity();
    render();
  };
}

async function boot() {
  // A link to /s/<id> opens that session inside the app.
  const link = location.pathname.match(/^\/s\/([^/]+)$/);
  if (link) history.replaceState(null, '', `/#/s/${link[1]}${location.search}`);
  await setLanguage(pickLanguage());
  languagePicker();
  showConnectivity();
  addEventListener('online', () => { showConnectivity(); sendQueued(); });
  addEventListener('offline', showConnectivity);
  addEventListener('hashchange', render);
  events.addEventListener('signedout', () => { meStream?.stop(); toast(t('signin.expired')); render(); });
  events.addEventListener('stale', () => { document.getElementById('offline').hidden = false; });
  events.addEventListener('fresh', showConnectivity);
  if (config.oidc) {
    try {
      const back = await finishSignIn(config.oidc);
      if (back) location.hash = back;
    } catch (e) { toast(e.message, 'error'); }
    await refreshIfNeeded(config.oidc);
    setInterval(() => refreshIfNeeded(config.oidc), 30_000);
  }
  if (auth.get() && !expired()) {
    openMeStream();
    app.refreshUnread();
    sendQueued();
  }
  setInterval(sendQueued, 30_000);
  await render();
  document.documentElement.dataset.ready = '1';
  performance.mark('rally:ready');  // the first screen is usable (measured by the browser tests)
  loadViews();
  // After the first screen, so keeping the app for offline use never slows the first visit.
  if ('serviceWorker' in navigator) {
    const register = () => navigator.serviceWorker.register('/sw.js').catch(() => {});
    if (document.readyState === 'complete') register(); else addEventListener('load', register);
  }
}

boot();
