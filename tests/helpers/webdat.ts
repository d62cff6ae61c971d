import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = path.join(ROOT, 'packages/engine/bin/webdat.js');
export const FIXTURES = path.join(ROOT, 'tests/fixtures');

export interface Running {
  proc: ChildProcess;
  /** first server's port */
  port: number;
  /** every readiness line's URL, by server name */
  urls: Map<string, string>;
  url: string;
  stdout(): string;
  stderr(): string;
  /** waits until stderr or stdout matches */
  waitFor(re: RegExp, ms?: number): Promise<string>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

const READY = /server "([^"]+)" listening on (https?:\/\/[^\s]+)/g;

/**
 * Starts `webdat serve` as a user would (the real bin, a real process, real sockets) and resolves
 * once `expectServers` readiness lines were printed. Rejects with the output if it exits first.
 */
export function startWebdat(args: string[], opts: { env?: NodeJS.ProcessEnv; expectServers?: number; cwd?: string; group?: boolean } = {}): Promise<Running> {
  const proc = spawn(process.execPath, [BIN, 'serve', ...args], {
    // `group`: its own process group, which a test signals as a terminal's Ctrl-C does (kill(-pid)).
    detached: opts.group === true,
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, WEBDAT_LOG_LEVEL: 'info', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const listeners: Array<() => void> = [];
  proc.stdout!.on('data', (d) => { out += d; listeners.forEach((l) => l()); });
  proc.stderr!.on('data', (d) => { err += d; listeners.forEach((l) => l()); });
  const expect = opts.expectServers ?? 1;
  const waitFor = (re: RegExp, ms = 20_000) => new Promise<string>((resolve, reject) => {
    const check = () => {
      const m = re.exec(out + '\n' + err);
      if (m) { clearTimeout(t); listeners.splice(listeners.indexOf(check), 1); resolve(m[0]); }
    };
    const t = setTimeout(() => reject(new Error(`timed out waiting for ${re}\nstdout:\n${out}\nstderr:\n${err}`)), ms);
    listeners.push(check);
    check();
  });
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`webdat exited (${code}) before it was ready\nstdout:\n${out}\nstderr:\n${err}`));
    proc.once('exit', onExit);
    const check = () => {
      const urls = new Map<string, string>();
      for (const m of out.matchAll(READY)) urls.set(m[1], m[2]);
      if (urls.size < expect) return;
      listeners.splice(listeners.indexOf(check), 1);
      proc.off('exit', onExit);
      const url = [...urls.values()][0];
      resolve({
        proc, urls, url, port: Number(new URL(url).port),
        stdout: () => out, stderr: () => err, waitFor,
        stop: (signal = 'SIGTERM') => new Promise((res) => {
          if (proc.exitCode !== null || proc.signalCode !== null) { res(proc.exitCode); return; }
          const kill = setTimeout(() => proc.kill('SIGKILL'), 15_000);
          proc.once('exit', (code) => { clearTimeout(kill); res(code); });
          proc.kill(signal);
        }),
      });
    };
    listeners.push(check);
  });
}

/** Runs `webdat serve` expecting it to fail; resolves with its exit code and output. */
export function runWebdatExpectingExit(args: string[], opts: { env?: NodeJS.ProcessEnv; ms?: number } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d) => { stdout += d; });
    proc.stderr.on('data', (d) => { stderr += d; });
    // SIGTERM first: the supervisor passes it on, where SIGKILL would leave its engine running.
    const t = setTimeout(() => {
      proc.kill('SIGTERM');
      setTimeout(() => proc.kill('SIGKILL'), 5000).unref();
      reject(new Error(`still running after ${opts.ms ?? 60_000} ms\n${stdout}\n${stderr}`));
    }, opts.ms ?? 60_000);
    proc.on('exit', (code) => { clearTimeout(t); resolve({ code, stdout, stderr }); });
  });
}

/** A fresh temporary folder holding the given files; callbacks tests write their modules here. */
export function tempDir(files: Record<string, string> = {}): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'webdat-test-'));
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

/** Serves one callbacks source on a free loopback port. */
export async function serveSource(source: string, extraArgs: string[] = [], env?: NodeJS.ProcessEnv): Promise<Running & { dir: string }> {
  const dir = tempDir({ 'callbacks.js': source });
  const r = await startWebdat(['--callbacks', path.join(dir, 'callbacks.js'), '--port', '0', '--host', '127.0.0.1', ...extraArgs], { env });
  return Object.assign(r, { dir });
}

/** Serves one callbacks source as server "default" of a config file, for keys that have no CLI flag. */
export async function serveConfig(source: string, server: Record<string, unknown> = {}, extraArgs: string[] = [], top: Record<string, unknown> = {}): Promise<Running & { dir: string }> {
  const config = { ...top, servers: [{ name: 'default', host: '127.0.0.1', port: 0, callbacks: 'callbacks.js', ...server }] };
  const dir = tempDir({ 'callbacks.js': source, 'webdat.json': JSON.stringify(config) });
  const r = await startWebdat(['--config', path.join(dir, 'webdat.json'), ...extraArgs]);
  return Object.assign(r, { dir });
}
