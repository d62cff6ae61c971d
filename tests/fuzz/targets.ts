import fs from 'node:fs';
import path from 'node:path';
import { startWebdat, tempDir } from '../helpers/webdat.ts';
import { fuzzProtocol } from './protocol.fuzz.ts';
import { fuzzWire } from './wire.fuzz.ts';
import { fuzzConfig } from './config.fuzz.ts';
import { fuzzHttp } from './http.fuzz.ts';
import { fuzzWebSocket } from './websocket.fuzz.ts';
import { Probe } from './probe.ts';

// Every fuzz target with its count; `pnpm fuzz` runs the full counts, the test suite a short run.

export interface Counts { protocol: number; wire: number; http: number; websocket: number; config: number }
export const FULL: Counts = { protocol: 1_000_000, wire: 1_000_000, http: 100_000, websocket: 100_000, config: 10_000 };
export const SHORT: Counts = { protocol: 3_000, wire: 3_000, http: 600, websocket: 600, config: 300 };

export interface Outcome { target: string; inputs: number; ms: number; detail?: Record<string, unknown>; problems: string[] }

const ECHO = `export function onHTTPRequest(w, req, res) {
  res.data = 'echo ' + req.method + ' ' + req.uri + ' ' + (typeof req.data === 'string' ? req.data.length : req.data.byteLength);
  return res;
}
export function onWebSocketReceiveText(w, client, data) { w.webSocketSendText(client, data); }
export function onWebSocketReceiveBinary(w, client, data) { w.webSocketSendBinary(client, data); }
`;
const PROBE = `export function onHTTPRequest(w, req, res) { res.data = 'probe ok'; return res; }\n`;

async function timed(target: string, run: () => number | Promise<{ inputs: number; detail: Record<string, unknown>; problems: string[] }>): Promise<Outcome> {
  const started = Date.now();
  const r = await run();
  const ms = Date.now() - started;
  return typeof r === 'number' ? { target, inputs: r, ms, problems: [] } : { target, inputs: r.inputs, ms, detail: r.detail, problems: r.problems };
}

/** Runs every target; in-process ones throw fast-check's report at the first failing input. */
export async function runFuzz(counts: Counts, seed: number, log: (o: Outcome) => void = () => {}): Promise<Outcome[]> {
  const out: Outcome[] = [];
  const record = (o: Outcome) => { out.push(o); log(o); };
  record(await timed('protocol decoders and guards', () => fuzzProtocol(counts.protocol, seed)));
  record(await timed('isolate wire reader', () => fuzzWire(counts.wire, seed)));
  record(await timed('config validation', () => fuzzConfig(counts.config, seed)));

  const dir = tempDir({ 'echo.js': ECHO, 'probe.js': PROBE });
  const file = path.join(dir, 'webdat.json');
  fs.writeFileSync(file, JSON.stringify({
    servers: [
      { name: 'echo', port: 0, host: '127.0.0.1', callbacks: 'echo.js', limits: { maxBodyBytes: 65536, maxMessageBytes: 65536 } },
      { name: 'probe', port: 0, host: '127.0.0.1', callbacks: 'probe.js' },
    ],
    workers: 2,
  }));
  const s = await startWebdat(['--config', file], { expectServers: 2, env: { WEBDAT_LOG_LEVEL: 'warn' } });
  try {
    const port = Number(new URL(s.urls.get('echo')!).port);
    const probe = new Probe(s.urls.get('probe')!, 'probe ok');
    const alive = () => (s.proc.exitCode === null && s.proc.signalCode === null && !/engine died/.test(s.stderr()) ? [] : [`webdat died or restarted its engine:\n${s.stderr().slice(-2000)}`]);
    const network = async (target: string, run: () => Promise<{ units: number; hangs: string[]; detail: Record<string, unknown> }>) => timed(target, async () => {
      const r = await run();
      probe.check();
      await probe.settle();
      return { inputs: r.units, detail: { ...r.detail, probes: probe.answered, slowestProbeMs: probe.slowestMs }, problems: [...r.hangs, ...probe.failures.splice(0), ...alive()] };
    });
    record(await network('HTTP over raw TCP', async () => {
      const { hangs, requests, ...detail } = await fuzzHttp({ port, hostName: '127.0.0.1', count: counts.http, seed, width: 256, probe });
      return { units: requests, hangs, detail };
    }));
    record(await network('WebSocket frames over raw TCP', async () => {
      const { hangs, frames, ...detail } = await fuzzWebSocket({ port, hostName: '127.0.0.1', count: counts.websocket, seed, width: 64, probe });
      return { units: frames, hangs, detail };
    }));
  } finally {
    await s.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return out;
}
