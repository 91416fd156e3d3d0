// One session: its phase for everyone at once (live), ideas and comments, the plan, the tasks.
import { ApiError, get, newKey, post } from './api.js';
import { busy, fill, h, newId, syncList, toast } from './dom.js';
import { formatDate, t } from './i18n.js';
import { openStream } from './live.js';
import { queued } from './outbox.js';
import { answersForm, approachBody, candidates, rateForm } from './plan.js';
import { taskCard } from './proof.js';

const AI_KIND = { approaches: 'approach', tasks: 'tasks' };

export function sessionView(main, app, route) {
  const id = route.id;
  const me = app.me();
  const S = { session: null, members: [], ideas: [], candidates: [], approach: null, answers: null, tasks: [] };
  const seen = {};  // AI statuses met in this view: a failure followed by work reads as a retry
  const sig = {};
  const el = {
    head: h('div'), join: h('div'), live: h('p.live', { role: 'status' }), ideas: h('section.block'),
    plan: h('section.block'), tasks: h('section.block'), done: h('div'),
  };
  fill(main, el.join, el.head, el.live, el.done, el.tasks, el.plan, el.ideas);
  main.focus({ preventScroll: true });

  const names = () => Object.fromEntries(S.members.map((m) => [m.profileId, m.name]));
  const nameOf = (pid) => (pid === me.profileId ? t('common.you') : names()[pid] || t('common.someone'));

  // Render a section only when what it shows changed, so forms keep what is being typed.
  function section(key, value, draw) {
    const s = JSON.stringify(value);
    if (sig[key] === s) return;
    sig[key] = s;
    draw();
  }

  // -- loading --------------------------------------------------------------------------------
  let loading = null;
  let again = false;
  async function refresh() {
    if (loading) { again = true; return loading; }
    loading = (async () => {
      try { await load(); } catch (e) { showError(e); }
      loading = null;
      if (again) { again = false; await refresh(); }
    })();
    return loading;
  }

  async function load() {
    let s;
    try { s = await get(`/v1/sessions/${id}`); } catch (e) {
      if (e instanceof ApiError && (e.status === 404 || e.status === 403)) return showJoin(null, e);
      throw e;
    }
    if (!s.myRole && !me.admin) return showJoin(s);
    fill(el.join);
    S.session = s;
    const later = ['tasks', 'submission', 'completed'].includes(s.phase);
    const planPhase = s.phase === 'approaches' || later;
    const jobs = [
      get(`/v1/sessions/${id}/members?limit=200`).then((p) => { S.members = p.items; }),
      get(`/v1/sessions/${id}/ideas?limit=200`).then((p) => { S.ideas = p.items; }),
    ];
    if (planPhase && s.currentApproachId) {
      jobs.push(get(`/v1/sessions/${id}/approach`).then((a) => { S.approach = a; }));
      if (s.phase === 'approaches') jobs.push(get(`/v1/sessions/${id}/answers`).then((a) => { S.answers = a.answers; }));
    } else S.approach = null;
    if (s.phase === 'approaches' && !s.currentApproachId) {
      jobs.push(get(`/v1/sessions/${id}/approaches`).then((p) => { S.candidates = p.items; }));
    } else S.candidates = [];
    if (later) jobs.push(get(`/v1/sessions/${id}/tasks?limit=200`).then((p) => { S.tasks = p.items; }));
    await Promise.all(jobs);
    S.queued = (await queued().catch(() => [])).filter((q) => q.sessionId === id).length;
    draw();
  }

  function showError(e) {
    if (e instanceof ApiError && e.offline && S.session) return;  // the cached view stays
    fill(el.join, h('p.error.card', { role: 'alert' }, e.message));
  }

  function showJoin(s, err) {
    if (S.session) return;  // left or removed meanwhile: the next reload says so
    const message = h('p.error', { role: 'alert' });
    fill(el.join, h('section.card.join', null,
      h('h1', null, s ? s.topic : t(route.invite ? 'join.invited' : 'join.title')),
      s?.description ? h('p', null, s.description) : null,
      h('p', null, s ? t('join.public') : route.invite ? t('join.withInvite') : t('join.needInvite')),
      (s || route.invite) ? h('button.primary', {
        type: 'button',
        onclick: (e) => busy(e.currentTarget, async () => {
          await post(`/v1/sessions/${id}/members`, route.invite ? { inviteToken: route.invite } : {});
          toast(t('join.joined'), 'ok');
          app.go(`#/s/${id}`);  // opens the session anew, now as a member
        }, (x) => { message.textContent = x.message; }),
      }, t('join.button')) : null, message));
    if (err && !s && !route.invite) message.textContent = err.message;
  }

  // -- drawing --------------------------------------------------------------------------------
  function draw() {
    const s = S.session;
    section('head', [s.topic, s.description, s.phase, s.phaseFlow, s.meta, s.myRole, s.currentApproachId, S.members.length], drawHead);
    section('done', [s.phase], () => fill(el.done, s.phase === 'completed'
      ? h('div.card.done', { role: 'status' }, h('h2', null, t('done.title')), h('p', null, t('done.lead'))) : null));
    drawIdeas();
    section('plan', [s.phase === 'ideation', s.approachChoice, s.myRole, S.candidates, S.approach], drawPlan);
    section('answers', [s.phase, S.approach?.id, S.approach?.questions, S.answers], drawAnswers);
    section('tasks', [s.phase, S.tasks, S.members, S.queued], drawTasks);
  }

  function aiStatus(s) {
    const kind = AI_KIND[s.phase];
    if (!kind) return null;
    const st = ((s.meta || {}).ai || {})[kind];
    if (!st) return null;
    const before = seen[kind];
    seen[kind] = st.status === 'failed' ? 'failed' : before === 'failed' && st.status !== 'ready' ? 'failed' : st.status;
    const retrying = before === 'failed' && ['pending', 'running'].includes(st.status);
    let text;
    if (st.status === 'failed') text = t('ai.failed', { error: st.error || '' });
    else if (retrying) text = t('ai.retrying');
    else if (st.status === 'pending') text = t('ai.queued');
    else if (st.status === 'running') text = t('ai.thinking');
    else return null;
    const retry = st.status === 'failed' && st.retryable !== false && s.myRole === 'owner'
      ? h('button.secondary', {
        type: 'button',
        onclick: (e) => busy(e.currentTarget, async () => { await post(`/v1/sessions/${id}/ai/retry`, { kind }); refresh(); }),
      }, t('ai.retry')) : null;
    return h('div.ai', { 'data-status': retrying ? 'retrying' : st.status, role: 'status' },
      st.status === 'failed' ? null : h('span.spinner', { 'aria-hidden': 'true' }), h('span', null, text), retry);
  }

  function drawHead() {
    const s = S.session;
    const flow = s.phaseFlow || [];
    const at = flow.indexOf(s.phase);
    const uc = (s.meta || {}).useCase;
    const useCase = uc && uc.title && uc.matchedBy !== 'none'
      ? t('usecase.matched', { title: uc.title, score: Math.round((uc.score || 0) * 100) })
      : uc ? t('usecase.none') : null;
    fill(el.head, h('header.session-head', null,
      h('h1', null, s.topic),
      s.description ? h('p', null, s.description) : null,
      h('ol.phases', { 'aria-label': t('phase.label') }, flow.map((p, i) => h('li', {
        class: i < at ? 'past' : i === at ? 'now' : 'next', 'aria-current': i === at ? 'step' : null,
        'data-phase': p,
      }, t(`phase.${p}`)))),
      h('p.meta', null, h('span.phase-now', { 'data-phase': s.phase }, t('phase.now', { phase: t(`phase.${s.phase}`) })),
        ' · ', t('session.members', { n: S.members.length })),
      useCase ? h('p.usecase', null, useCase) : null,
      aiStatus(s),
      s.myRole === 'owner' ? ownerTools(s, at) : null));
  }

  function ownerTools(s, at) {
    const next = s.phaseFlow[at + 1];
    const out = [];
    const automatic = s.phase === 'tasks' || (s.phase === 'approaches' && !s.currentApproachId);
    if (next && !automatic) {
      const msg = h('p.error', { role: 'alert' });
      out.push(h('button.primary', {
        type: 'button', 'data-next': next,
        onclick: (e) => busy(e.currentTarget, async () => {
          await post(`/v1/sessions/${id}/phase`, { to: next });
          refresh();
        }, (x) => { msg.textContent = x.message; }),
      }, t(`phase.moveTo.${next}`)), msg);
    }
    if (s.phase !== 'completed') out.push(inviteTool(s));
    return h('div.owner', null, out);
  }

  function inviteTool(s) {
    const box = h('div.invite');
    const linkId = newId('link');
    const show = (url) => {
      const input = h('input', { id: linkId, readonly: true, value: url, class: 'invite-link' });
      fill(box, h('label', { for: linkId }, t('invite.link')), input,
        h('button.secondary', {
          type: 'button',
          onclick: async () => {
            if (navigator.share) { try { await navigator.share({ title: s.topic, url }); return; } catch { /* cancelled */ } }
            input.select();
            try { await navigator.clipboard.writeText(url); toast(t('invite.copied'), 'ok'); } catch { /* selected */ }
          },
        }, t('invite.share')));
      input.focus();
      input.select();
    };
    const base = `${location.origin}/s/${s.id}`;
    return h('div', null, h('button.secondary', {
      type: 'button',
      onclick: (e) => busy(e.currentTarget, async () => {
        if (s.visibility === 'public') return show(base);
        const inv = await post(`/v1/sessions/${s.id}/invites`, {});
        show(`${base}?invite=${encodeURIComponent(inv.token)}`);
      }),
    }, t('invite.create')), box);
  }

  // Ideas keep their element (and a comment being typed) across updates.
  let ideasBuilt = false;
  const ideaList = h('ul.list.ideas');
  const ideaForm = h('div');
  function drawIdeas() {
    const s = S.session;
    if (!ideasBuilt) {
      ideasBuilt = true;
      fill(el.ideas, h('h2', null, t('ideas.title')), ideaForm, ideaList);
    }
    section('ideaForm', [s.phase], () => fill(ideaForm, s.phase === 'ideation' ? newIdeaForm() : null));
    if (!S.ideas.length) {
      if (!ideaList.querySelector('.muted')) fill(ideaList, h('li.muted', null, t(s.phase === 'ideation' ? 'ideas.none' : 'ideas.noneLater')));
      return;
    }
    [...ideaList.children].forEach((c) => { if (!c.dataset.key) c.remove(); });
    syncList(ideaList, S.ideas, (i) => i.id, ideaItem, updateIdea);
  }

  function newIdeaForm() {
    const fid = newId('idea');
    const input = h('textarea', { id: fid, name: 'idea', rows: 2, maxlength: 4000, required: true });
    const msg = h('p.error', { role: 'alert' });
    return h('form.card', {
      onsubmit: (e) => {
        e.preventDefault();
        busy(e.submitter, async () => {
          await post(`/v1/sessions/${id}/ideas`, { text: input.value.trim() }, { idempotencyKey: newKey() });
          input.value = '';
          msg.textContent = '';
          refresh();
        }, (x) => { msg.textContent = x.message; });
      },
    }, h('label', { for: fid }, t('ideas.yours')), input, h('button.primary', { type: 'submit' }, t('ideas.post')), msg);
  }

  function ideaItem(idea) {
    const cid = newId('c');
    const input = h('input', { id: cid, name: 'comment', maxlength: 4000, required: true, autocomplete: 'off' });
    const msg = h('p.error', { role: 'alert' });
    const form = h('form.comment', {
      onsubmit: (e) => {
        e.preventDefault();
        busy(e.submitter, async () => {
          await post(`/v1/sessions/${id}/ideas/${idea.id}/comments`, { text: input.value.trim() }, { idempotencyKey: newKey() });
          input.value = '';
          msg.textContent = '';
          refresh();
        }, (x) => { msg.textContent = x.message; });
      },
    }, h('label.sr-only', { for: cid }, t('ideas.commentOn', { idea: idea.text })), input,
    h('button.secondary', { type: 'submit' }, t('ideas.comment')), msg);
    return h('li.card.idea', null, h('p.idea-text'), h('p.meta.by'), h('ul.comments'), form);
  }

  function updateIdea(li, idea) {
    li.querySelector('.idea-text').textContent = idea.text;
    li.querySelector('.by').textContent = `${nameOf(idea.profileId)} · ${formatDate(idea.createdAt)}`;
    syncList(li.querySelector('.comments'), idea.comments || [], (c) => c.id,
      () => h('li', null, h('strong'), ' ', h('span')),
      (cl, c) => { cl.firstChild.textContent = nameOf(c.profileId) + ':'; cl.lastChild.textContent = c.text; });
    li.querySelector('form').hidden = S.session.phase === 'completed';
  }

  // The plan and the answers redraw apart: saving answers leaves the plan (and its rating) as it is.
  const planParts = { plan: h('div'), answers: h('div') };
  function drawPlan() {
    const s = S.session;
    if (s.phase === 'ideation') return fill(el.plan);
    if (!el.plan.firstChild) fill(el.plan, h('h2', null, t('plan.title')), planParts.plan, planParts.answers);
    if (S.approach) {
      fill(planParts.plan, h('article.card.approach', { 'aria-labelledby': 'approach-title' },
        h('p.meta', null, t('plan.chosen')), h('h3', { id: 'approach-title' }, S.approach.title), approachBody(S.approach),
        rateForm(S.approach)));
    } else if (S.candidates.length) fill(planParts.plan, candidates(S.candidates, s, ctx));
    else fill(planParts.plan, h('p.muted', null, t('plan.waiting')));
  }

  function drawAnswers() {
    const s = S.session;
    fill(planParts.answers, S.approach && s.phase === 'approaches' ? answersForm(S.approach, S.answers, s, ctx) : null);
  }

  // My task keeps its element (and a photo being chosen) while the rest of the group's tasks change.
  const taskParts = { intro: h('div'), mine: h('div'), group: h('div') };
  function drawTasks() {
    const s = S.session;
    if (!['tasks', 'submission', 'completed'].includes(s.phase)) return fill(el.tasks);
    if (!el.tasks.firstChild) fill(el.tasks, h('h2', null, t('task.title')), taskParts.intro, taskParts.mine, taskParts.group);
    fill(taskParts.intro,
      S.tasks.length ? null : h('p.muted', null, t('task.waiting')),
      S.queued ? h('p.msg.queued', { role: 'status' }, t('proof.queuedCount', { n: S.queued })) : null);
    const mine = S.tasks.filter((x) => x.profileId === me.profileId);
    syncList(taskParts.mine, mine,
      (x) => [x.id, x.status, x.title, x.instructions, x.dueAt, x.rejectReason, s.phase].join('|'),
      (x) => taskCard(x, { phase: s.phase, refresh }));
    const done = S.tasks.filter((x) => x.status === 'done').length;
    fill(taskParts.group, S.tasks.length ? [h('h3', null, t('task.group', { done, n: S.tasks.length })),
      h('ul.list.group', null, S.tasks.map((x) => h('li', null,
        h('span', null, x.profileId ? nameOf(x.profileId) : t('task.open')), ' — ', x.title, ' ',
        h('span.status', { 'data-status': x.status }, t(`task.status.${x.status}`)))))] : null);
  }

  const ctx = { refresh };

  // -- live -----------------------------------------------------------------------------------
  let timer = null;
  const soon = () => { clearTimeout(timer); timer = setTimeout(refresh, 150); };
  let first = true;
  const stream = openStream(`/v1/sessions/${id}/stream`, {
    onEvent: soon,
    onReady: () => { if (!first) soon(); first = false; },
    onState: (st) => { el.live.textContent = st === 'live' ? t('live.on') : t('live.reconnecting'); el.live.dataset.state = st; },
  });
  const onOutbox = () => soon();
  app.onOutbox.addEventListener('sent', onOutbox);
  // A safety net while the stream is down (and for votes, which send no event).
  const poll = setInterval(() => { if (document.visibilityState === 'visible') refresh(); }, 15000);
  refresh();
  return () => {
    stream.stop();
    clearInterval(poll);
    clearTimeout(timer);
    app.onOutbox.removeEventListener('sent', onOutbox);
  };
}
