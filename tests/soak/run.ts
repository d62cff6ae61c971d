import fs from 'node:fs';
import path from 'node:path';
import WebSocket from 'ws';
import { startWebdat, tempDir } from '../helpers/webdat.ts';
import { RawConnection } from '../fuzz/tcp.ts';
import { responseLength } from '../fuzz/http.fuzz.ts';
import { EngineWatch, secondHalfGrowth, type Sample } from './engine-watch.ts';
import { freePort } from '../helpers/free-port.ts';

// `pnpm soak`: three quiet servers carry over a thousand keep-alive HTTP and WebSocket connections
// while a fourth, on the same port, loops into its time limit, breaks its memory limit, loses its
// worker thread and takes the engine down. Every request and message must be answered (by its own
// server), answered with a documented 5xx, or lost with a connection that an engine death closed.
// Within each engine life (until the fourth server is told to kill it), the floors of RSS and open
// descriptors must stay flat over its second half.
// SOAK_SECONDS (default 600) sets the length; SOAK_LOG and SOAK_TRACE name files for webdat's stderr and
// for every sample with the soak's events; traffic goes to 127.0.0.1 only; it stops by itself.

const SECONDS = Number(process.env.SOAK_SECONDS ?? 600);
const QUIET = ['a', 'b', 'c'];
const HTTP_PER_SERVER = 200;
const WS_PER_SERVER = 150;
/** An answer may take this long after the soak stops sending before its request counts as unanswered. */
const DRAIN_MS = 30_000;
/** A lost request is put down to an engine death logged this close to it (the log follows the exit). */
const DEATH_SLACK_MS = 5_000;
const DOCUMENTED = new Set(['timeout', 'memory', 'overloaded', 'canceled', 'internal', 'exception']);
const ENGINE_DEATHS = Math.max(3, Math.floor(SECONDS / 150));
/** engine processes sharing the port (`--processes`); the fourth server's faults hit whichever took its connection */
const PROCESSES = Number(process.env.SOAK_PROCESSES ?? 1);
/** SOAK_FAULTS=0: the quiet servers' traffic alone, one engine life, to see where memory settles (not a pass) */
const FAULTS = process.env.SOAK_FAULTS !== '0';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const jitter = (lo: number, hi: number) => lo + Math.random() * (hi - lo);


const quiet = (name: string) => `let n = 0;
export function onHTTPRequest(w, req, res) { res.data = '${name} ' + (++n) + ' ' + req.uri; return res; }
export function onWebSocketReceiveText(w, client, data) { w.webSocketSendText(client, '${name} ' + data); }
`;
const BAD = `const hoard = [];
export function onHTTPRequest(w, req, res) {
  if (req.uri === '/loop') for (;;) {}
  if (req.uri === '/memory') for (;;) hoard.push(new Array(1e6).fill(1));
  if (req.uri === '/crash') new Array(6e7).fill(0);
  res.data = 'bad ok';
  return res;
}
`;

interface Lost { server: string; sentAt: number; at: number; what: string }
const lost: Lost[] = [];
const problems: string[] = [];
const tally = {
  http: { sent: 0, ok: 0, documented: {} as Record<string, number>, lost: 0 },
  ws: { sent: 0, echoed: 0, lost: 0, workerLost: 0, eventLost: 0 },
  bad: { sent: 0, byAnswer: {} as Record<string, number>, lost: 0 },
  reconnects: 0,
};
const count = (o: Record<string, number>, k: string) => { o[k] = (o[k] ?? 0) + 1; };
const pending = new Set<{ server: string; sentAt: number; what: string }>();
/** the fourth server's answers with their times, for SOAK_TRACE */
const badAnswers: Array<{ t: number; answer: string }> = [];

function parse(buf: Buffer, len: number): { status: number; error: string | null; body: string } {
  const text = buf.subarray(0, len).toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  return {
    status: Number(text.slice(9, 12)),
    error: /\r\nx-webdat-error: *([^\r]+)/i.exec(text.slice(0, end))?.[1] ?? null,
    body: text.slice(end + 4),
  };
}

