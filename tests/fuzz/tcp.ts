import net from 'node:net';

// A raw TCP connection for the network fuzzers: what was received, whether and how it ended, and a
// way to wait for either with a bound.

export class RawConnection {
  readonly socket: net.Socket;
  received = Buffer.alloc(0);
  /** 'end' (the peer closed), 'error' (reset or refused), or null while open */
  ended: 'end' | 'error' | null = null;
  private waiters: Array<() => void> = [];

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (d) => { this.received = Buffer.concat([this.received, d]); this.notify(); });
    socket.on('end', () => { this.ended ??= 'end'; socket.destroy(); this.notify(); });
    socket.on('close', () => { this.ended ??= 'end'; this.notify(); });
    socket.on('error', () => { this.ended ??= 'error'; this.notify(); });
  }

  static open(port: number): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port });
      s.setNoDelay(true);
      s.once('connect', () => { s.removeListener('error', reject); resolve(new RawConnection(s)); });
      s.once('error', reject);
    });
  }

  /** Opens a connection, or notes in `hangs` why it could not and returns null. */
  static async openOrNote(port: number, hangs: string[]): Promise<RawConnection | null> {
    try {
      return await RawConnection.open(port);
    } catch (err) {
      hangs.push(`connect failed: ${(err as Error).message}`);
      return null;
    }
  }

  private notify(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  write(bytes: Uint8Array): void {
    if (this.ended === null) this.socket.write(bytes);
  }

  /** Resolves with `check()`'s first non-null value, or null once `ms` passed or the connection ended without one. */
  until<T>(check: () => T | null, ms: number): Promise<T | null> {
    return new Promise((resolve) => {
      const t = setTimeout(() => { this.waiters = this.waiters.filter((w) => w !== test); resolve(check()); }, ms);
      const test = () => {
        const v = check();
        if (v !== null || this.ended !== null) { clearTimeout(t); resolve(v); return; }
        this.waiters.push(test);
      };
      test();
    });
  }

  /** Half-closes our side and waits for the peer to close; false if it had not closed after `ms`. */
  async finish(ms: number): Promise<boolean> {
    if (this.ended === null) this.socket.end();
    await this.until(() => (this.ended !== null ? true : null), ms);
    const closed = this.ended !== null;
    this.socket.destroy();
    return closed;
  }
}

/** Runs `work` over `items` with at most `width` at a time. */
export async function inParallel<T>(items: Iterable<T>, width: number, work: (item: T) => Promise<void>): Promise<void> {
  const it = items[Symbol.iterator]();
  const lane = async () => {
    for (let n = it.next(); n.done !== true; n = it.next()) await work(n.value);
  };
  await Promise.all(Array.from({ length: width }, lane));
}
