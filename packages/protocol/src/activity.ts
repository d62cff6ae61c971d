import fs from 'node:fs';

// Tells the supervisor which server's callbacks each worker is running, so that when V8 takes the
// whole engine down (something isolated-vm cannot contain) the culprit can be named and quarantined,
// and a worker stuck in one batch can be found. The supervisor makes a file (ACTIVITY_FILE_ENV); each
// worker owns the fixed slot of its lane and overwrites it in place before and after every instance's
// batch: one pwrite, and no reader is woken. (Lines on a pipe woke the supervisor twice per batch:
// measured, hello world through the supervisor ran at ~80% of the engine alone.)

export const ACTIVITY_FILE_ENV = 'WEBDAT_ACTIVITY_FILE';
/** "B <ms since epoch> <hang bound ms> <server>" or "E", space-padded; server names are at most 64 ASCII characters */
const SLOT_BYTES = 112;
/**
 * A worker busy in one server's turn longer than twice its CPU limit per stretch (a call cut at the
 * limit and the call that reads what its microtasks left) plus this margin is hung (SPEC §5: the
 * watchdog waits longer than the largest cpuMs plus the scheduling slice).
 */
const HANG_MARGIN_MS = 10_000;
/** for a server whose limits this thread does not know: the largest cpuMs (60 s), twice, plus the margin */
const HANG_MAX_MS = 2 * 60_000 + HANG_MARGIN_MS;

export interface Activity {
  lane: number;
  server: string;
  /** when its current batch began (ms since the epoch, the engine's clock) */
  since: number;
  /** how long that batch may run before the worker counts as hung */
  bound: number;
}

const bounds = new Map<string, number>();

/** The server's longest synchronous stretch (min of cpuMs and timeoutMs) sets how long its turn may hold a worker. */
export function setHangBound(server: string, stretchMs: number): void {
  bounds.set(server, 2 * stretchMs + HANG_MARGIN_MS);
}

let fd = -1;
let slot = 0;
const line = Buffer.alloc(SLOT_BYTES);

/** Called once per worker thread with its lane; without the supervisor's file nothing is reported. */
export function openActivity(lane: number): void {
  const file = process.env[ACTIVITY_FILE_ENV];
  if (file === undefined) return;
  try {
    fd = fs.openSync(file, 'r+');
    slot = lane * SLOT_BYTES;
  } catch {
    fd = -1;
  }
}

function put(text: string): void {
  line.fill(0x20);
  line.write(text, 0, SLOT_BYTES - 1, 'latin1');
  line[SLOT_BYTES - 1] = 0x0a;
  try {
    fs.writeSync(fd, line, 0, SLOT_BYTES, slot);
  } catch {
    // Activity reports are best effort; the engine must not fail because the supervisor's file did.
  }
}

export function reportRunning(server: string): void {
  if (fd >= 0) put(`B ${Date.now()} ${bounds.get(server) ?? HANG_MAX_MS} ${server}`);
}

export function reportIdle(): void {
  if (fd >= 0) put('E');
}

/** The supervisor's side: which lanes were inside a server's callbacks when the file was read. */
export function readActivity(file: string): Activity[] {
  let text: string;
  try { text = fs.readFileSync(file, 'latin1'); } catch { return []; }
  const out: Activity[] = [];
  for (let lane = 0; lane * SLOT_BYTES < text.length; lane++) {
    const m = /^B (\d+) (\d+) (\S+)/.exec(text.slice(lane * SLOT_BYTES, (lane + 1) * SLOT_BYTES));
    if (m !== null) out.push({ lane, server: m[3], since: Number(m[1]), bound: Number(m[2]) });
  }
  return out;
}
