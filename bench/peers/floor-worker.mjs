// The worker side of workload i (floor.mjs): echoes the count, or decodes the events and answers each
// with the hello-world respond command a callback would produce, encoded like webdat's results.
import { move } from 'piscina';
import { CommandKind, PROTOCOL_VERSION, decodeTask, encode } from '@webdat/protocol';
import { HELLO } from '../lib/payloads.mjs';

const STATS = { heapUsed: 0, cpuTimeMs: 0, memoryRestarts: 0 };

export default function handle(bytes) {
  if (bytes.length === 1) return move(bytes);
  const task = decodeTask(bytes);
  const results = task.batches.map((b) => ({
    instance: b.instance,
    generation: b.generation,
    commands: b.events.map((e) => ({ c: CommandKind.respond, id: e.id, o: 'ok', status: 200, reason: 'OK', headers: ['content-type', 'text/plain'], body: HELLO })),
    pending: [], backlog: 0, breachedMs: 0, stats: STATS,
  }));
  return move(encode({ v: PROTOCOL_VERSION, results, ringEnd: -1, hold: false }));
}
