import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

// A hostile tenant's clients, run in a child process so that the work of receiving its floods does
// not slow the test process that measures the quiet server's probes. Each mode runs for `seconds`
// and prints one JSON line of what it saw.
//
//   http URL SECONDS CONCURRENCY       GETs in a loop; counts "status x-webdat-error"
//   ws-send URL SECONDS CONNECTIONS    each connection sends "flood" then "marker", waits for the
//                                      answer "ack" (or the close), reconnects; counts the floods sent
//   ws-storm URL SECONDS CLIENTS       CLIENTS connections listen; one sends "storm" every 200 ms

export interface AttackReport {
  statuses?: Record<string, number>;
  floods?: number;
  storms?: number;
  received?: number;
}

async function http(url: string, until: number, concurrency: number): Promise<AttackReport> {
  const statuses: Record<string, number> = {};
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (Date.now() < until) {
      const r = await fetch(url);
      await r.arrayBuffer();
      const key = `${r.status} ${r.headers.get('x-webdat-error') ?? ''}`.trim();
      statuses[key] = (statuses[key] ?? 0) + 1;
    }
  }));
  return { statuses };
}

function open(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

async function wsSend(url: string, until: number, connections: number): Promise<AttackReport> {
  let floods = 0;
  await Promise.all(Array.from({ length: connections }, async () => {
    while (Date.now() < until) {
      const ws = await open(url);
      await new Promise<void>((resolve) => {
        ws.on('message', (data) => { if (data.toString() === 'ack') ws.close(); });
        ws.on('error', () => {});
        ws.once('close', () => resolve());
        ws.send('flood');
        ws.send('marker');
        floods++;
      });
    }
  }));
  return { floods };
}

async function wsStorm(url: string, until: number, clients: number): Promise<AttackReport> {
  let received = 0;
  const all = await Promise.all(Array.from({ length: clients }, () => open(url)));
  for (const ws of all) ws.on('message', () => { received++; });
  let storms = 0;
  while (Date.now() < until) {
    all[0].send('storm');
    storms++;
    await new Promise((r) => setTimeout(r, 200));
  }
  await Promise.all(all.map((ws) => new Promise((r) => { ws.once('close', r); ws.close(); })));
  return { storms, received };
}

/** Runs one attack in a child process; resolves with its report once it ended by itself. */
export function attack(mode: 'http' | 'ws-send' | 'ws-storm', url: string, seconds: number, n: number): Promise<AttackReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), mode, url, String(seconds), String(n)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    const kill = setTimeout(() => child.kill('SIGKILL'), (seconds + 30) * 1000);
    child.once('exit', (code) => {
      clearTimeout(kill);
      if (code === 0) resolve(JSON.parse(out) as AttackReport);
      else reject(new Error(`attacker ${mode} exited with ${code}: ${out}`));
    });
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [mode, url, seconds, n] = process.argv.slice(2);
  const until = Date.now() + Number(seconds) * 1000;
  const run = mode === 'http' ? http : mode === 'ws-send' ? wsSend : wsStorm;
  run(url, until, Number(n)).then((r) => { process.stdout.write(JSON.stringify(r) + '\n'); process.exit(0); }, (err) => { console.error(err); process.exit(1); });
}
