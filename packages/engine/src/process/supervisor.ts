import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ACTIVITY_FILE_ENV, readActivity } from '@webdat/sandbox';
import type { ServeOptions } from '../cli.js';

// `webdat serve` is this small process around the engine process (SPEC §5): V8 can fail in ways
// isolated-vm cannot contain, so the engine is restarted at once when it dies, the server whose
// callbacks were running is named, and a server that keeps killing the engine is left inactive.

const BIN = fileURLToPath(new URL('../../bin/webdat.js', import.meta.url));
/** exit codes of the engine that mean "your input is wrong": restarting would not help */
const FATAL_EXITS = new Set([2, 3]);
const QUARANTINE_AFTER = 3;
const DEATH_WINDOW_MS = 60_000;
/**
 * A worker busy in one server's turn for this long is hung. A turn's calls are bounded by the CPU
 * limit (limits.cpuMs, at most 60 s) plus a slice: a call cut at the limit and the call that reads
 * what its microtasks left fit twice over, and the watchdog waits longer than that (SPEC §5).
 */
const HANG_MS = 2 * 60_000 + 10_000;

function say(msg: string): void {
  process.stderr.write(`webdat supervisor: ${msg}\n`);
}

/** Removes --password from the engine's argv; it travels in the environment instead (not in `ps`). */
function engineArgs(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--password') { i++; continue; }
    if (argv[i].startsWith('--password=')) continue;
    out.push(argv[i]);
  }
  return out;
}

export function runSupervisor(argv: string[], opts: ServeOptions): Promise<number> {
  const deaths = new Map<string, number[]>();
  const disabled = new Set<string>();
  let child: ChildProcess | null = null;
  let stopping = false;
  let rapid = 0;
  const activityDir = fs.mkdtempSync(path.join(os.tmpdir(), 'webdat-activity-'));
  const activityFile = path.join(activityDir, 'lanes');
  const env: NodeJS.ProcessEnv = { ...process.env, WEBDAT_ROLE: 'engine', [ACTIVITY_FILE_ENV]: activityFile };
  if (opts.password !== undefined) env.WEBDAT_TLS_PASSWORD = opts.password;

  return new Promise<number>((resolve) => {
    const start = () => {
      let hangTimer: NodeJS.Timeout | null = null;
      const startedAt = Date.now();
      // A new engine starts with every lane idle.
      fs.writeFileSync(activityFile, '');
      child = spawn(process.execPath, ['--no-node-snapshot', BIN, ...engineArgs(argv)], {
        env: { ...env, WEBDAT_DISABLED: JSON.stringify([...disabled]) },
        stdio: 'inherit',
      });
      hangTimer = setInterval(() => {
        const now = Date.now();
        for (const { server, since } of readActivity(activityFile)) {
          if (now - since > HANG_MS) {
            say(`engine hung in callbacks of server "${server}" for over ${HANG_MS / 1000} s; killing it`);
            child?.kill('SIGKILL');
            return;
          }
        }
      }, 1000);
      hangTimer.unref();
      child.on('exit', (code, signal) => {
        if (hangTimer) clearInterval(hangTimer);
        child = null;
        if (stopping || (code === 0 && signal === null)) { resolve(code ?? 0); return; }
        if (code !== null && FATAL_EXITS.has(code)) { resolve(code); return; }
        const culprits = [...new Set(readActivity(activityFile).map((a) => a.server))];
        say(`engine died (${signal ?? `exit ${code}`})` + (culprits.length ? ` while running callbacks of ${culprits.map((c) => `"${c}"`).join(', ')}` : '') + '; restarting');
        const now = Date.now();
        for (const name of culprits) {
          const recent = (deaths.get(name) ?? []).filter((t) => now - t < DEATH_WINDOW_MS);
          recent.push(now);
          deaths.set(name, recent);
          if (recent.length >= QUARANTINE_AFTER && !disabled.has(name)) {
            disabled.add(name);
            say(`server "${name}" brought the engine down ${recent.length} times within ${DEATH_WINDOW_MS / 1000} s; it stays inactive until webdat is restarted`);
          }
        }
        // Back off only when the engine dies right after start with nobody to blame (a crash loop).
        rapid = culprits.length === 0 && now - startedAt < 2000 ? rapid + 1 : 0;
        setTimeout(start, rapid === 0 ? 0 : Math.min(5000, 250 * 2 ** rapid));
      });
    };
    const forward = (signal: NodeJS.Signals) => {
      stopping = true;
      if (child) child.kill(signal);
      else resolve(0);
    };
    process.on('SIGINT', () => forward('SIGINT'));
    process.on('SIGTERM', () => forward('SIGTERM'));
    start();
  }).finally(() => fs.rmSync(activityDir, { recursive: true, force: true }));
}
