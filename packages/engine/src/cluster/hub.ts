import type { ChildProcess } from 'node:child_process';
import type { PeerAnswer, PeerRequest } from './bus.js';
import type { FromEngine, ToEngine } from './messages.js';

// The supervisor's side of the one-host transport (SPEC §12): it routes what one engine process
// sends to the others, knows which process each WebSocket client is connected to, prints a
// server's readiness line once every process serves it, elects each server's primary, and records
// admin actions so a process restarted later is told them before it starts.

export interface HubHooks {
  print(line: string): void;
  /** the process serves every server it was asked to start */
  started(index: number): void;
}

/** an admin request in flight: `id` is the asker's own, the map key the hub's */
interface Ask { from: number; id: number; waiting: Set<number>; answers: PeerAnswer[] }

export class Hub {
  private readonly children = new Map<number, ChildProcess>();
  private readonly ports = new Map<string, number>();
  private readonly overrides = new Map<string, { active?: boolean; source?: string }>();
  /** server → client → index of the process it is connected to */
  private readonly owners = new Map<string, Map<string, number>>();
  /** server → indexes of the processes serving it */
  private readonly serving = new Map<string, Set<number>>();
  private readonly announced = new Set<string>();
  /**
   * server → processes that serve it since its readiness line was last due: a stop (an admin stop
   * or restart, which every process makes in turn) starts a new round, so the line is printed again
   * only once every process serves anew, never while the others still serve the old socket.
   */
  private readonly fresh = new Map<string, Set<number>>();
  private readonly primaries = new Map<string, number>();
  private readonly asks = new Map<number, Ask>();
  private askSeq = 0;

  constructor(private readonly size: number, private readonly hooks: HubHooks) {}

  /** A process was spawned: it waits for this init before it starts anything. */
  attach(index: number, child: ChildProcess): void {
    this.children.set(index, child);
    child.on('message', (m: FromEngine) => this.receive(index, m));
    const clients: Array<[string, string]> = [];
    for (const [server, owned] of this.owners) for (const client of owned.keys()) clients.push([server, client]);
    this.tell(index, {
      t: 'init', index, ports: [...this.ports],
      overrides: [...this.overrides].map(([server, o]) => ({ server, ...o })), clients,
    });
  }

  /** A process died: its clients leave every list, and its servers elect another primary. */
  detach(index: number): void {
    this.children.delete(index);
    for (const [server, owned] of this.owners) {
      for (const [client, owner] of owned) {
        if (owner !== index) continue;
        owned.delete(client);
        this.relay(index, { t: 'leave', server, client });
      }
    }
    for (const [server, set] of this.serving) if (set.delete(index)) this.elect(server);
    for (const set of this.fresh.values()) set.delete(index);
    for (const [key, ask] of this.asks) {
      if (ask.from === index) this.asks.delete(key);
      else if (ask.waiting.delete(index)) this.settle(key, ask);
    }
  }

  /**
   * The supervisor left `server` inactive after its callbacks killed engine processes: a process
   * started later is told so at its start, and every live one stops it now, or the processes that
   * did not die would go on serving it.
   */
  quarantine(server: string): void {
    for (const i of this.children.keys()) this.tell(i, { t: 'quarantine', server });
  }

  /** Every live process but `index` gets `m`. */
  private relay(index: number, m: ToEngine): void {
    for (const i of this.children.keys()) if (i !== index) this.tell(i, m);
  }

  private tell(index: number, m: ToEngine): void {
    const child = this.children.get(index);
    // A process that is going away can be connected still while its pipe is closed: the send fails
    // (EPIPE), and without a callback that failure is an 'error' event that would kill the supervisor.
    // Its exit is handled by detach.
    if (child?.connected) child.send(m, ignoreSendError);
  }

  private receive(index: number, m: FromEngine): void {
    switch (m.t) {
      case 'broadcast': this.relay(index, m); break;
      case 'send': case 'close': {
        const owner = this.owners.get(m.server)?.get(m.client);
        if (owner !== undefined && owner !== index) this.tell(owner, m);
        break;
      }
      case 'join': {
        let owned = this.owners.get(m.server);
        if (owned === undefined) this.owners.set(m.server, owned = new Map());
        owned.set(m.client, index);
        this.relay(index, m);
        break;
      }
      case 'leave':
        if (this.owners.get(m.server)?.get(m.client) === index) this.owners.get(m.server)!.delete(m.client);
        this.relay(index, m);
        break;
      case 'started': this.hooks.started(index); break;
      case 'serving': this.onServing(index, m.server, m.port, m.line); break;
      case 'stopped': {
        if (this.announced.delete(m.server)) this.fresh.set(m.server, new Set());
        else this.fresh.get(m.server)?.delete(index);
        if (this.serving.get(m.server)?.delete(index)) this.elect(m.server);
        break;
      }
      case 'ask': this.onAsk(index, m.id, m.req); break;
      case 'answer': {
        const ask = this.asks.get(m.id);
        if (ask === undefined || !ask.waiting.delete(index)) break;
        ask.answers.push(m.answer);
        this.settle(m.id, ask);
        break;
      }
    }
  }

  private onServing(index: number, server: string, port: number, line: string): void {
    // Every process learns the port, the one that opened it too: when it starts the server again,
    // the others may still hold the socket, so it joins the port instead of checking it is free.
    if (this.ports.get(server) !== port) {
      this.ports.set(server, port);
      for (const i of this.children.keys()) this.tell(i, { t: 'port', server, port });
    }
    let set = this.serving.get(server);
    if (set === undefined) this.serving.set(server, set = new Set());
    set.add(index);
    this.elect(server);
    let fresh = this.fresh.get(server);
    if (fresh === undefined) this.fresh.set(server, fresh = new Set());
    fresh.add(index);
    if (fresh.size === this.size && !this.announced.has(server)) {
      this.announced.add(server);
      this.hooks.print(line);
    }
  }

  /** The primary stays where it is while that process serves; otherwise the lowest index serving. */
  private elect(server: string): void {
    const set = this.serving.get(server) ?? new Set<number>();
    const current = this.primaries.get(server);
    if (current !== undefined && set.has(current)) return;
    if (current !== undefined) {
      this.primaries.delete(server);
      this.tell(current, { t: 'primary', server, primary: false });
    }
    if (set.size === 0) return;
    const next = Math.min(...set);
    this.primaries.set(server, next);
    this.tell(next, { t: 'primary', server, primary: true });
  }

  private onAsk(from: number, id: number, req: PeerRequest): void {
    this.record(req);
    const waiting = new Set([...this.children.keys()].filter((i) => i !== from));
    const key = ++this.askSeq;
    const ask: Ask = { from, id, waiting, answers: [] };
    this.asks.set(key, ask);
    for (const i of waiting) this.tell(i, { t: 'asked', id: key, req });
    this.settle(key, ask);
  }

  private settle(key: number, ask: Ask): void {
    if (ask.waiting.size > 0) return;
    this.asks.delete(key);
    this.tell(ask.from, { t: 'answers', id: ask.id, answers: ask.answers });
  }

  /** Admin actions hold until webdat restarts (SPEC §12): the last start/stop and upload of each server. */
  private record(req: PeerRequest): void {
    if (req.kind === 'stats') return;
    const o = this.overrides.get(req.server) ?? {};
    if (req.kind === 'upload') o.source = req.source;
    else o.active = req.action !== 'stop';
    this.overrides.set(req.server, o);
  }
}

function ignoreSendError(): void {}
