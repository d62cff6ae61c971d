import { WsOp, type Body } from '@webdat/protocol';
import type { Ws } from '../endpoint.js';
import type { Counters } from '../counters.js';
import type { Bus } from '../cluster/bus.js';
import { closeReason } from './close-reason.js';

/**
 * What a server sends to its WebSocket clients (ws/behavior.ts takes what they send it): to a
 * connection of this process, through the bus to a client of another process, and broadcasts to both.
 */
export class WsEgress {
  constructor(
    private readonly server: string,
    /** the server's connections in this process, and its clients connected to other processes */
    private readonly clients: Map<string, Ws>,
    private readonly remote: Set<string>,
    private readonly counters: Counters,
    private readonly bus: Bus | null,
    /** publishes to the server's topic on its current listener (there is none while it is stopped) */
    private readonly publish: (data: Body, binary: boolean) => void,
  ) {}

  /** A callback's send, wherever the client is connected. */
  send(client: string, op: WsOp, data: Body): void {
    if (this.clients.has(client)) this.deliver(client, op, data);
    else if (this.remote.has(client)) this.bus!.send(this.server, client, op, data);
  }

  /** A callback's close, wherever the client is connected. */
  close(client: string, code: number, reason: string): void {
    if (this.clients.has(client)) this.closeLocal(client, code, reason);
    else if (this.remote.has(client)) this.bus!.close(this.server, client, code, reason);
  }

  broadcast(op: typeof WsOp.text | typeof WsOp.binary, data: Body): void {
    this.publish(data, op === WsOp.binary);
    this.bus?.broadcast(this.server, op, data);
  }

  /** A send to a client of this process, from its callbacks or from another process. */
  deliver(client: string, op: WsOp, data: Body): void {
    const ws = this.clients.get(client);
    if (ws === undefined || ws.getUserData().closed) return;
    this.counters.bytesOut += data.length;
    const sent = op === WsOp.ping ? ws.ping(data) : ws.send(data, op === WsOp.binary);
    // 2 = dropped at maxBackpressure. uWS v20.30 does not close such a reader itself, and a
    // connection that silently loses messages is worse than a closed one (README: slow readers).
    if (sent === 2) {
      this.counters.slowReadersClosed++;
      ws.getUserData().closed = true;
      ws.close();
    }
  }

  closeLocal(client: string, code: number, reason: string): void {
    const ws = this.clients.get(client);
    if (ws !== undefined && !ws.getUserData().closed) ws.end(code, closeReason(reason));
  }

  /** A broadcast of this server made in another process reaches the clients of this one. */
  publishLocal(op: typeof WsOp.text | typeof WsOp.binary, data: Body): void {
    this.publish(data, op === WsOp.binary);
  }
}
