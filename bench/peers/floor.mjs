// Workload i: hello world through the fixed parts of webdat's architecture (SPEC §1) one at a time,
// with trusted code and no isolate, to show what each part costs on this machine:
//   next-turn  uWS answers on the next loop turn, as an answer from a worker must be written
//   hop        + every loop turn's requests go to a piscina worker thread and come back
//   events     + each request is read into an event object the way the engine reads it
//   codec      + the events travel as msgpackr messages of @webdat/protocol and the worker answers
//                with encoded respond commands, which are decoded and checked like webdat's
// webdat itself adds the isolate and the engine's bookkeeping (server lookup, limits, counters).
// floor-ring.mjs carries what `codec` carries through shared memory instead of piscina and msgpackr.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import uWS from 'uWebSockets.js';
import { Piscina } from 'piscina';
import { EventKind, INFO_FIELDS, PROTOCOL_VERSION, TaskKind, decodeBatchResult, encode } from '@webdat/protocol';
import { HELLO } from '../lib/payloads.mjs';
import { answer } from './answer.mjs';

const STAGES = ['next-turn', 'hop', 'events', 'codec'];
const stage = process.argv[3];
if (!STAGES.includes(stage)) throw new Error(`stage must be one of ${STAGES.join(', ')}`);
const level = STAGES.indexOf(stage);
// As many tasks in flight as webdat keeps per worker, so only the parts differ.
const MAX_IN_FLIGHT = 2;

const pool = level >= 1 ? new Piscina({
  filename: path.join(path.dirname(fileURLToPath(import.meta.url)), 'floor-worker.mjs'),
  minThreads: 1, maxThreads: 1, idleTimeout: Infinity, concurrentTasksPerWorker: MAX_IN_FLIGHT,
}) : null;

let queue = [];
let inFlight = 0;
let scheduled = false;
let nextId = 1;
const waiting = new Map();

const PLAIN = ['content-type', 'text/plain'];
// webdat sends the server's info channels with every batch; so does this.
const INFO = { ...Object.fromEntries(INFO_FIELDS.map((k) => [k, 0])), server_running: 1 };

function flush() {
  scheduled = false;
  if (queue.length === 0 || inFlight >= MAX_IN_FLIGHT) return;
  const batch = queue;
  queue = [];
  if (pool === null) {
    for (const p of batch) answer(p, '200 OK', PLAIN, HELLO);
    return;
  }
  inFlight++;
  let task;
  if (level < 3) task = new Uint8Array([batch.length]);
  else {
    task = encode({ v: PROTOCOL_VERSION, t: TaskKind.batch, batches: [{ instance: 1, generation: 1, info: INFO, events: batch.map((p) => p.event), cancel: [] }] });
  }
  pool.run(task, { transferList: [task.buffer] }).then((bytes) => {
    inFlight--;
    if (level < 3) {
      for (const p of batch) { if (p.event !== null) waiting.delete(p.event.id); answer(p, '200 OK', PLAIN, HELLO); }
    } else {
      for (const c of decodeBatchResult(bytes).results[0].commands) {
        const p = waiting.get(c.id);
        waiting.delete(c.id);
        answer(p, `${c.status} ${c.reason}`, c.headers, c.body);
      }
    }
    schedule();
  });
}

function schedule() {
  if (scheduled || queue.length === 0 || inFlight >= MAX_IN_FLIGHT) return;
  scheduled = true;
  setImmediate(flush);
}

uWS.App().get('/*', (res, req) => {
  const p = { res, aborted: false, event: null };
  res.onAborted(() => { p.aborted = true; });
  if (level >= 2) {
    const headers = [];
    req.forEach((k, v) => { headers.push(k, v); });
    p.event = {
      k: EventKind.http, id: nextId++, method: req.getCaseSensitiveMethod(), uri: req.getUrl(), query: req.getQuery() ?? '', headers, body: null,
      clientAddress: String.fromCharCode.apply(null, new Uint8Array(res.getRemoteAddressAsText())), serverAddress: '127.0.0.1',
    };
    waiting.set(p.event.id, p);
  }
  queue.push(p);
  schedule();
}).listen('127.0.0.1', Number(process.argv[2] ?? 0), (token) => {
  if (!token) throw new Error('floor: listen failed');
  process.stdout.write(`peer listening on http://127.0.0.1:${uWS.us_socket_local_port(token)}\n`);
});