/** One request on a raw connection; null if the connection ended first. */
async function exchange(c: RawConnection, host: string, uri: string, extra = ''): Promise<ReturnType<typeof parse> | null> {
  c.received = Buffer.alloc(0);
  c.write(Buffer.from(`GET ${uri} HTTP/1.1\r\nHost: ${host}\r\n${extra}\r\n`));
  const len = await c.until(() => responseLength(c.received, false), 24 * 3600_000);
  return len === null ? null : parse(c.received, len);
}

let running = true;

async function httpClient(port: number, server: string, id: number): Promise<void> {
  let seq = 0;
  await sleep(jitter(0, 3000));
  while (running) {
    let c: RawConnection;
    try {
      c = await RawConnection.open(port);
    } catch {
      await sleep(200);
      continue;
    }
    while (running && c.ended === null) {
      const uri = `/r/${id}/${++seq}`;
      const req = { server, sentAt: Date.now(), what: `GET ${uri}` };
      tally.http.sent++;
      pending.add(req);
      const r = await exchange(c, `${server}.test`, uri);
      pending.delete(req);
      if (r === null) {
        lost.push({ ...req, at: Date.now() });
        tally.http.lost++;
        break;
      }
      if (r.status === 200) {
        if (new RegExp(`^${server} \\d+ ${uri}$`).test(r.body)) tally.http.ok++;
        else problems.push(`${server}: ${uri} answered with another body: ${JSON.stringify(r.body.slice(0, 80))}`);
      } else if (r.status >= 500 && r.error !== null && DOCUMENTED.has(r.error)) count(tally.http.documented, `${r.status} ${r.error}`);
      else problems.push(`${server}: ${uri} answered ${r.status} ${r.error ?? ''}`);
      await sleep(jitter(500, 1500));
    }
    c.socket.destroy();
    if (running) tally.reconnects++;
  }
}

async function wsClient(port: number, server: string, id: number): Promise<void> {
  await sleep(jitter(0, 3000));
  let seq = 0;
  while (running) {
    await new Promise<void>((done) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { headers: { host: `${server}.test` } });
      const out = new Map<string, { server: string; sentAt: number; what: string }>();
      let timer: NodeJS.Timeout | null = null;
      const send = () => {
        if (!running) return;
        const data = `${id}:${++seq}`;
        const req = { server, sentAt: Date.now(), what: `ws ${data}` };
        out.set(data, req);
        pending.add(req);
        tally.ws.sent++;
        ws.send(data);
        timer = setTimeout(send, jitter(1500, 2500));
      };
      ws.on('open', send);
      ws.on('message', (m) => {
        const text = m.toString();
        const data = text.slice(server.length + 1);
        const req = out.get(data);
        if (!text.startsWith(`${server} `) || req === undefined) { problems.push(`${server}: WebSocket echo from elsewhere: ${JSON.stringify(text.slice(0, 80))}`); return; }
        out.delete(data);
        pending.delete(req);
        tally.ws.echoed++;
      });
      ws.on('error', () => {});
      ws.on('close', (code, reason) => {
        if (timer) clearTimeout(timer);
        for (const req of out.values()) {
          pending.delete(req);
          // 1011 is the documented close of a connection whose message was lost with its worker
          // thread (`Worker Lost`) or with its isolate (`Event Lost`).
          if (code === 1011) { if (reason.toString() === 'Worker Lost') tally.ws.workerLost++; else tally.ws.eventLost++; continue; }
          lost.push({ ...req, at: Date.now(), what: `${req.what} (close ${code})` });
          tally.ws.lost++;
        }
        done();
      });
      stopHooks.add(() => { if (out.size === 0) ws.close(); else ws.on('message', () => { if (out.size === 0) ws.close(); }); });
    });
    if (running) { tally.reconnects++; await sleep(200); }
  }
}
const stopHooks = new Set<() => void>();

