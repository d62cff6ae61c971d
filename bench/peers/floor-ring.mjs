// Workload i, row "shared ring": the design README proposes for the engine–worker boundary, tried
// here with trusted code and no isolate. It carries what the "+ msgpackr" row carries (every field
// of each request read the way the engine reads it, the worker answering each with a respond command
// that the I/O thread reads back), but without piscina, event objects or msgpackr: the I/O thread
// writes the fields of a loop turn's requests straight into shared memory and wakes the worker with
// Atomics.notify; the worker reads them into the flat list an isolate would get, writes its answers
// into shared memory and wakes the I/O thread, which waits with Atomics.waitAsync (no message, no
// task object). Two batches may be in flight, as in webdat.
import { Worker } from 'node:worker_threads';
import uWS from 'uWebSockets.js';
import { SLOTS, SLOT_BYTES, CTL, Writer, Reader } from './floor-ring-memory.mjs';
import { answer } from './answer.mjs';

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

function flush() {
  scheduled = false;
  if (queue.length === 0 || sent - read >= SLOTS) return;
  const batch = queue;
  queue = [];
  const w = new Writer(requests(sent % SLOTS));
  w.u32(batch.length);
  for (const p of batch) {
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

uWS.App().get('/*', (res, req) => {
  const headers = [];
  req.forEach((k, v) => { headers.push(k, v); });
  const p = {
    res, aborted: false, id: nextId++, headers,
    fields: [req.getCaseSensitiveMethod(), req.getUrl(), req.getQuery() ?? '', String.fromCharCode.apply(null, new Uint8Array(res.getRemoteAddressAsText())), '127.0.0.1'],
  };
  res.onAborted(() => { p.aborted = true; });
  open.set(p.id, p);
  queue.push(p);
  schedule();
}).listen('127.0.0.1', Number(process.argv[2] ?? 0), (token) => {
  if (!token) throw new Error('floor-ring: listen failed');
  process.stdout.write(`peer listening on http://127.0.0.1:${uWS.us_socket_local_port(token)}\n`);
});

