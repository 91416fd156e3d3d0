// The public API through the same origin, with the member's bearer token. GET answers are kept
// (Cache Storage) so the last state of a session still reads offline.
import { has, t } from './i18n.js';

const TOKEN = 'rally.member.auth';
const CACHE = 'rally-api';

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details || {};
  }
  get offline() { return this.status === 0; }
}

export const auth = {
  get() {
    try { return JSON.parse(localStorage.getItem(TOKEN)) || null; } catch { return null; }
  },
  set(value) { localStorage.setItem(TOKEN, JSON.stringify(value)); },
  async clear() {
    localStorage.removeItem(TOKEN);
    if (self.caches) await caches.delete(CACHE);  // the next person on this phone sees nothing of it
  },
};

export const events = new EventTarget();

function headers(extra) {
  const a = auth.get();
  return { ...(a ? { Authorization: `Bearer ${a.token}` } : {}), ...extra };
}

// The member-facing text of a refused request: by its code, else by its status, else the server's.
export function describe(status, code, message, details) {
  if (status === 0) return t('error.offline');
  if (code && has(`error.${code}`)) return t(`error.${code}`, details);
  if (has(`error.status.${status}`)) {
    const max = details && details.maxBytes ? Math.round(details.maxBytes / (1024 * 1024)) : 10;
    return t(`error.status.${status}`, { max });
  }
  return message || t('error.unknown');
}

async function toError(resp) {
  let body = {};
  try { body = await resp.json(); } catch { /* not JSON */ }
  const e = body.error || {};
  return new ApiError(resp.status, e.code, describe(resp.status, e.code, e.message, e.details), e.details);
}

export async function request(method, path, { body, idempotencyKey, cache = true } = {}) {
  const init = { method, headers: headers(idempotencyKey ? { 'Idempotency-Key': idempotencyKey } : {}) };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers['Content-Type'] = 'application/json';
  }
  let resp;
  try {
    resp = await fetch(path, init);
  } catch {
    if (method === 'GET' && cache && self.caches) {
      const hit = await (await caches.open(CACHE)).match(path);
      if (hit) {
        events.dispatchEvent(new Event('stale'));
        return hit.json();
      }
    }
    throw new ApiError(0, 'offline', t('error.offline'));
  }
  if (resp.status === 401 && auth.get()) {
    await auth.clear();
    events.dispatchEvent(new Event('signedout'));
  }
  if (!resp.ok) throw await toError(resp);
  events.dispatchEvent(new Event('fresh'));
  if (method === 'GET' && cache && self.caches) {
    const copy = resp.clone();
    caches.open(CACHE).then((c) => c.put(path, copy)).catch(() => {});
  }
  return resp.status === 204 ? null : resp.json();
}

export const get = (path, opts) => request('GET', path, opts);
export const post = (path, body, opts) => request('POST', path, { ...opts, body });
export const put = (path, body, opts) => request('PUT', path, { ...opts, body });

// A file the API serves with the same access rules as its post: fetched with the token.
export async function blobUrl(path) {
  const resp = await fetch(path, { headers: headers() });
  if (!resp.ok) throw await toError(resp);
  return URL.createObjectURL(await resp.blob());
}

// Multipart upload with progress (fetch cannot report upload progress).
export function upload(path, form, { idempotencyKey, onProgress } = {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', path);
    for (const [k, v] of Object.entries(headers({ 'Idempotency-Key': idempotencyKey }))) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress?.(e.loaded / e.total); };
    xhr.onerror = () => reject(new ApiError(0, 'offline', t('error.offline')));
    xhr.onload = () => {
      let body = {};
      try { body = JSON.parse(xhr.responseText || '{}'); } catch { /* not JSON */ }
      if (xhr.status >= 200 && xhr.status < 300) return resolve(body);
      const e = body.error || {};
      reject(new ApiError(xhr.status, e.code, describe(xhr.status, e.code, e.message, e.details), e.details));
    };
    xhr.send(form);
  });
}

export const newKey = () => (crypto.randomUUID ? crypto.randomUUID()
  : [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, '0')).join(''));
