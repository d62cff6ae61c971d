import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { childPids, cpuSeconds, freePort, startProcess, stopProcess, waitForLines, waitForPort } from './processes.mjs';

// How each contender is started. Every one is a separate process on 127.0.0.1 and comes back as
// { name, url, pid, stop() }; webdat is started exactly as a user would, through its CLI.

export const BENCH = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const ROOT = path.resolve(BENCH, '..');
const WEBDAT_BIN = path.join(ROOT, 'packages/engine/bin/webdat.js');
const PEER_READY = /peer listening on (http:\/\/\S+)/;
const WEBDAT_READY = /server "([^"]+)" listening on (https?:\/\/\S+)/;

export async function nodePeer(name, script, ...args) {
  const h = startProcess(name, process.execPath, [path.join(BENCH, 'peers', script), '0', ...args], { cwd: BENCH, role: 'server' });
  const [{ match }] = await waitForLines(h, PEER_READY, 1, 20_000);
  return { name, url: match[1], pid: h.pid, stop: () => stopProcess(h) };
}

async function workerdPeer(name) {
  const mod = await import('workerd');
  const bin = mod.default?.default ?? mod.default;
  const port = await freePort();
  const h = startProcess(name, bin, ['serve', path.join(BENCH, 'peers/workerd/config.capnp'), '--socket-addr', `http=127.0.0.1:${port}`], { cwd: BENCH, role: 'server' });
  await waitForPort(h, port);
  return { name, url: `http://127.0.0.1:${port}`, pid: h.pid, stop: () => stopProcess(h) };
}

/**
 * Starts `webdat serve` with `args` and waits for `servers` readiness lines.
 * Returns the readiness times (ms since the spawn), every server's URL and the engine's pid.
 */
export async function startWebdat({ name = 'webdat', args, servers = 1, readyMs = 120_000, env = {} }) {
  const t0 = performance.now();
  const h = startProcess(name, process.execPath, [WEBDAT_BIN, 'serve', ...args], { cwd: ROOT, env, role: 'server' });
  const lines = await waitForLines(h, WEBDAT_READY, servers, readyMs);
  const pids = childPids(h.pid);
  const startCpuSeconds = [h.pid, ...pids].reduce((sum, pid) => sum + cpuSeconds(pid), 0);
  const urls = new Map(lines.map(({ match }) => [match[1], match[2]]));
  const readyAt = lines.map(({ at }) => at - t0);
  const [enginePid] = pids;
  if (enginePid === undefined) throw new Error('webdat: could not find the engine process under the supervisor');
  return {
    name,
    url: lines[0].match[2],
    urls,
    readyAt,
    /** CPU of the supervisor and its engine processes when the last readiness line came */
    startCpuSeconds,
    pid: enginePid,
    /** every engine process (several with --processes), read anew each time */
    pids: () => childPids(h.pid),
    handle: h,
    stop: () => stopProcess(h, 15_000),
  };
}

/** Writes a webdat config file in a fresh temporary folder and returns its path. */
export function writeConfig(config) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'webdat-bench-'));
  const file = path.join(dir, 'webdat.json');
  fs.writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}

export function callbacksPath(file) {
  return path.join(BENCH, 'callbacks', file);
}

export const webdatServe = (callbacks) => () => startWebdat({ args: ['--callbacks', callbacksPath(callbacks), '--port', '0', '--host', '127.0.0.1'] });

export const HTTP_CONTENDERS = [
  { name: 'uws', label: 'raw uWS.js', start: () => nodePeer('uws', 'uws.mjs') },
  { name: 'webdat', label: 'webdat', start: webdatServe('http.js') },
  { name: 'node-http', label: 'node:http', start: () => nodePeer('node-http', 'node-http.mjs') },
  { name: 'fastify', label: 'fastify', start: () => nodePeer('fastify', 'fastify.mjs') },
  { name: 'workerd', label: 'workerd', start: () => workerdPeer('workerd') },
];

export function wsContenders(callbacks) {
  return [
    { name: 'uws', label: 'raw uWS.js', start: () => nodePeer('uws', 'uws.mjs') },
    { name: 'webdat', label: 'webdat', start: webdatServe(callbacks) },
    { name: 'ws', label: 'ws library', start: () => nodePeer('ws', 'ws-server.mjs') },
  ];
}

/**
 * Workload i: raw uWS.js, the fixed parts of webdat's architecture added one at a time (peers/floor.mjs),
 * webdat, and fastify, whose CPU per request issue 12 sets as webdat's goal.
 */
export const FLOOR_CONTENDERS = [
  { name: 'uws', label: 'raw uWS.js', start: () => nodePeer('uws', 'uws.mjs') },
  { name: 'fastify', label: 'fastify', start: () => nodePeer('fastify', 'fastify.mjs') },
  { name: 'next-turn', label: 'answer next turn', start: () => nodePeer('next-turn', 'floor.mjs', 'next-turn') },
  { name: 'hop', label: '+ piscina hop', start: () => nodePeer('hop', 'floor.mjs', 'hop') },
  { name: 'events', label: '+ event objects', start: () => nodePeer('events', 'floor.mjs', 'events') },
  { name: 'codec', label: '+ msgpackr', start: () => nodePeer('codec', 'floor.mjs', 'codec') },
  { name: 'ring', label: 'shared ring instead', start: () => nodePeer('ring', 'floor-ring.mjs') },
  { name: 'webdat', label: 'webdat', start: webdatServe('http.js') },
];

/** Workload o: workload d's echo through the same parts (peers/floor.mjs and floor-ring.mjs serve /echo too), and the ws library. */
export const WS_FLOOR_CONTENDERS = [
  { name: 'uws', label: 'raw uWS.js', start: () => nodePeer('uws', 'uws.mjs') },
  { name: 'ws', label: 'ws library', start: () => nodePeer('ws', 'ws-server.mjs') },
  ...FLOOR_CONTENDERS.filter((c) => ['next-turn', 'hop', 'events', 'codec', 'ring'].includes(c.name)),
  { name: 'webdat', label: 'webdat', start: webdatServe('echo.js') },
];
