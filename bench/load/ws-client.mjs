// WebSocket load generator, run as its own process so it never shares an event loop with a server.
// Usage: node ws-client.mjs '<json options>'; prints one line `WS_JSON {...}` and exits.
//   echo:      `connections` clients, each with one 64-byte text message in flight; counts echoes.
//   broadcast: `connections` clients; client 0 sends a message, the server sends it to everyone;
//              the next message leaves once all clients got the previous one (closed loop).
// Every phase is bounded in time: connecting, the measured window, and the drain after it.
// `client`: 'raw' (default, see raw-ws.mjs for why) or 'ws' (the `ws` library's client).
import WebSocket from 'ws';
import { connect, textFrame } from './raw-ws.mjs';
import { percentile } from '../lib/stats.mjs';

const opts = JSON.parse(process.argv[2]);
const { mode, url, connections, seconds, size = 64, client = 'raw' } = opts;
const CONNECT_MS = 30_000;
const STALL_MS = 5_000;
const now = () => performance.now();

/** Both clients behind one shape: { send(prepared), close() }, `prepare(text)` made once per message. */
const prepare = client === 'ws' ? (text) => text : textFrame;
function openClient(target, onMessage) {
  if (client !== 'ws') return connect(target, onMessage);
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(target, { perMessageDeflate: false });
    ws.on('message', onMessage);
    ws.once('open', () => resolve({ send: (m) => ws.send(m), close: () => ws.terminate() }));
    ws.once('error', reject);
  });
}

/** Per-connection message handlers, set by the mode once every connection is open. */
const handlers = Array.from({ length: connections }, () => () => {});

function connectAll() {
  return new Promise((resolve, reject) => {
    const sockets = [];
    let open = 0;
    let started = 0;
    const timer = setTimeout(() => reject(new Error(`only ${open}/${connections} connections opened within ${CONNECT_MS} ms`)), CONNECT_MS);
    // A bounded number of handshakes at once, so a thousand clients do not hit the server's accept
    // queue in one burst (that would measure SYN retries, not the server).
    const next = () => {
      if (started >= connections) return;
      const i = started++;
      openClient(url, (data) => handlers[i](data)).then((c) => {
        sockets[i] = c;
        open++;
        if (open === connections) { clearTimeout(timer); resolve(sockets); } else next();
      }, (err) => { clearTimeout(timer); reject(err); });
    };
    for (let i = 0; i < Math.min(50, connections); i++) next();
  });
}

function closeAll(sockets) {
  for (const c of sockets) c.close();
}

async function echo(sockets) {
  const message = prepare('e'.repeat(size));
  const latencies = [];
  const sentAt = new Float64Array(sockets.length);
  let received = 0;
  let bad = 0;
  let inFlight = 0;
  const start = now();
  const end = start + seconds * 1000;
  let finish;
  const finished = new Promise((r) => { finish = r; });
  sockets.forEach((ws, i) => {
    handlers[i] = (data) => {
      const t = now();
      inFlight--;
      if (data.length !== size) bad++;
      if (t <= end) { received++; latencies.push(t - sentAt[i]); }
      if (t < end) { sentAt[i] = t; inFlight++; ws.send(message); } else if (inFlight === 0) finish();
    };
  });
  sockets.forEach((ws, i) => { sentAt[i] = now(); inFlight++; ws.send(message); });
  await Promise.race([finished, new Promise((r) => setTimeout(r, seconds * 1000 + STALL_MS))]);
  const elapsed = Math.min(now(), end) - start;
  return {
    rate: received / (elapsed / 1000),
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    messages: received,
    errors: bad + inFlight,
  };
}

async function broadcast(sockets) {
  const n = sockets.length;
  const latencies = [];
  let seq = 0;
  let got = 0;
  let sentAt = 0;
  let lost = 0;
  let stall = null;
  const start = now();
  const end = start + seconds * 1000;
  let finish;
  const finished = new Promise((r) => { finish = r; });
  const send = () => {
    seq++;
    got = 0;
    sentAt = now();
    const head = `b${seq}:`;
    sockets[0].send(prepare(head + 'x'.repeat(size - head.length)));
    clearTimeout(stall);
    // A delivery that never comes (a client skipped under backpressure) must not hang the run.
    stall = setTimeout(() => { lost += n - got; if (now() < end) send(); else finish(); }, STALL_MS);
  };
  for (let i = 0; i < n; i++) {
    handlers[i] = (data) => {
      if (data.length !== size) return;
      const s = Number(data.toString('latin1', 1, data.indexOf(58)));
      if (s !== seq) return;
      if (++got === n) {
        const t = now();
        if (t <= end) latencies.push(t - sentAt);
        if (t < end) send(); else { clearTimeout(stall); finish(); }
      }
    };
  }
  send();
  await finished;
  const elapsed = end - start;
  return {
    rate: (latencies.length * n) / (elapsed / 1000),
    broadcastsPerSec: latencies.length / (elapsed / 1000),
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    messages: latencies.length * n,
    errors: lost,
  };
}

const cpu0 = process.cpuUsage();
const sockets = await connectAll();
// Let the server finish what a new connection starts (webdat runs onWebSocketOpen) before measuring.
await new Promise((r) => setTimeout(r, 200));
const cpuStart = process.cpuUsage(cpu0);
const t0 = now();
const result = mode === 'echo' ? await echo(sockets) : await broadcast(sockets);
const cpu = process.cpuUsage(cpu0);
const busy = (cpu.user + cpu.system - cpuStart.user - cpuStart.system) / 1000 / (now() - t0);
closeAll(sockets);
process.stdout.write(`WS_JSON ${JSON.stringify({ ...result, clientCpu: busy })}\n`);
process.exit(0);
