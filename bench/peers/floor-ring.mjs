// Workloads i and o, row "shared ring": the design README proposes for the engine–worker boundary,
// tried here with trusted code and no isolate. It carries what the "+ msgpackr" row carries (every
// field of each request read the way the engine reads it, the worker answering each with a respond
// command that the I/O thread reads back; a WebSocket message's client id and bytes, answered with the
// message sent back), but without piscina, event objects or msgpackr: the I/O thread writes the fields
// of a loop turn's requests and messages straight into shared memory and wakes the worker with
// Atomics.notify; the worker reads them into what an isolate would get (a message as a string),
// writes its answers into shared memory and wakes the I/O thread, which waits with Atomics.waitAsync
// (no message, no task object) and sends an echoed message from a view of that memory. Two batches
// may be in flight, as in webdat.
import { Worker } from 'node:worker_threads';
import uWS from 'uWebSockets.js';
import { SLOTS, SLOT_BYTES, CTL, Record, Writer, Reader } from './floor-ring-memory.mjs';
import { answer } from './answer.mjs';
import { peerAddress } from './peer-address.mjs';

const memory = { ctl: new SharedArrayBuffer(64), data: new SharedArrayBuffer(SLOTS * 2 * SLOT_BYTES) };
const ctl = new Int32Array(memory.ctl);
const requests = (slot) => new Uint8Array(memory.data, slot * SLOT_BYTES, SLOT_BYTES);
const answers = (slot) => new Uint8Array(memory.data, (SLOTS + slot) * SLOT_BYTES, SLOT_BYTES);
new Worker(new URL('./floor-ring-worker.mjs', import.meta.url), { workerData: memory });

let queue = [];
/** batches sent and batches whose answers were read */
let sent = 0;
let read = 0;
let scheduled = false;
let waiting = false;
let nextId = 1;
const open = new Map();
/** WebSocket connections by client id, as the engine keeps them */
const clients = new Map();
let connections = 0;

function flush() {
  scheduled = false;
  if (queue.length === 0 || sent - read >= SLOTS) return;
  const batch = queue;
  queue = [];
  const w = new Writer(requests(sent % SLOTS));
  w.u32(batch.length);
  for (const p of batch) {
    if (p.ws !== undefined) {
      w.u32(Record.message);
      w.str(p.client);
      w.raw(p.data);
      continue;
    }
    w.u32(Record.request);
    w.u32(p.id);
    for (const s of p.fields) w.str(s);
    w.u32(p.headers.length);
    for (const s of p.headers) w.str(s);
  }
  sent++;
  Atomics.store(ctl, CTL.sent, sent);
  Atomics.notify(ctl, CTL.sent);
  wait();
}

/** Reads every batch answered so far, then waits for the next while any is in flight. */
function wait() {
  if (waiting || read === sent) return;
  const answered = Atomics.load(ctl, CTL.answered);
  if (answered > read) {
    while (read < answered) {
      const r = new Reader(answers(read % SLOTS));
      const n = r.u32();
      for (let i = 0; i < n; i++) {
        if (r.u32() === Record.message) {
          const client = r.str();
          clients.get(client)?.send(r.raw(), false);
          continue;
        }
        const id = r.u32();
        const status = r.str();
        const h = r.u32();
        const headers = [];
        for (let j = 0; j < h; j++) headers.push(r.str());
        const body = r.str();
        const p = open.get(id);
        open.delete(id);
        answer(p, status, headers, body);
      }
      read++;
    }
    schedule();
    if (read === sent) return;
  }
  const w = Atomics.waitAsync(ctl, CTL.answered, read);
  // Not async: the worker answered between the load above and this call.
  if (!w.async) { setImmediate(wait); return; }
  waiting = true;
  w.value.then(() => { waiting = false; wait(); });
}

function schedule() {
  if (scheduled || queue.length === 0 || sent - read >= SLOTS) return;
  scheduled = true;
  setImmediate(flush);
}

uWS.App().ws('/echo', {
  // the engine reads the peer address once per connection, into the client id
  upgrade(res, req, context) {
    const client = `${peerAddress(res)}#${++connections}`;
    res.upgrade({ client }, req.getHeader('sec-websocket-key'), req.getHeader('sec-websocket-protocol'), req.getHeader('sec-websocket-extensions'), context);
  },
  open(ws) { clients.set(ws.getUserData().client, ws); },
  close(ws) { clients.delete(ws.getUserData().client); },
  message(ws, message) {
    // uWS reuses the message's memory after this returns: it is copied into the batch's record now.
    queue.push({ ws, client: ws.getUserData().client, data: new Uint8Array(message).slice() });
    schedule();
  },
}).get('/*', (res, req) => {
  const headers = [];
  req.forEach((k, v) => { headers.push(k, v); });
  const p = {
    res, aborted: false, id: nextId++, headers,
    fields: [req.getCaseSensitiveMethod(), req.getUrl(), req.getQuery() ?? '', peerAddress(res), '127.0.0.1'],
  };
  res.onAborted(() => { p.aborted = true; });
  open.set(p.id, p);
  queue.push(p);
  schedule();
}).listen('127.0.0.1', Number(process.argv[2] ?? 0), (token) => {
  if (!token) throw new Error('floor-ring: listen failed');
  process.stdout.write(`peer listening on http://127.0.0.1:${uWS.us_socket_local_port(token)}\n`);
});

