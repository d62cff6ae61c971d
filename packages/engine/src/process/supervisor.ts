import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ACTIVITY_FILE_ENV, readActivity } from '@webdat/protocol';
import type { ServeOptions } from './serve-options.js';
import { Blame, DEATH_WINDOW_MS, QUARANTINE_AFTER, SUSPECTS_ENV } from './blame.js';
import { MAX_PROCESSES } from '../config/processes.js';
import { Hub } from '../cluster/hub.js';
import { PROCESSES_ENV } from '../cluster/ipc-bus.js';

// `webdat serve` is this small process around the engine process (SPEC §5): V8 can fail in ways
// isolated-vm cannot contain, so the engine is restarted at once when it dies, the server whose
// callbacks were running is named, and a server that keeps killing the engine is left inactive
// (blame.ts decides which server that is).
// With `processes: N` (SPEC §12) it runs N engine processes sharing every port, each restarted on its
// own, joined by the hub (cluster/hub.ts) over their IPC channels. The first starts alone and the
// others once it serves, with the ports it got: so `port: 0` gives one port to all, and only the
// first checks that a port is free. With one process there is no IPC channel at all.

const BIN = fileURLToPath(new URL('../../bin/webdat.js', import.meta.url));
/** exit codes of the engine that mean "your input is wrong": restarting would not help */
const FATAL_EXITS = new Set([2, 3]);

function quoted(names: string[]): string {
  return names.map((n) => `"${n}"`).join(', ');
}

/**
 * `--processes`, else the config file's `processes`. The engine validates the file (an invalid one is
 * its to report), so only this key is read here: a whole validation would double the start of a
 * config with ten thousand servers.
 */
function processCount(opts: ServeOptions): number {
  if (opts.processes !== undefined) return opts.processes;
  if (opts.config === undefined) return 1;
  try {
    const n = (JSON.parse(fs.readFileSync(opts.config, 'utf8')) as { processes?: unknown }).processes;
    return typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= MAX_PROCESSES ? n : 1;
  } catch {
    return 1;
  }
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
  const processes = processCount(opts);
  const blame = new Blame();
  const children = new Map<number, ChildProcess>();
  const rapid = new Map<number, number>();
  let stopping = false;
  let exitCode = 0;
  let siblingsStarted = false;
  const activityDir = fs.mkdtempSync(path.join(os.tmpdir(), 'webdat-activity-'));
  // glibc gives each thread that allocates its own malloc arena, up to 8 per core, and keeps their
  // freed pages: an engine's I/O thread, worker threads and V8's helpers held 25-30 MiB more RSS, and
  // let it climb, than with two (measured with the soak, README "Fuzzing and soak"). The user's own
  // setting wins.
  const env: NodeJS.ProcessEnv = { MALLOC_ARENA_MAX: '2', ...process.env, WEBDAT_ROLE: 'engine', [PROCESSES_ENV]: String(processes) };
  if (opts.password !== undefined) env.WEBDAT_TLS_PASSWORD = opts.password;

  return new Promise<number>((resolve) => {
    const finish = () => { if (children.size === 0) resolve(exitCode); };
    const hub = processes === 1 ? null : new Hub(processes, {
      print: (line) => process.stdout.write(line + '\n'),
      started: (index) => {
        say(`engine process ${index} (pid ${children.get(index)?.pid}) serves`);
        if (index !== 0 || siblingsStarted) return;
        siblingsStarted = true;
        for (let i = 1; i < processes; i++) start(i);
      },
    });
    const name = (index: number, pid: number | undefined) => processes === 1 ? 'engine' : `engine process ${index} (pid ${pid})`;
    const start = (index: number) => {
      if (stopping) return;
      let hung: string[] | null = null;
      const startedAt = Date.now();
      const activityFile = path.join(activityDir, `lanes-${index}`);
      // A new engine starts with every lane idle.
      fs.writeFileSync(activityFile, '');
      const child = spawn(process.execPath, ['--no-node-snapshot', BIN, ...engineArgs(argv)], {
        env: {
          ...env, [ACTIVITY_FILE_ENV]: activityFile,
          WEBDAT_DISABLED: JSON.stringify([...blame.disabled]), [SUSPECTS_ENV]: JSON.stringify(blame.suspects(startedAt)),
        },
        stdio: hub === null ? 'inherit' : ['inherit', 'inherit', 'inherit', 'ipc'],
        serialization: 'advanced',
      });
      children.set(index, child);
      hub?.attach(index, child);
      const hangTimer = setInterval(() => {
        const now = Date.now();
        const stuckFor = readActivity(activityFile).filter((a) => now - a.since > a.bound);
        const stuck = stuckFor.map((a) => a.server);
        if (stuck.length === 0 || hung !== null) return;
        // The servers stuck are the ones to blame, not those that happened to run beside them.
        hung = stuck;
        say(`${name(index, child.pid)} hung in callbacks of ${quoted(stuck)} for over ${Math.min(...stuckFor.map((a) => a.bound)) / 1000} s (twice its CPU limit plus 10 s); killing it`);
        child.kill('SIGKILL');
      }, 1000);
      hangTimer.unref();
      child.on('exit', (code, signal) => {
        clearInterval(hangTimer);
        children.delete(index);
        hub?.detach(index);
        if (stopping || (hub === null && code === 0 && signal === null)) { exitCode = code ?? 0; finish(); return; }
        if (code !== null && FATAL_EXITS.has(code)) {
          // Input the engine refuses is refused for every process: webdat stops with its code.
          stopping = true;
          exitCode = code;
          for (const c of children.values()) c.kill('SIGTERM');
          finish();
          return;
        }
        const culprits = hung ?? [...new Set(readActivity(activityFile).map((a) => a.server))];
        say(`${name(index, child.pid)} died (${signal ?? `exit ${code}`})` + (culprits.length ? ` while running callbacks of ${quoted(culprits)}` : '') + '; restarting');
        const now = Date.now();
        const verdict = blame.death(culprits, now);
        if (verdict.suspects.length > 1) {
          say(`${quoted(verdict.suspects)} were running together, so none is blamed; until one is named alone, each runs apart from the others until the engine has run ${DEATH_WINDOW_MS / 1000} s without dying`);
        } else if (verdict.quarantined !== null) {
          say(`server "${verdict.quarantined}" brought the engine down ${verdict.count} times within ${DEATH_WINDOW_MS / 1000} s; it stays inactive until webdat is restarted`);
          hub?.quarantine(verdict.quarantined);
          hub?.quarantine(verdict.quarantined);
        } else if (verdict.guilty !== null) {
          say(`server "${verdict.guilty}" was the only one running: death ${verdict.count} of ${QUARANTINE_AFTER} within ${DEATH_WINDOW_MS / 1000} s before it is left inactive`);
        }
        // Back off only when the engine dies right after start with nobody to blame (a crash loop).
        const r = culprits.length === 0 && now - startedAt < 2000 ? (rapid.get(index) ?? 0) + 1 : 0;
        rapid.set(index, r);
        setTimeout(() => start(index), r === 0 ? 0 : Math.min(5000, 250 * 2 ** r));
      });
    };
    let signals = 0;
    const forward = (signal: NodeJS.Signals) => {
      stopping = true;
      // The first asks every engine to stop gracefully; a second (Ctrl-C again) ends them at once.
      for (const c of children.values()) c.kill(++signals === 1 ? signal : 'SIGKILL');
      finish();
    };
    process.on('SIGINT', () => forward('SIGINT'));
    process.on('SIGTERM', () => forward('SIGTERM'));
    start(0);
  }).finally(() => fs.rmSync(activityDir, { recursive: true, force: true }));
}