/** The fourth server's misbehaviour, on its own connections; returns the engine deaths it caused. */
async function faults(port: number, deaths: () => number, started: number, crashSent: number[]): Promise<void> {
  const host = 'bad.test';
  const one = async (uri: string, extra = '') => {
    let c: RawConnection;
    try { c = await RawConnection.open(port); } catch { count(tally.bad.byAnswer, 'refused (engine restarting)'); return; }
    const req = { server: 'bad', sentAt: Date.now(), what: `GET ${uri}` };
    tally.bad.sent++;
    pending.add(req);
    const r = await exchange(c, host, uri, extra);
    pending.delete(req);
    c.socket.destroy();
    if (r === null) { lost.push({ ...req, at: Date.now() }); tally.bad.lost++; return; }
    const answer = `${uri} ${r.status}${r.error ? ' ' + r.error : ''}`;
    count(tally.bad.byAnswer, answer);
    badAnswers.push({ t: Date.now(), answer });
  };
  // Evenly spaced, so that every life (the first and the last too) is as long as the others.
  const crashAt = Array.from({ length: ENGINE_DEATHS }, (_, k) => started + ((k + 1) / (ENGINE_DEATHS + 1)) * SECONDS * 1000);
  let tick = 0;
  while (running) {
    tick++;
    const next = crashAt[0];
    if (next !== undefined && Date.now() >= next) {
      crashAt.shift();
      const before = deaths();
      // The time limit may win the race on a slow machine (503 timeout); try again until it dies.
      for (let attempt = 0; attempt < 5 && deaths() === before && running; attempt++) {
        crashSent.push(Date.now());
        await one('/crash');
        for (let i = 0; i < 300 && deaths() === before; i++) await sleep(100);
      }
      continue;
    }
    // Breaches are spaced so that turns within the limits end the server's rest streak between them:
    // a server that only ever loops gets a ninth of a core, and its queue would outgrow the drain.
    void one(tick % 10 === 0 ? '/loop' : tick % 15 === 5 ? '/memory' : '/');
    if (tick % 45 === 20) void one('/', 'x-webdat-test-fault: exit\r\n');
    await sleep(1000);
  }
}

