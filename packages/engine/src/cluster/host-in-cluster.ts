import type { Body, WsOp } from '@webdat/protocol';
import type { Bus, BusEvents, PeerAnswer, PeerRequest } from './bus.js';
import type { IpcBus } from './ipc-bus.js';
import type { RedisBus } from './redis-bus.js';

// `--processes N` with `cluster` (SPEC §12): each engine process is a node of the Redis cluster on
// its own, so delivery, lists and the primary go through Redis alone, whichever host or process a
// client is on. The host's things stay with the supervisor's hub: the readiness line printed once
// every process serves (each has joined Redis before it starts), and the host-wide admin API.

export class HostInCluster implements Bus {
  readonly node: string;

  constructor(private readonly host: IpcBus, private readonly cluster: RedisBus) {
    this.node = cluster.node;
  }

  listen(events: BusEvents): void {
    // the hub elects a primary per host; the cluster's is Redis's
    this.host.listen({ ...events, primary: () => undefined });
    this.cluster.listen(events);
  }

  serving(server: string, port: number, line: string): void {
    this.cluster.serving(server, port, line);
    this.host.serving(server, port, line);
  }

  stopped(server: string): void {
    this.cluster.stopped(server);
    this.host.stopped(server);
  }

  broadcast(server: string, op: typeof WsOp.text | typeof WsOp.binary, data: Body): void { this.cluster.broadcast(server, op, data); }
  send(server: string, client: string, op: WsOp, data: Body): void { this.cluster.send(server, client, op, data); }
  close(server: string, client: string, code: number, reason: string): void { this.cluster.close(server, client, code, reason); }
  join(server: string, client: string): void { this.cluster.join(server, client); }
  leave(server: string, client: string): void { this.cluster.leave(server, client); }
  ask(req: PeerRequest): Promise<PeerAnswer[]> { return this.host.ask(req); }
}
