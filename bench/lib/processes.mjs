import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';

// Every process the bench starts goes through here, so that whatever happens (a workload throws,
// Ctrl-C, an uncaught error) each of them is killed before the bench exits: a forgotten server would
// keep a port and a core busy for the other engineers on this machine.

const live = new Set();
const TAIL = 8192;

function keepTail(buf, chunk) {
  const s = buf + chunk;
  return s.length > TAIL ? s.slice(-TAIL) : s;
}

/** Children of a pid (Linux), read without spawning anything so it also works inside an exit handler. */
export function childPids(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    try {
      return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).trim().split(/\s+/).filter(Boolean).map(Number);
    } catch {
      return [];
    }
  }
}

function descendants(pid) {
  const out = [];
  for (const c of childPids(pid)) out.push(c, ...descendants(c));
  return out;
}

function killTree(pid, signal) {
  for (const p of [...descendants(pid), pid]) {
    try { process.kill(p, signal); } catch { /* already gone */ }
  }
}

/**
 * Where servers and load generators run while a side-by-side workload is measured: each server (all
 * its processes and threads) on CPU 0, its load on CPU 1. Left to the scheduler on this 2-core
 * machine, the CPU per request of one contender varied by up to ±20% from run to run (which core the
 * load generator, the I/O thread and the worker shared); placed, by about ±5%. Every contender gets
 * the same single core, which costs webdat the parallelism of its worker thread, not its CPU per request.
 */
let placement = null;
export function placeOnCpus(on) {
  placement = on ? { server: '0', load: '1' } : null;
}

/**
 * Starts a process with piped output. `opts.role` ('server' or 'load') places it while placeOnCpus is on. Every function in `handle.lineListeners` receives each stdout
 * line; stdout and stderr tails are kept for error messages.
 */
export function startProcess(label, command, args, opts = {}) {
  const cpu = placement === null || opts.role === undefined ? null : placement[opts.role];
  const proc = spawn(cpu === null ? command : 'taskset', cpu === null ? args : ['-c', cpu, command, ...args], {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const handle = {
    label,
    proc,
    pid: proc.pid,
    stdout: '',
    stderr: '',
    exited: false,
    exitCode: null,
    lineListeners: new Set(),
  };
  let partial = '';
  proc.stdout.setEncoding('utf8');
  proc.stdout.on('data', (chunk) => {
    handle.stdout = keepTail(handle.stdout, chunk);
    const parts = (partial + chunk).split('\n');
    partial = parts.pop();
    for (const line of parts) for (const l of handle.lineListeners) l(line);
  });
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (chunk) => { handle.stderr = keepTail(handle.stderr, chunk); });
  handle.done = new Promise((resolve) => {
    proc.on('exit', (code, signal) => {
      handle.exited = true;
      handle.exitCode = code ?? signal;
      live.delete(handle);
      resolve(handle.exitCode);
    });
  });
  proc.on('error', (err) => { handle.stderr = keepTail(handle.stderr, String(err)); });
  live.add(handle);
  return handle;
}

/** Resolves with every match of `re` once `count` stdout lines matched; rejects on exit or timeout. */
export function waitForLines(handle, re, count, ms = 60_000) {
  return new Promise((resolve, reject) => {
    const matches = [];
    const cleanup = () => { clearTimeout(timer); handle.lineListeners.delete(onLine); };
    const onLine = (line) => {
      const m = re.exec(line);
      if (!m) return;
      matches.push({ match: m, at: performance.now() });
      if (matches.length >= count) { cleanup(); resolve(matches); }
    };
    const timer = setTimeout(() => { cleanup(); reject(new Error(`${handle.label}: timed out after ${ms} ms waiting for ${count} line(s) matching ${re} (got ${matches.length})\n${handle.stderr.slice(-2000)}`)); }, ms);
    handle.lineListeners.add(onLine);
    handle.done.then((code) => { cleanup(); reject(new Error(`${handle.label} exited (${code}) before it was ready\nstdout: ${handle.stdout.slice(-1000)}\nstderr: ${handle.stderr.slice(-2000)}`)); });
  });
}

/** Waits until a TCP connect to 127.0.0.1:port succeeds (for peers that print nothing when ready). */
export async function waitForPort(handle, port, ms = 30_000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (handle.exited) throw new Error(`${handle.label} exited (${handle.exitCode}) before it was ready\n${handle.stderr.slice(-2000)}`);
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`${handle.label}: port ${port} did not open within ${ms} ms`);
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** SIGTERM, then SIGKILL of the whole tree after `graceMs`. */
export async function stopProcess(handle, graceMs = 5000) {
  if (handle.exited) return handle.exitCode;
  const tree = descendants(handle.pid);
  try { handle.proc.kill('SIGTERM'); } catch { /* gone */ }
  const timer = setTimeout(() => killTree(handle.pid, 'SIGKILL'), graceMs);
  const code = await handle.done;
  clearTimeout(timer);
  // A grandchild (webdat's engine) must not outlive its parent, whatever the parent did.
  for (const p of tree) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
  return code;
}

export async function stopAll() {
  await Promise.all([...live].map((h) => stopProcess(h)));
}

function killAllSync() {
  for (const h of live) killTree(h.pid, 'SIGKILL');
  live.clear();
}

let installed = false;
export function installCleanup() {
  if (installed) return;
  installed = true;
  process.on('exit', killAllSync);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => {
      process.stderr.write(`\nbench: ${sig}, stopping every process it started\n`);
      killAllSync();
      process.exit(130);
    });
  }
  process.on('uncaughtException', (err) => {
    process.stderr.write(`bench: ${err.stack ?? err}\n`);
    killAllSync();
    process.exit(1);
  });
  process.on('unhandledRejection', (err) => {
    process.stderr.write(`bench: ${err?.stack ?? err}\n`);
    killAllSync();
    process.exit(1);
  });
}

/** Resident memory of a process in bytes, from /proc (VmRSS). */
export function rssBytes(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(status);
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

/** CPU time (user + system) of a process in seconds, from /proc/<pid>/stat. */
export function cpuSeconds(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
