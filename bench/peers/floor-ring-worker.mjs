// The worker of workloads i and o's "shared ring" row (floor-ring.mjs): waits for a batch with
// Atomics.wait, reads each request into the flat list an isolate would get and each message into the
// string an isolate would get, answers them as a callback would (the hello-world respond command; the
// message sent back), and wakes the I/O thread.
import { workerData } from 'node:worker_threads';
import { HELLO } from '../lib/payloads.mjs';
import { SLOTS, SLOT_BYTES, CTL, Record, Writer, Reader } from './floor-ring-memory.mjs';

const ctl = new Int32Array(workerData.ctl);
const HEADERS = ['content-type', 'text/plain'];
let done = 0;
for (;;) {
  Atomics.wait(ctl, CTL.sent, done);
  const sent = Atomics.load(ctl, CTL.sent);
  while (done < sent) {
    const r = new Reader(new Uint8Array(workerData.data, (done % SLOTS) * SLOT_BYTES, SLOT_BYTES));
    const w = new Writer(new Uint8Array(workerData.data, (SLOTS + done % SLOTS) * SLOT_BYTES, SLOT_BYTES));
    const n = r.u32();
    w.u32(n);
    for (let i = 0; i < n; i++) {
      if (r.u32() === Record.message) {
        const client = r.str();
        const text = r.str();
        w.u32(Record.message);
        w.str(client);
        w.str(text);
        continue;
      }
      const flat = [1, r.u32()];
      for (let f = 0; f < 5; f++) flat.push(r.str());
      const h = r.u32();
      flat.push(h);
      for (let j = 0; j < h; j++) flat.push(r.str());
      w.u32(Record.request);
      w.u32(flat[1]);
      w.str('200 OK');
      w.u32(HEADERS.length);
      for (const s of HEADERS) w.str(s);
      w.str(HELLO);
    }
    done++;
    Atomics.store(ctl, CTL.answered, done);
    Atomics.notify(ctl, CTL.answered);
  }
}
