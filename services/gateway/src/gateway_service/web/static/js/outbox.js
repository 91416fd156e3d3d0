// Proofs posted without a connection wait here (IndexedDB, files included) and are sent once the
// phone is back online, each with the Idempotency-Key it got when it was posted, so a retry after
// a lost answer never posts twice.
import { upload } from './api.js';

const DB = 'rally-outbox';
const STORE = 'proofs';

function open() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: 'key' });
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function run(mode, fn) {
  const db = await open();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(STORE, mode);
    const req = fn(tx.objectStore(STORE));
    tx.oncomplete = () => { db.close(); resolve(req?.result); };
    tx.onerror = () => { db.close(); reject(tx.error); };
  });
}

export const queued = () => run('readonly', (s) => s.getAll());
export const enqueue = (item) => run('readwrite', (s) => s.put(item));
const drop = (key) => run('readwrite', (s) => s.delete(key));

export function formOf(item) {
  const form = new FormData();
  if (item.text) form.append('text', item.text);
  if (item.rating) form.append('rating', String(item.rating));
  if (item.file) form.append('file', item.file, item.fileName || 'photo');
  return form;
}

let flushing = null;

// Send what waits; returns [{item, ok, error}] for each one that got an answer.
export function flush() {
  flushing ||= (async () => {
    const results = [];
    try {
      for (const item of await queued()) {
        try {
          await upload(`/v1/tasks/${item.taskId}/posts`, formOf(item), { idempotencyKey: item.key });
          await drop(item.key);
          results.push({ item, ok: true });
        } catch (e) {
          if (e.offline || e.status === 401 || e.status === 429 || e.status >= 500) break;  // later, in order
          await drop(item.key);  // refused for good (e.g. the task is done): not retried forever
          results.push({ item, ok: false, error: e });
        }
      }
    } finally { flushing = null; }
    return results;
  })();
  return flushing;
}
