import { INFO_CHANNELS, INFO_FIELDS, type InfoSnapshot } from '@webdat/protocol';
import type { Bus, PeerRequest } from '../cluster/bus.js';
import type { Logger } from '../log.js';
import type { WebdatServer } from '../server.js';

// The admin API shows the whole host (SPEC §12): with several engine processes, the admin listener's
// process asks the others for their servers' info and adds it to its own, and an action it applied
// is applied by every other process too (the supervisor also replays it to later restarts).


export async function hostInfo(servers: WebdatServer[], bus: Bus | null): Promise<Map<string, InfoSnapshot>> {
  const all = new Map(servers.map((s) => [s.name, s.info()]));
  if (bus === null) return all;
  for (const answer of await bus.ask({ kind: 'stats' })) {
    for (const [name, info] of answer.servers ?? []) {
      const mine = all.get(name);
      if (mine !== undefined) all.set(name, add(mine, info));
    }
  }
  return all;
}

function add(a: InfoSnapshot, b: InfoSnapshot): InfoSnapshot {
  // Per-process views a sum would get wrong (each process already counts every client, and flags are flags) take the larger.
  const sum = { ...a };
  for (const k of INFO_FIELDS) sum[k] = INFO_CHANNELS[k].across === 'max' ? Math.max(a[k], b[k]) : a[k] + b[k];
  return sum;
}

/** Applies an action this process already applied to every other process; failures there are logged. */
export async function fanOut(bus: Bus | null, req: Exclude<PeerRequest, { kind: 'stats' }>, log: Logger): Promise<void> {
  if (bus === null) return;
  const failed = (await bus.ask(req)).filter((a) => a.error !== undefined);
  for (const f of failed) log.error({ server: req.server, err: f.error }, `admin: ${req.kind === 'upload' ? 'upload' : req.action} failed in another engine process`);
}
