import { spawn, type ChildProcess } from 'node:child_process';
import { tempDir } from './webdat.ts';
import { freePort } from './free-port.ts';

/**
 * A real `redis-server` of the test's own, on loopback, without persistence unless `args` ask for it
 * (SPEC §12 tests); `password` sets `requirepass` and goes into `url`.
 */
export interface RedisServer {
  port: number;
  url: string;
  /** SIGKILL, as a crash; resolves once it has exited */
  kill(): Promise<void>;
  /** starts it again on the same port */
  restart(): Promise<void>;
}


function launch(port: number, dir: string, args: string[]): Promise<ChildProcess> {
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`redis-server did not start:\n${out}`)); }, 20_000);
    proc.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('Ready to accept connections')) { clearTimeout(t); resolve(proc); }
    });
    proc.stderr!.on('data', (d) => { out += d; });
    proc.once('exit', (code) => { clearTimeout(t); reject(new Error(`redis-server exited (${code}):\n${out}`)); });
  });
}

export async function startRedis(opts: { args?: string[]; password?: string } = {}): Promise<RedisServer> {
  const port = await freePort();
  const dir = tempDir();
  const args = [...(opts.args ?? []), ...(opts.password === undefined ? [] : ['--requirepass', opts.password])];
  let proc = await launch(port, dir, args);
  process.once('exit', () => proc.kill('SIGKILL'));
  return {
    port,
    url: `redis://${opts.password === undefined ? '' : `:${opts.password}@`}127.0.0.1:${port}`,
    kill: () => new Promise((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) { resolve(); return; }
      proc.once('exit', () => resolve());
      proc.kill('SIGKILL');
    }),
    restart: async () => { proc = await launch(port, dir, args); },
  };
}
