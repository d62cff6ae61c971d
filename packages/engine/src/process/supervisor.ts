import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ACTIVITY_FILE_ENV, readActivity } from '@webdat/sandbox';
import type { ServeOptions } from '../cli.js';
import { Blame, DEATH_WINDOW_MS, QUARANTINE_AFTER, SUSPECTS_ENV } from './blame.js';

// `webdat serve` is this small process around the engine process (SPEC §5): V8 can fail in ways
// isolated-vm cannot contain, so the engine is restarted at once when it dies, the server whose
// callbacks were running is named, and a server that keeps killing the engine is left inactive
// (blame.ts decides which server that is).

const BIN = fileURLToPath(new URL('../../bin/webdat.js', import.meta.url));
/** exit codes of the engine that mean "your input is wrong": restarting would not help */
const FATAL_EXITS = new Set([2, 3]);
/**
 * A worker busy in one server's turn for this long is hung. A turn's calls are bounded by the CPU
 * limit (limits.cpuMs, at most 60 s) plus a slice: a call cut at the limit and the call that reads
 * what its microtasks left fit twice over, and the watchdog waits longer than that (SPEC §5).
 */
const HANG_MS = 2 * 60_000 + 10_000;

function quoted(names: string[]): string {
  return names.map((n) => `"${n}"`).join(', ');
}

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
  const blame = new Blame();
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
      let hung: string[] | null = null;
      const startedAt = Date.now();
      // A new engine starts with every lane idle.
      fs.writeFileSync(activityFile, '');
      child = spawn(process.execPath, ['--no-node-snapshot', BIN, ...engineArgs(argv)], {
        env: { ...env, WEBDAT_DISABLED: JSON.stringify([...blame.disabled]), [SUSPECTS_ENV]: JSON.stringify(blame.suspects(startedAt)) },
        stdio: 'inherit',
      });
      hangTimer = setInterval(() => {
        const now = Date.now();
        const stuck = readActivity(activityFile).filter((a) => now - a.since > HANG_MS).map((a) => a.server);
        if (stuck.length === 0 || hung !== null) return;
        // The servers stuck are the ones to blame, not those that happened to run beside them.
        hung = stuck;
        say(`engine hung in callbacks of ${quoted(stuck)} for over ${HANG_MS / 1000} s; killing it`);
        child?.kill('SIGKILL');
      }, 1000);
      hangTimer.unref();
      child.on('exit', (code, signal) => {
        if (hangTimer) clearInterval(hangTimer);
        child = null;
        if (stopping || (code === 0 && signal === null)) { resolve(code ?? 0); return; }
        if (code !== null && FATAL_EXITS.has(code)) { resolve(code); return; }
        const culprits = hung ?? [...new Set(readActivity(activityFile).map((a) => a.server))];
        say(`engine died (${signal ?? `exit ${code}`})` + (culprits.length ? ` while running callbacks of ${quoted(culprits)}` : '') + '; restarting');
        const now = Date.now();
        const verdict = blame.death(culprits, now);
        if (verdict.suspects.length > 1) {
          say(`${quoted(verdict.suspects)} were running together, so none is blamed; until one is named alone, each runs apart from the others until the engine has run ${DEATH_WINDOW_MS / 1000} s without dying`);
        } else if (verdict.quarantined !== null) {
          say(`server "${verdict.quarantined}" brought the engine down ${verdict.count} times within ${DEATH_WINDOW_MS / 1000} s; it stays inactive until webdat is restarted`);
        } else if (verdict.guilty !== null) {
          say(`server "${verdict.guilty}" was the only one running: death ${verdict.count} of ${QUARANTINE_AFTER} within ${DEATH_WINDOW_MS / 1000} s before it is left inactive`);
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
