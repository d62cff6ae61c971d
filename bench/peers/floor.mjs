// Workloads i and o: hello world (i) and WebSocket echo on /echo (o) through the fixed parts of
// webdat's architecture (SPEC §1) one at a time, with trusted code and no isolate, to show what each
// part costs on this machine:
//   next-turn  uWS answers on the next loop turn, as an answer from a worker must be written
//   hop        + every loop turn's requests go to a piscina worker thread and come back
//   events     + each request or message is read into an event object the way the engine reads it
//   codec      + the events travel as msgpackr messages of @webdat/protocol and the worker answers
//                with the commands a callback would produce (respond; send and done), which are
//                decoded and checked like webdat's
// webdat itself adds the isolate and the engine's bookkeeping (server lookup, limits, counters).
// floor-ring.mjs carries what `codec` carries through shared memory instead of piscina and msgpackr.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import uWS from 'uWebSockets.js';
import { Piscina } from 'piscina';
import { CommandKind, EventKind, INFO_FIELDS, PROTOCOL_VERSION, TaskKind, WsOp, decodeBatchResult, encode } from '@webdat/protocol';
import { HELLO } from '../lib/payloads.mjs';
import { answer } from './answer.mjs';
import { peerAddress } from './peer-address.mjs';

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
// Events in flight by id. Not a Map: with ids that only grow, set and deleted once per event, a Map
// made this peer's every young-generation collection take 4-5 ms instead of 1 and promote megabytes
// (node --trace-gc; p99 15-22 ms against 2.7-3.3, 2 µs more CPU per request), which no engine
// needs to pay. webdat's own ledger measured the same either way (in-flight.ts).
const waiting = {};
/** WebSocket connections by client id, as the engine keeps them */
const clients = new Map();
let connections = 0;
const utf8 = new TextDecoder();

const PLAIN = ['content-type', 'text/plain'];
// webdat sends the server's info channels with every batch; so does this.
const INFO = { ...Object.fromEntries(INFO_FIELDS.map((k) => [k, 0])), server_running: 1 };

function flush() {
  scheduled = false;
  if (queue.length === 0 || inFlight >= MAX_IN_FLIGHT) return;
  const batch = queue;
  queue = [];
  if (pool === null) {
    for (const p of batch) reply(p);
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
      for (const p of batch) { if (p.event !== null) delete waiting[p.event.id]; reply(p); }
    } else {
      for (const c of decodeBatchResult(bytes).results[0].commands) {
        if (c.c === CommandKind.wsSend) { clients.get(c.client)?.send(c.data, c.op === WsOp.binary); continue; }
        const p = waiting[c.id];
        delete waiting[c.id];
        if (c.c === CommandKind.respond) answer(p, `${c.status} ${c.reason}`, c.headers, c.body);
      }
    }
    schedule();
  });
}

/** The answer of the stages that carry no commands: hello world, or the message echoed. */
function reply(p) {
  if (p.ws === undefined) answer(p, '200 OK', PLAIN, HELLO);
  else if (!p.user.closed) p.ws.send(p.event === null ? p.data : p.event.data);
}

function schedule() {
  if (scheduled || queue.length === 0 || inFlight >= MAX_IN_FLIGHT) return;
  scheduled = true;
  setImmediate(flush);
}

uWS.App().ws('/echo', {
  // webdat reads the peer address once per connection, into the client id
  upgrade(res, req, context) {
    const client = `${peerAddress(res)}#${++connections}`;
    res.upgrade({ client, closed: false }, req.getHeader('sec-websocket-key'), req.getHeader('sec-websocket-protocol'), req.getHeader('sec-websocket-extensions'), context);
  },
  open(ws) { clients.set(ws.getUserData().client, ws); },
  close(ws) { ws.getUserData().closed = true; clients.delete(ws.getUserData().client); },
  message(ws, message) {
    const p = { ws, user: ws.getUserData(), data: null, event: null };
    if (level >= 2) {
      p.event = { k: EventKind.wsText, id: nextId++, client: p.user.client, data: utf8.decode(message) };
      waiting[p.event.id] = p;
    } else p.data = message.slice(0);
    queue.push(p);
    schedule();
  },
}).get('/*', (res, req) => {
  const p = { res, aborted: false, event: null };
  res.onAborted(() => { p.aborted = true; });
  if (level >= 2) {
    const headers = [];
    req.forEach((k, v) => { headers.push(k, v); });
    p.event = {
      k: EventKind.http, id: nextId++, method: req.getCaseSensitiveMethod(), uri: req.getUrl(), query: req.getQuery() ?? '', headers, body: null,
      clientAddress: peerAddress(res), serverAddress: '127.0.0.1',
    };
    waiting[p.event.id] = p;
  }
  queue.push(p);
  schedule();
}).listen('127.0.0.1', Number(process.argv[2] ?? 0), (token) => {
  if (!token) throw new Error('floor: listen failed');
  process.stdout.write(`peer listening on http://127.0.0.1:${uWS.us_socket_local_port(token)}\n`);
});
