// My task and its proof: a photo from the camera, stars for a rating, text. Upload progress shows;
// a refused file says why; without a connection the proof waits on the phone (outbox).
import { ApiError, blobUrl, get, newKey, upload } from './api.js';
import { busy, fill, h, newId, toast } from './dom.js';
import { formatBytes, formatDate, t } from './i18n.js';
import { enqueue, formOf } from './outbox.js';

const MAX_BYTES = 10 * 1024 * 1024;

export function stars(n) {
  return h('span.stars', { role: 'img', 'aria-label': t('proof.stars', { n }) }, '★'.repeat(n) + '☆'.repeat(5 - n));
}

// One star-rating radio group: arrow keys move, like any radio group.
export function ratingInput(name, legend = t('proof.rating')) {
  const inputs = [];
  const group = h('fieldset.rating', null, h('legend', null, legend),
    h('div.stars-input', null, [1, 2, 3, 4, 5].map((n) => {
      const id = newId('star');
      const input = h('input', { type: 'radio', name, value: String(n), id });
      inputs.push(input);
      return [input, h('label', { for: id, title: t('proof.stars', { n }) },
        h('span', { 'aria-hidden': 'true' }, '★'), h('span.sr-only', null, t('proof.stars', { n })))];
    })));
  return { el: group, value: () => Number(inputs.find((i) => i.checked)?.value || 0), reset: () => inputs.forEach((i) => { i.checked = false; }) };
}

function postView(p) {
  const img = p.media ? h('img.proof-img', { alt: t('proof.photoAlt'), width: 320, height: 240 }) : null;
  if (img) blobUrl(p.media.url).then((u) => { img.src = u; }).catch(() => { img.alt = t('proof.photoUnavailable'); });
  return h('li.post', null,
    img, p.rating ? stars(p.rating) : null, p.text ? h('p', null, p.text) : null,
    h('p.meta', null, h('time', { datetime: p.createdAt }, formatDate(p.createdAt))));
}

export function taskCard(task, ctx) {
  const types = task.contentGuidance?.proofTypes || [];
  const canPost = ['assigned', 'rejected', 'submitted'].includes(task.status) && ctx.phase === 'submission';
  const posts = h('ul.list.posts');
  const card = h('article.card.task', { 'aria-labelledby': `task-${task.id}` },
    h('h3', { id: `task-${task.id}` }, task.title),
    h('p.meta', null, h('span.status', { 'data-status': task.status }, t(`task.status.${task.status}`)),
      task.dueAt ? [' · ', t('task.due', { when: formatDate(task.dueAt) })] : null),
    task.description && task.description !== task.title ? h('p', null, task.description) : null,
    h('h4', null, t('task.instructions')), h('p.pre', null, task.instructions),
    h('h4', null, t('task.proof')), h('p', null, task.contentGuidance?.text || ''),
    h('ul.chips', { 'aria-label': t('task.proofTypes') }, types.map((k) => h('li', null, t(`proof.type.${k}`)))),
    task.status === 'rejected' && task.rejectReason ? h('p.error', null, t('task.rejected', { reason: task.rejectReason })) : null,
    canPost ? proofForm(task, types, ctx) : null,
    h('h4', null, t('task.posts')), posts);
  get(`/v1/tasks/${task.id}/posts?limit=50`).then((page) => {
    fill(posts, page.items.length ? page.items.map(postView) : h('li.muted', null, t('task.noPosts')));
  }).catch(() => {});
  return card;
}

function proofForm(task, types, ctx) {
  const ids = { file: newId('file'), text: newId('text') };
  const message = h('p.msg', { role: 'status', 'aria-live': 'polite' });
  const progress = h('progress', { max: 100, value: 0, hidden: true, 'aria-label': t('proof.uploading') });
  const preview = h('img.preview', { alt: t('proof.previewAlt'), hidden: true });
  let file = null;
  const parts = [];

  if (types.includes('image')) {
    const input = h('input', { type: 'file', id: ids.file, name: 'file', accept: 'image/*', capture: 'environment' });
    input.onchange = () => {
      file = input.files[0] || null;
      message.textContent = '';
      message.className = 'msg';
      if (preview.src) URL.revokeObjectURL(preview.src);
      preview.hidden = !file;
      if (!file) return;
      preview.src = URL.createObjectURL(file);
      if (file.size > MAX_BYTES) showError(t('error.status.413', { max: 10 }) + ' ' + t('proof.thisFile', { size: formatBytes(file.size) }));
    };
    parts.push(h('label.file', { for: ids.file }, h('span', null, t('proof.photo'))), input, preview);
  }
  const rating = types.includes('rating') ? ratingInput(`rating-${task.id}`) : null;
  if (rating) parts.push(rating.el);
  const text = h('textarea', { id: ids.text, name: 'text', rows: 3, maxlength: 4000 });
  parts.push(h('label', { for: ids.text }, t(types.includes('text') ? 'proof.text' : 'proof.caption')), text);

  function showError(msg) { message.textContent = msg; message.className = 'msg error'; }

  const submit = h('button.primary', { type: 'submit' }, t('proof.submit'));
  const form = h('form.proof', {
    onsubmit: (e) => {
      e.preventDefault();
      const item = { key: newKey(), taskId: task.id, sessionId: task.sessionId, text: text.value.trim(),
        rating: rating ? rating.value() : 0, file, fileName: file?.name || 'photo', createdAt: Date.now() };
      const given = [item.text && 'text', item.file && 'image', item.rating && 'rating'].filter(Boolean);
      if (!given.some((k) => types.includes(k))) return showError(t('proof.missing', { types: types.map((k) => t(`proof.type.${k}`)).join(' / ') }));
      busy(submit, async () => {
        message.textContent = t('proof.sending');
        message.className = 'msg';
        progress.hidden = !file;
        progress.value = 0;
        try {
          await upload(`/v1/tasks/${task.id}/posts`, formOf(item), {
            idempotencyKey: item.key,
            onProgress: (f) => { progress.value = Math.round(f * 100); },
          });
          progress.value = 100;
          message.textContent = t('proof.sent');
          toast(t('proof.sent'), 'ok');
          ctx.refresh();
        } catch (err) {
          progress.hidden = true;
          if (!(err instanceof ApiError) || !err.offline) return showError(err.message);
          await enqueue(item);
          message.textContent = t('proof.queued');
          message.className = 'msg queued';
          ctx.refresh();
        }
      });
    },
  }, parts, progress, message, submit);
  return form;
}
