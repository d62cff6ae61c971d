import { EventKind } from '@webdat/protocol';
import type { WebdatServer } from '../server.js';
import type { BusEvents, PeerAnswer, PeerRequest } from './bus.js';

// What other engine processes ask of this one, applied to its servers. A server this process does
// not know (a name from a newer config) is ignored: every process runs the same servers.

/** What peer events need of the engine (engine.ts implements it). */
export interface PeerHost {
  list(): WebdatServer[];
  server(name: string): WebdatServer;
  sharePort(name: string, port: number): void;
  quarantine(name: string): void;
}

export function peerEvents(engine: PeerHost): BusEvents {
  const find = (name: string): WebdatServer | undefined => engine.list().find((s) => s.name === name);
  return {
    broadcast: (server, op, data) => find(server)?.egress.publishLocal(op, data),
    send: (server, client, op, data) => find(server)?.egress.deliver(client, op, data),
    close: (server, client, code, reason) => find(server)?.egress.closeLocal(client, code, reason),
    join: (server, client) => find(server)?.peer(EventKind.peerJoin, client),
    leave: (server, client) => find(server)?.peer(EventKind.peerLeave, client),
    primary: (server, primary) => { const s = find(server); if (s !== undefined) s.primary = primary; },
    port: (server, port) => engine.sharePort(server, port),
    asked: (req) => answer(engine, req),
    quarantine: (server) => engine.quarantine(server),
  };
}

async function answer(engine: PeerHost, req: PeerRequest): Promise<PeerAnswer> {
  if (req.kind === 'stats') return { servers: engine.list().map((s) => [s.name, s.info()]) };
  const s = engine.server(req.server);
  try {
    await s.operations.run(() => req.kind === 'upload' ? s.load(req.source) : s[req.action]());
    return {};
  } catch (err) {
    return { error: (err as Error).message };
  }
}