async function main(): Promise<number> {
  const port = await freePort();
  const adminPort = await freePort();
  const dir = tempDir({ 'a.js': quiet('a'), 'b.js': quiet('b'), 'c.js': quiet('c'), 'bad.js': BAD });
  const file = path.join(dir, 'webdat.json');
  fs.writeFileSync(file, JSON.stringify({
    servers: [
      ...QUIET.map((n) => ({ name: n, port, host: '127.0.0.1', hosts: [`${n}.test`], callbacks: `${n}.js` })),
      { name: 'bad', port, host: '127.0.0.1', hosts: ['bad.test'], callbacks: 'bad.js', limits: { timeoutMs: 1000, memoryMb: 32 } },
    ],
    workers: 2,
    processes: PROCESSES,
    admin: { port: adminPort, host: '127.0.0.1' },
  }));
  console.log(`webdat soak: ${SECONDS} s, ${PROCESSES} engine process${PROCESSES > 1 ? 'es' : ''}, port ${port}, ${QUIET.length * (HTTP_PER_SERVER + WS_PER_SERVER)} client connections, ${ENGINE_DEATHS} engine deaths planned`);
  const s = await startWebdat(['--config', file], { expectServers: 4, env: { WEBDAT_TEST_FAULTS: '1', WEBDAT_LOG_LEVEL: 'warn' } });
  const deathTimes: number[] = [];
  const workerLosses: number[] = [];
  s.proc.stderr!.on('data', (d: Buffer) => {
    const text = d.toString();
    for (const _ of text.matchAll(/webdat supervisor: engine (?:process \d+ \(pid \d+\) )?died/g)) deathTimes.push(Date.now());
    for (const _ of text.matchAll(/worker thread lost/g)) workerLosses.push(Date.now());
  });
  const watch = new EngineWatch(s.proc.pid!, 1000, `http://127.0.0.1:${adminPort}/metrics`);
  const started = Date.now();
  const clients: Promise<void>[] = [];
  QUIET.forEach((server, si) => {
    for (let i = 0; i < HTTP_PER_SERVER; i++) clients.push(httpClient(port, server, si * 1000 + i));
    for (let i = 0; i < WS_PER_SERVER; i++) clients.push(wsClient(port, server, si * 1000 + i));
  });
  const crashSent: number[] = [];
  const driver = FAULTS ? faults(port, () => deathTimes.length, started, crashSent) : Promise.resolve();
  const progress = setInterval(() => console.log(`  ${Math.round((Date.now() - started) / 1000)} s: ${tally.http.sent} requests, ${tally.ws.sent} messages, ${deathTimes.length} engine deaths`), 30_000);
  await sleep(SECONDS * 1000);
  running = false;
  const stoppedAt = Date.now();
  clearInterval(progress);
  for (const h of stopHooks) h();
  await Promise.race([Promise.all([...clients, driver]), sleep(DRAIN_MS)]);
  watch.stop();
  const unanswered = [...pending];
  const stderr = s.stderr();
  if (process.env.SOAK_LOG !== undefined) fs.writeFileSync(process.env.SOAK_LOG, stderr);
  // Every sample with the soak's events, times in ms since the start, to see what moves RSS.
  if (process.env.SOAK_TRACE !== undefined) {
    const rel = (t: number) => t - started;
    fs.writeFileSync(process.env.SOAK_TRACE, JSON.stringify({
      stoppedAt: rel(stoppedAt),
      lives: watch.lives.map((l) => ({ pid: l.pid, samples: l.samples.map((x) => ({ ...x, t: rel(x.t) })) })),
      metrics: watch.metrics.map((x) => ({ ...x, t: rel(x.t) })),
      deaths: deathTimes.map(rel), workerLosses: workerLosses.map(rel), crashSent: crashSent.map(rel),
      bad: badAnswers.map((b) => ({ ...b, t: rel(b.t) })),
    }));
  }
  await s.stop();
  fs.rmSync(dir, { recursive: true, force: true });

  const unexplained = lost.filter((l) => !deathTimes.some((d) => d >= l.sentAt - DEATH_SLACK_MS && d <= l.at + DEATH_SLACK_MS));
  for (const u of unanswered.slice(0, 10)) problems.push(`unanswered after ${DRAIN_MS / 1000} s of drain: ${u.server} ${u.what}`);
  for (const l of unexplained.slice(0, 10)) problems.push(`lost without an engine death: ${l.server} ${l.what} (sent ${l.sentAt - started} ms in, closed ${l.at - started} ms in)`);
  const quarantined = [...stderr.matchAll(/server "([^"]+)" brought the engine down/g)].map((m) => m[1]);
  for (const q of quarantined) if (q !== 'bad') problems.push(`innocent server "${q}" was quarantined`);
  if (deathTimes.length < 3) problems.push(FAULTS ? `only ${deathTimes.length} engine deaths` : 'SOAK_FAULTS=0: no faults, not a soak');

  const lives = watch.lives.map((whole) => {
    // A life is judged until the fourth server was told to kill it: dying of a memory bomb is the fault, not a leak.
    // A life that died is judged until the first bomb sent after the last death before its own (with
    // several processes, a bomb that killed the other one was followed by that death); a life that
    // lasted is judged until the soak stopped sending, since the drain closes every connection.
    const first = whole.samples[0].t;
    const last = whole.samples.at(-1)!.t;
    const died = last < stoppedAt - 3000;
    const since = Math.max(first, ...deathTimes.filter((d) => d <= last));
    const bomb = died ? crashSent.find((t) => t >= since && t <= last) ?? last : stoppedAt;
    const life = { pid: whole.pid, samples: whole.samples.filter((x) => x.t < bomb) };
    // Whole RSS is judged. The isolates' heaps the engine reports beside each sample are printed with
    // it: they are the tenants' memory on V8's schedule, and what mostly moves RSS within a life
    // (README, "Which RSS is judged"); subtracting them was tried and is unsound (they are the heaps
    // used, while RSS keeps what V8 committed after a collection).
    const rss = secondHalfGrowth(life, (x) => x.rssKiB);
    const withHeaps = life.samples.filter((x) => x.isolates !== undefined);
    const heapsMiB = (x: Sample | undefined) => x === undefined ? '?' : (Object.values(x.isolates!).reduce((n, b) => n + b, 0) / 1048576).toFixed(1);
    const mid = life.samples.length > 0 ? (life.samples[0].t + life.samples.at(-1)!.t) / 2 : 0;
    const heaps = `${heapsMiB(withHeaps.find((x) => x.t >= mid))}→${heapsMiB(withHeaps.at(-1))} MiB`;
    const fds = secondHalfGrowth(life, (x) => x.fds);
    const secs = life.samples.length > 0 ? Math.round((life.samples.at(-1)!.t - life.samples[0].t) / 1000) : 0;
    if (rss !== null && rss.growth >= 0.1) problems.push(`engine ${life.pid}: RSS grew ${(rss.growth * 100).toFixed(1)}% over the second half of its life`);
    if (fds !== null && fds.growth >= 0.1) problems.push(`engine ${life.pid}: open descriptors grew ${(fds.growth * 100).toFixed(1)}% over the second half of its life`);
    return { pid: life.pid, seconds: secs, rss, heaps, fds };
  });
  const pct = (g: { from: number; to: number; growth: number } | null, unit: string) => (g === null ? 'too short to judge' : `${g.from}→${g.to} ${unit} (${g.growth >= 0 ? '+' : ''}${(g.growth * 100).toFixed(1)}%)`);
  console.log(`\nsoak summary (${Math.round((Date.now() - started) / 1000)} s)`);
  console.log(`  HTTP to a, b, c: ${tally.http.sent} sent, ${tally.http.ok} answered 200 by their own server, documented 5xx ${JSON.stringify(tally.http.documented)}, ${tally.http.lost} lost with a connection an engine death closed`);
  console.log(`  WebSocket to a, b, c: ${tally.ws.sent} sent, ${tally.ws.echoed} echoed by their own server, ${tally.ws.workerLost} lost with a worker thread and ${tally.ws.eventLost} with an isolate (connection closed 1011), ${tally.ws.lost} lost with a connection an engine death closed`);
  console.log(`  bad server: ${tally.bad.sent} sent, ${tally.bad.lost} lost to engine deaths; answers ${JSON.stringify(tally.bad.byAnswer)}`);
  console.log(`  engine deaths ${deathTimes.length} (at ${deathTimes.map((d) => Math.round((d - started) / 1000) + ' s').join(', ')}), worker threads lost ${workerLosses.length}, reconnects ${tally.reconnects}, quarantined: ${quarantined.length ? quarantined.join(', ') : 'none'}`);
  const byServer = (xs: Array<{ server: string }>) => JSON.stringify(xs.reduce<Record<string, number>>((o, x) => { o[x.server] = (o[x.server] ?? 0) + 1; return o; }, {}));
  console.log(`  unanswered ${unanswered.length} ${byServer(unanswered)}, lost without an engine death ${unexplained.length} ${byServer(unexplained)}`);
  for (const line of stderr.split('\n').filter((l) => l.startsWith('webdat supervisor:'))) console.log(`  ${line}`);
  for (const l of lives) console.log(`  engine ${l.pid} (${l.seconds} s judged): RSS floor ${pct(l.rss, 'KiB')} (isolates' heaps over the second half ${l.heaps}), descriptors ${pct(l.fds, '')}`);
  for (const p of problems.slice(0, 30)) console.log(`  PROBLEM ${p}`);
  console.log(problems.length === 0 ? 'soak passed' : `soak FAILED (${problems.length} problems)`);
  return problems.length === 0 ? 0 : 1;
}

process.exit(await main());
