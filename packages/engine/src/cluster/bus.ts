import type { Body, InfoSnapshot, WsOp } from '@webdat/protocol';

// What the engine processes of one cluster tell each other (SPEC §12), whatever carries it: the
// supervisor's IPC hub on one host (ipc-bus.ts), a broker across hosts. The engine talks to this
// interface only, and a process without a bus (the one-process default) pays nothing for it.

/** An admin request another process of the host runs for the admin listener's process. */
export type PeerRequest =
  | { kind: 'stats' }
  | { kind: 'action'; server: string; action: 'start' | 'stop' | 'restart' }
  | { kind: 'upload'; server: string; source: string };

/** A process's answer: its servers' info for `stats`; for an action, the error if it failed there. */
export interface PeerAnswer {
  servers?: Array<[string, InfoSnapshot]>;
  error?: string;
}

export interface Bus {
  /** this process, `webServer.node` */
  readonly node: string;
  /** starts delivering what the other processes send */
  listen(events: BusEvents): void;
  /** the server listens in this process on `port`; `line` is its readiness line */
  serving(server: string, port: number, line: string): void;
  /** the server stopped in this process */
  stopped(server: string): void;
  broadcast(server: string, op: typeof WsOp.text | typeof WsOp.binary, data: Body): void;
  /** a send to a client of the server connected to another process; order per sender is kept */
  send(server: string, client: string, op: WsOp, data: Body): void;
  close(server: string, client: string, code: number, reason: string): void;
  /** a client connected to (left) the server in this process */
  join(server: string, client: string): void;
  leave(server: string, client: string): void;
  /** runs `req` in every other process; resolves with their answers */
  ask(req: PeerRequest): Promise<PeerAnswer[]>;
}

/** What arrives from the other processes; the engine implements it (cluster/peer-events.ts). */
export interface BusEvents {
  broadcast(server: string, op: typeof WsOp.text | typeof WsOp.binary, data: Body): void;
  send(server: string, client: string, op: WsOp, data: Body): void;
  close(server: string, client: string, code: number, reason: string): void;
  join(server: string, client: string): void;
  leave(server: string, client: string): void;
  /** this process became (or stopped being) the server's primary */
  primary(server: string, primary: boolean): void;
  /** the port every process shares for the server (it was 0 in the config, or it started later) */
  port(server: string, port: number): void;
  asked(req: PeerRequest): Promise<PeerAnswer>;
  /** the supervisor left the server inactive: its callbacks keep killing engine processes */
  quarantine(server: string): void;
}
