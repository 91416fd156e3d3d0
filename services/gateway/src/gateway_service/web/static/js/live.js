// Live events of the API (Server-Sent Events). The stream wants the bearer token in a header, which
// EventSource cannot send, so it is read with fetch; after a drop it reconnects and resumes from
// the last event id.
import { auth } from './api.js';

export function openStream(path, { onEvent, onReady, onState }) {
  let lastId = '';
  let stopped = false;
  let controller = null;
  let wait = 1000;
  let timer = null;
  let open = false;

  const state = (s) => onState?.(s);

  function dispatch(block) {
    let type = 'message';
    let id = '';
    const data = [];
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) continue;
      const i = line.indexOf(':');
      const field = i < 0 ? line : line.slice(0, i);
      const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
      if (field === 'event') type = value;
      else if (field === 'id') id = value;
      else if (field === 'data') data.push(value);
    }
    if (!data.length) return;
    let payload;
    try { payload = JSON.parse(data.join('\n')); } catch { return; }
    if (id) lastId = id;
    if (type === 'ready') {
      wait = 1000;
      state('live');
      onReady?.(payload.data || {});
    } else onEvent?.(payload);
  }

  async function connect() {
    if (stopped) return;
    const a = auth.get();
    if (!a) return;
    controller = new AbortController();
    const headers = { Authorization: `Bearer ${a.token}`, Accept: 'text/event-stream' };
    if (lastId) headers['Last-Event-ID'] = lastId;
    open = true;
    try {
      const resp = await fetch(path, { headers, signal: controller.signal, cache: 'no-store' });
      if (!resp.ok || !resp.body) throw new Error(`stream ${resp.status}`);
      const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value.replace(/\r\n?/g, '\n');
        let cut;
        while ((cut = buf.indexOf('\n\n')) >= 0) {
          dispatch(buf.slice(0, cut));
          buf = buf.slice(cut + 2);
        }
      }
    } catch { /* dropped: reconnect below */ }
    open = false;
    if (stopped) return;
    state('reconnecting');
    timer = setTimeout(connect, wait);
    wait = Math.min(wait * 2, 15000);
  }

  const now = () => {
    if (stopped) return;
    wait = 100;
    if (open) controller.abort();  // its loop reconnects
    else { clearTimeout(timer); connect(); }
  };
  addEventListener('online', now);
  connect();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
      removeEventListener('online', now);
      controller?.abort();
    },
    // Drop the connection and open it again at once (the last event id carries over).
    reconnect: now,
  };
}
