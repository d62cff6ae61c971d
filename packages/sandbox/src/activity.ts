import fs from 'node:fs';
import { threadId } from 'node:worker_threads';

// Tells the supervisor which server's callbacks a worker is running, so that when V8 takes the whole
// engine down (something isolated-vm cannot contain) the culprit can be named and quarantined. A
// pipe write is a few microseconds, paid once per tenant batch, not per event.

const fd = process.env.WEBDAT_ACTIVITY_FD === undefined ? -1 : Number(process.env.WEBDAT_ACTIVITY_FD);

function write(line: string): void {
  try {
    fs.writeSync(fd, line);
  } catch {
    // The supervisor is gone or the pipe is full; activity reports are best effort.
  }
}

export function reportRunning(server: string): void {
  if (fd >= 0) write(`B ${threadId} ${server}\n`);
}

export function reportIdle(): void {
  if (fd >= 0) write(`E ${threadId}\n`);
}
