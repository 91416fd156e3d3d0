// The plan: compare the AI's candidate approaches and vote (or see the chosen one), then answer
// its questions with the input each type needs.
import { newKey, post, put } from './api.js';
import { busy, h, newId, toast } from './dom.js';
import { t } from './i18n.js';
import { ratingInput } from './proof.js';

function requirement(r, questions) {
  const q = questions.find((x) => x.key === r.question);
  const what = q ? q.text : r.question;
  if ('atLeast' in r) return t('plan.needsAtLeast', { what, n: r.atLeast });
  const v = r.equals === true ? t('common.yes') : r.equals === false ? t('common.no') : String(r.equals);
  return t('plan.needsEquals', { what, value: v });
}

function roles(a) {
  return h('ul.roles', null, (a.roles || []).map((r) => h('li', null,
    h('strong', null, r.name), r.description ? ` — ${r.description}` : '',
    (r.requires || []).length ? h('span.needs', null, ' (', r.requires.map((x) => requirement(x, a.questions || [])).join('; '), ')') : null)));
}

export function approachBody(a) {
  return [h('p', null, a.summary),
    a.rationale ? h('p.muted', null, a.rationale) : null,
    h('h4', null, t('plan.roles')), roles(a)];
}

export function candidates(list, s, ctx) {
  const mode = s.approachChoice;
  const owner = s.myRole === 'owner';
  const intro = mode === 'owner' ? t(owner ? 'plan.ownerPicks' : 'plan.ownerWillPick')
    : mode === 'auto' ? t('plan.autoPick') : t('plan.votePrompt');
  return h('div.candidates', null, h('p', null, intro), list.map((a, i) => {
    const headingId = `cand-${a.id}`;
    const act = mode === 'vote' && s.myRole
      ? h('button', {
        type: 'button', class: a.myVote ? 'primary' : 'secondary', 'aria-pressed': a.myVote ? 'true' : 'false',
        'aria-describedby': headingId,
        onclick: (e) => busy(e.currentTarget, async () => {
          await put(`/v1/sessions/${s.id}/approaches/${a.id}/vote`, {}, { idempotencyKey: newKey() });
          toast(t('plan.voted', { title: a.title }), 'ok');
          ctx.refresh();
        }),
      }, a.myVote ? t('plan.yourVote') : t('plan.vote'))
      : mode === 'owner' && owner
        ? h('button.primary', {
          type: 'button', 'aria-describedby': headingId,
          onclick: (e) => busy(e.currentTarget, async () => { await post(`/v1/sessions/${s.id}/approaches/${a.id}/choose`, {}); ctx.refresh(); }),
        }, t('plan.choose'))
        : null;
    return h('article.card.candidate', { 'aria-labelledby': headingId },
      h('p.meta', null, t('plan.rank', { n: i + 1 }), ' · ', t('plan.votes', { n: a.votes })),
      h('h3', { id: headingId }, a.title), approachBody(a),
      h('p.meta', null, t('plan.questionsCount', { n: (a.questions || []).length })), act);
  }));
}

function questionField(q, value) {
  const id = newId('q');
  const label = [q.text, q.unit ? ` (${q.unit})` : ''];
  if (q.type === 'boolean' || (q.type === 'choice' && (q.options || []).length <= 6)) {
    const opts = q.type === 'boolean' ? [[true, t('common.yes')], [false, t('common.no')]]
      : q.options.map((o) => [o, String(o)]);
    return h('fieldset.question', { 'data-key': q.key, 'data-type': q.type }, h('legend', null, label),
      h('div.options', null, opts.map(([v, text], i) => {
        const oid = `${id}-${i}`;
        return h('span.option', null,
          h('input', { type: 'radio', id: oid, name: q.key, value: JSON.stringify(v), checked: value === v }),
          h('label', { for: oid }, text));
      })));
  }
  let input;
  if (q.type === 'choice') {
    input = h('select', { id, name: q.key }, h('option', { value: '' }, t('plan.pick')),
      q.options.map((o) => h('option', { value: JSON.stringify(o), selected: value === o }, String(o))));
  } else if (q.type === 'number') {
    input = h('input', { id, name: q.key, type: 'number', inputmode: 'decimal', step: 'any', value: value ?? '' });
  } else {
    input = h('textarea', { id, name: q.key, rows: 2, maxlength: 1000, value: value ?? '' });
  }
  return h('div.question', { 'data-key': q.key, 'data-type': q.type }, h('label', { for: id }, label), input);
}

function readAnswers(form, questions) {
  const out = {};
  for (const q of questions) {
    const el = form.elements[q.key];
    if (!el) continue;
    if (q.type === 'boolean' || q.type === 'choice') {
      const raw = el.value;  // a radio group's or a select's value
      out[q.key] = raw ? JSON.parse(raw) : null;
    } else if (q.type === 'number') {
      out[q.key] = el.value === '' ? null : Number(el.value);
    } else out[q.key] = el.value.trim() || null;
  }
  return out;
}

export function answersForm(approach, mine, s, ctx) {
  const qs = approach.questions || [];
  const status = h('p.msg', { role: 'status' }, mine && Object.keys(mine).length ? t('plan.answersSaved') : '');
  const submit = h('button.primary', { type: 'submit' }, t('plan.saveAnswers'));
  const form = h('form.card.answers', {
    'aria-labelledby': 'answers-title',
    onsubmit: (e) => {
      e.preventDefault();
      busy(submit, async () => {
        status.className = 'msg';
        await put(`/v1/sessions/${s.id}/answers`, { answers: readAnswers(form, qs) });
        status.textContent = t('plan.answersSaved');
        toast(t('plan.answersSaved'), 'ok');
      }, (err) => { status.textContent = err.message; status.className = 'msg error'; });
    },
  }, h('h3', { id: 'answers-title' }, t('plan.questions')),
  h('p.muted', null, t('plan.questionsLead')),
  qs.map((q) => questionField(q, (mine || {})[q.key])), submit, status);
  return form;
}

// Members rate the AI's plan 1-5 (rating again replaces the earlier score): feedback for admins.
export function rateForm(approach) {
  const stars = ratingInput(`plan-rating-${approach.id}`, t('plan.rate'));
  const status = h('p.msg', { role: 'status' });
  const submit = h('button.secondary', { type: 'submit' }, t('plan.rateSubmit'));
  return h('form.rate', {
    onsubmit: (e) => {
      e.preventDefault();
      if (!stars.value()) { status.textContent = t('error.invalid_rating'); status.className = 'msg error'; return; }
      busy(submit, async () => {
        await post(`/v1/generations/${approach.generationId}/rating`, { score: stars.value() });
        status.className = 'msg';
        status.textContent = t('plan.rated');
      }, (err) => { status.textContent = err.message; status.className = 'msg error'; });
    },
  }, stars.el, submit, status);
}
