import type { Database, RootDatabase } from 'lmdb';
import type { StorageError, StorageResult } from './types.js';

export type Bytes = Buffer;

/** A put (value: the encoded bytes) or a delete (value: null) of one key, namespace included. */
export interface Write {
  key: Bytes;
  keyBytes: number;
  value: Uint8Array | null;
  /** the server's storageMb when the write was made */
  storageMb: number;
}

export interface Tables {
  root: RootDatabase;
  data: Database<Bytes, Bytes>;
  usage: Database<number, Bytes>;
}

/**
 * A group loses a race only to another group of the same server that committed, so this bound is
 * reached only by a storm of writers in other threads; it is then reported, not spun on.
 */
const MAX_ATTEMPTS = 1000;
const MIB = 1024 * 1024;
/**
 * Encoded bytes of puts waiting for the disk that a server may hold in this thread, at least: a
 * callback can put one large string a thousand times without growing its isolate, and every copy
 * would wait here in host memory. More than the server's quota (or this) waiting cannot all be
 * stored anyway.
 */
const MIN_WAITING_BYTES = 8 * MIB;

export function unavailable(e: unknown): StorageResult<never> {
  const error: StorageError = { name: 'StorageUnavailableError', message: `storage failed: ${(e as Error)?.message ?? String(e)}` };
  return { ok: false, error };
}

interface Pending {
  write: Write;
  settle: (result: StorageResult<unknown>) => void;
}

/**
 * One server's writes from this thread. The server's usage entry holds the bytes it stores under a
 * version that every commit of its writes bumps: the writes waiting here are planned against one read
 * of it (quota decided write by write, in order) and committed in one transaction conditional on that
 * version, so data and count change together or not at all, whichever threads and processes write.
 * A group that lost the race is planned again from fresh reads. Grouping keeps a burst of concurrent
 * puts of one server (Promise.all) to one commit instead of a race among them.
 */
export class ServerWrites {
  private pending: Pending[] = [];
  private running = false;
  /** encoded bytes of the puts queued or being committed */
  private waitingBytes = 0;

  constructor(
    private readonly ns: Bytes,
    private readonly tables: Tables,
  ) {}

  submit<T>(write: Write): Promise<StorageResult<T>> {
    const bytes = write.value?.byteLength ?? 0;
    const room = Math.max(write.storageMb * MIB, MIN_WAITING_BYTES);
    if (this.waitingBytes + bytes > room) {
      const message = `storage quota of ${write.storageMb} MB exceeded: ${this.waitingBytes} bytes of puts are still waiting to be written`;
      return Promise.resolve({ ok: false, error: { name: 'QuotaExceededError', message } });
    }
    this.waitingBytes += bytes;
    return new Promise((settle) => {
      this.pending.push({
        write,
        settle: (result) => {
          this.waitingBytes -= bytes;
          settle(result as StorageResult<T>);
        },
      });
      if (!this.running) {
        // the first commit waits for the rest of this stretch: a callback's `Promise.all` of puts is one commit
        this.running = true;
        queueMicrotask(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const group = this.pending;
        this.pending = [];
        let results: StorageResult<unknown>[];
        try {
          results = await this.commit(group.map((p) => p.write));
        } catch (e) {
          results = group.map(() => unavailable(e));
        }
        group.forEach((p, i) => p.settle(results[i]));
      }
    } finally {
      this.running = false;
    }
  }

  private async commit(group: Write[]): Promise<StorageResult<unknown>[]> {
    const { data, usage } = this.tables;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      // plan on the newest commit (a stale snapshot would only lose the race); a retry must see the commit that beat it
      usage.resetReadTxn();
      const entry = usage.getEntry(this.ns);
      const plan = this.plan(group, entry?.value ?? 0);
      if (plan.writes.length === 0) return plan.results;
      const version = entry?.version ?? 0;
      const apply = (): void => {
        for (const w of plan.writes) void (w.value === null ? data.remove(w.key) : data.put(w.key, Buffer.from(w.value.buffer, w.value.byteOffset, w.value.byteLength)));
        void usage.put(this.ns, plan.used, version + 1);
      };
      const won = entry === undefined ? await usage.ifNoExists(this.ns, apply) : await usage.ifVersion(this.ns, version, apply);
      if (won) return plan.results;
    }
    return group.map(() => unavailable(new Error("too many concurrent writers to this server's storage")));
  }

  /** Decides each write in order against the stored state plus the group's earlier writes. */
  private plan(group: Write[], used: number): { used: number; writes: Write[]; results: StorageResult<unknown>[] } {
    const sizes = new Map<string, number>();
    const sizeOf = (w: Write): number => {
      const id = w.key.toString('latin1');
      const known = sizes.get(id);
      if (known !== undefined) return known;
      const old = this.tables.data.getBinaryFast(w.key);
      return old === undefined ? 0 : w.keyBytes + old.length;
    };
    const writes: Write[] = [];
    const results = group.map((w): StorageResult<unknown> => {
      const old = sizeOf(w);
      if (w.value === null) {
        if (old === 0) return { ok: true, value: false };
        used -= old;
        sizes.set(w.key.toString('latin1'), 0);
        writes.push(w);
        return { ok: true, value: true };
      }
      const size = w.keyBytes + w.value.byteLength;
      const next = used - old + size;
      // a write that does not grow the server's data is allowed even over a lowered quota
      if (next > w.storageMb * MIB && next > used) {
        const message = `storage quota of ${w.storageMb} MB exceeded: ${used} bytes stored, this put would make it ${next}`;
        return { ok: false, error: { name: 'QuotaExceededError', message } };
      }
      used = next;
      sizes.set(w.key.toString('latin1'), size);
      writes.push(w);
      return { ok: true, value: undefined };
    });
    return { used, writes, results };
  }
}
