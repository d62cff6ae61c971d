import type { Body, WsOp } from '@webdat/protocol';
import type { PeerAnswer, PeerRequest } from './bus.js';

// The messages of the one-host transport, between an engine process and the supervisor's hub, over
// the child_process IPC channel with `serialization: 'advanced'` (so bytes cross as Uint8Array).

/** What the supervisor tells a process it starts (or restarts) before it starts any server. */
export interface Init {
  t: 'init';
  index: number;
  /** ports the other processes already listen on, by server: shared, not checked for being free */
  ports: Array<[string, number]>;
  /** admin actions since webdat started, replayed so a restarted process matches the others */
  overrides: Array<{ server: string; active?: boolean; source?: string }>;
  /** clients connected to other processes, by server */
  clients: Array<[string, string]>;
}

type Op = WsOp;
type Relay =
  | { t: 'broadcast'; server: string; op: typeof WsOp.text | typeof WsOp.binary; data: Body }
  | { t: 'send'; server: string; client: string; op: Op; data: Body }
  | { t: 'close'; server: string; client: string; code: number; reason: string }
  | { t: 'join'; server: string; client: string }
  | { t: 'leave'; server: string; client: string };

export type FromEngine =
  | Relay
  | { t: 'started' }
  | { t: 'serving'; server: string; port: number; line: string }
  | { t: 'stopped'; server: string }
  | { t: 'ask'; id: number; req: PeerRequest }
  | { t: 'answer'; id: number; answer: PeerAnswer };

export type ToEngine =
  | Init
  | Relay
  | { t: 'primary'; server: string; primary: boolean }
  | { t: 'port'; server: string; port: number }
  | { t: 'quarantine'; server: string }
  | { t: 'asked'; id: number; req: PeerRequest }
  | { t: 'answers'; id: number; answers: PeerAnswer[] };
