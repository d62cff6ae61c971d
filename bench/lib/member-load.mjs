import { httpLoad } from './http-load.mjs';
import { wsLoad } from './ws-load.mjs';
import { HELLO, WS_MESSAGE_BYTES } from './payloads.mjs';

// How the side-by-side workloads load one contender (a fleet member) and check it first. A load is
// `(seconds) => (member) => result`, with `ops` the operations counted for CPU per operation.

/** An HTTP load of `path` at 64 connections; `bodyFile` is POSTed as JSON. */
export const httpMemberLoad = (path, bodyFile) => (seconds) => async (m) => {
  const r = await httpLoad({ url: m.server.url + path, seconds, connections: 64, bodyFile });
  return { ...r, ops: r.requests };
};

/** A WebSocket load of `mode` (echo or broadcast) on the route of that name. */
export const wsMemberLoad = (mode, connections, client) => (seconds) => async (m) => {
  const url = m.server.url.replace(/^http/, 'ws') + '/' + mode;
  const r = await wsLoad({ mode, url, connections, seconds, size: WS_MESSAGE_BYTES, client });
  return { ...r, ops: r.messages };
};

/** Every member answers GET / with the hello-world text, or the workload stops before any load. */
export async function checkHello(fleet) {
  for (const m of fleet) {
    const r = await fetch(m.server.url + '/');
    const text = await r.text();
    if (r.status !== 200 || text !== HELLO) throw new Error(`${m.label}: GET / answered ${r.status} ${JSON.stringify(text.slice(0, 80))}`);
  }
}
