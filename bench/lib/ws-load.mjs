import path from 'node:path';
import { BENCH } from './contenders.mjs';
import { startProcess, stopProcess } from './processes.mjs';

const CLIENT = path.join(BENCH, 'load/ws-client.mjs');

/** Runs the WebSocket load client in its own process; resolves with its result line. */
export async function wsLoad(options) {
  const h = startProcess('ws-client', process.execPath, [CLIENT, JSON.stringify(options)], { cwd: BENCH, role: 'load' });
  const watchdog = setTimeout(() => stopProcess(h, 1000), (options.seconds + 60) * 1000);
  const code = await h.done;
  clearTimeout(watchdog);
  const line = h.stdout.split('\n').find((l) => l.startsWith('WS_JSON '));
  if (!line) throw new Error(`ws client failed (${code}) against ${options.url}\n${h.stderr.slice(-2000)}`);
  return JSON.parse(line.slice('WS_JSON '.length));
}
