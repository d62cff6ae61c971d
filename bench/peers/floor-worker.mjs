// The worker side of workloads i and o (floor.mjs): echoes the count, or decodes the events and answers
// each with the commands a callback would produce (the hello-world response; the message sent back
// and the invocation's end), encoded like webdat's results.
import { move } from 'piscina';
import { CommandKind, EventKind, PROTOCOL_VERSION, WsOp, decodeTask, encode } from '@webdat/protocol';
import { HELLO } from '../lib/payloads.mjs';

const STATS = { heapUsed: 0, cpuTimeMs: 0, memoryRestarts: 0 };

export default function handle(bytes) {
  if (bytes.length === 1) return move(bytes);
  const task = decodeTask(bytes);
  const results = task.batches.map((b) => ({
    instance: b.instance,
    generation: b.generation,
    commands: b.events.flatMap((e) => e.k === EventKind.wsText
      ? [{ c: CommandKind.wsSend, client: e.client, op: WsOp.text, data: e.data }, { c: CommandKind.done, id: e.id, o: 'ok' }]
      : [{ c: CommandKind.respond, id: e.id, o: 'ok', status: 200, reason: 'OK', headers: ['content-type', 'text/plain'], body: HELLO }]),
    pending: [], backlog: 0, breachedMs: 0, stats: STATS,
  }));
  return move(encode({ v: PROTOCOL_VERSION, results, ringEnd: -1, outboxEnds: [], hold: false }));
}
