import os from 'node:os';
import { Redis } from 'ioredis';
import { Packr } from 'msgpackr';
import type { Body, WsOp } from '@webdat/protocol';
import type { Logger } from '../log.js';
import type { Bus, BusEvents, PeerAnswer } from './bus.js';

// The across-hosts transport (SPEC §12 `cluster`): every engine process is a node of the cluster
// and talks to the others through Redis pub/sub. Membership is soft state: each node publishes a
// heartbeat, and a node not heard from for DEAD_MS leaves (its clients leave every list). A node
// that (re)joins says hello with its clients and every other node answers with its own, so lists
// are rebuilt after a Redis outage without anything stored. Each server's primary holds a Redis
// key with an expiry that its heartbeats renew; when the holder dies the key expires and another
// node takes it. Redis pub/sub keeps the order of what one connection publishes, so the sends of
// one sender to one client arrive in order.

const HEARTBEAT_MS = 1000;
/** SPEC §12: a dead process leaves the lists within 10 s; this leaves room for a busy machine */
const DEAD_MS = 5000;
const LEASE_MS = 5000;
/** a primary whose lease it could not renew steps down this long before the lease can expire */
const LEASE_MARGIN_MS = 1500;
const RECONNECT_MS = 500;
const ERROR_LOG_MS = 1000;

/** the lease is renewed by its holder, or taken when nobody holds it; 1 means this node holds it */
const CLAIM = `
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if not v then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return 0`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

export interface ClusterConfig {
  redis: string;
  name: string;
}

type Clients = Array<[string, string]>;
type Wire =
  /** `n`: how many clients the node has, to notice a join or leave that was lost */
  | { t: 'hb'; from: string; n: number }
  | { t: 'hello' | 'state'; from: string; clients: Clients }
  | { t: 'broadcast'; from: string; server: string; op: typeof WsOp.text | typeof WsOp.binary; data: Body }
  | { t: 'join' | 'leave'; from: string; server: string; client: string }
  | { t: 'send'; from: string; server: string; client: string; op: WsOp; data: Body }
  | { t: 'close'; from: string; server: string; client: string; code: number; reason: string };

interface Peer {
  seen: number;
  /** server → clients connected to that node */
  clients: Map<string, Set<string>>;
}

const packr = new Packr({ useRecords: false });

export class RedisBus implements Bus {
  readonly node = `${os.hostname()}:${process.pid}`;
  private readonly pub: Redis;
  private readonly sub: Redis;
  private readonly all: string;
  private readonly mine: string;
  private events: BusEvents | null = null;
  /** clients of this node, by server */
  private readonly local = new Map<string, Set<string>>();
  /** the other nodes heard from, and the node each remote client is connected to */
  private readonly peers = new Map<string, Peer>();
  private readonly owners = new Map<string, Map<string, string>>();
  /** servers this node serves → when its primary lease was last renewed (0: not primary) */
  private readonly serves = new Map<string, number>();
  private readonly announce: ((line: string) => void) | null;
  /** the Redis URL for logs: never its password */
  private readonly where: string;
  private online = false;
  private joining = false;
  private readonly joinedWaiters: Array<() => void> = [];
  private lastErrorLog = 0;
  private dropped = 0;

  private constructor(private readonly config: ClusterConfig, private readonly log: Logger, announce: ((line: string) => void) | null) {
    this.announce = announce;
    this.where = withoutPassword(config.redis);
    const prefix = `webdat:${config.name}`;
    this.all = `${prefix}:all`;
    this.mine = `${prefix}:node:${this.node}`;
    const options = { retryStrategy: () => RECONNECT_MS, lazyConnect: true };
    // Commands fail at once while Redis is down rather than queue: cross-host delivery then fails
    // with a logged error (SPEC §12) instead of arriving late and out of order.
    this.pub = new Redis(config.redis, { ...options, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
    this.sub = new Redis(config.redis, { ...options, autoResubscribe: false });
    for (const c of [this.pub, this.sub]) c.on('error', (err: Error) => this.failed('redis connection', err));
    this.sub.on('messageBuffer', (_channel: Buffer, message: Buffer) => this.receive(message));
    this.sub.on('close', () => this.offline());
    this.sub.on('ready', () => void this.enter());
    this.pub.on('ready', () => void this.enter());
    setInterval(() => this.tick(), HEARTBEAT_MS).unref();
  }

  /**
   * Joins the cluster: resolves once this node listens to Redis and has said hello, so the
   * readiness lines come after (SPEC §12). Waits for Redis as long as it takes, logging why.
   */
  static async connect(config: ClusterConfig, log: Logger, announce: ((line: string) => void) | null): Promise<RedisBus> {
    const bus = new RedisBus(config, log, announce);
    await new Promise<void>((resolve) => {
      bus.joinedWaiters.push(resolve);
      void bus.pub.connect().catch(() => undefined);
      void bus.sub.connect().catch(() => undefined);
    });
    return bus;
  }

  private async enter(): Promise<void> {
    if (this.online || this.joining || this.pub.status !== 'ready' || this.sub.status !== 'ready') return;
    this.joining = true;
    try {
      await this.sub.subscribe(this.all, this.mine);
      await this.publish(this.all, { t: 'hello', from: this.node, clients: this.localClients() });
      this.online = true;
      this.log.info({ redis: this.where, cluster: this.config.name, node: this.node }, 'joined the cluster through Redis');
      for (const resolve of this.joinedWaiters.splice(0)) resolve();
      this.tick();
    } catch (err) {
      this.failed('joining the cluster', err as Error);
    } finally {
      this.joining = false;
    }
  }

  /** Redis is gone: the lists keep this node's clients only until it is back. */
  private offline(): void {
    if (!this.online) return;
    this.online = false;
    this.log.error({ redis: this.where }, 'lost Redis: serving this node\'s clients only until it is back');
    for (const node of [...this.peers.keys()]) this.forget(node);
    // a Redis that comes back empty has no lease: stepping down now keeps two primaries from overlapping
    for (const [server, renewed] of this.serves) {
      if (renewed === 0) continue;
      this.serves.set(server, 0);
      this.events?.primary(server, false);
    }
  }

  listen(events: BusEvents): void {
    this.events = events;
    for (const [server, owned] of this.owners) for (const client of owned.keys()) events.join(server, client);
  }

  serving(server: string, _port: number, line: string): void {
    if (!this.serves.has(server)) this.serves.set(server, 0);
    this.announce?.(line);
    void this.claim(server);
  }

  stopped(server: string): void {
    const held = this.serves.get(server);
    this.serves.delete(server);
    if (held === undefined || held === 0) return;
    this.events?.primary(server, false);
    this.pub.eval(RELEASE, 1, this.leaseKey(server), this.node).catch((err: Error) => this.failed('releasing the primary', err));
  }

  broadcast(server: string, op: typeof WsOp.text | typeof WsOp.binary, data: Body): void {
    void this.publish(this.all, { t: 'broadcast', from: this.node, server, op, data }).catch((err: Error) => this.failed('broadcast to other hosts', err));
  }

  send(server: string, client: string, op: WsOp, data: Body): void {
    this.toOwner(server, client, { t: 'send', from: this.node, server, client, op, data });
  }

  close(server: string, client: string, code: number, reason: string): void {
    this.toOwner(server, client, { t: 'close', from: this.node, server, client, code, reason });
  }

  join(server: string, client: string): void {
    let set = this.local.get(server);
    if (set === undefined) this.local.set(server, set = new Set());
    set.add(client);
    void this.publish(this.all, { t: 'join', from: this.node, server, client }).catch((err: Error) => this.failed('announcing a client', err));
  }

  leave(server: string, client: string): void {
    this.local.get(server)?.delete(client);
    void this.publish(this.all, { t: 'leave', from: this.node, server, client }).catch((err: Error) => this.failed('announcing a client', err));
  }

  /** Admin requests stay on this host (SPEC §12: the admin API shows the whole host). */
  ask(): Promise<PeerAnswer[]> {
    return Promise.resolve([]);
  }

  private toOwner(server: string, client: string, m: Wire): void {
    const owner = this.owners.get(server)?.get(client);
    if (owner === undefined) return;
    void this.publish(this.channelOf(owner), m).catch((err: Error) => this.failed(`delivery to a client on ${owner}`, err));
  }

  private channelOf(node: string): string {
    return `webdat:${this.config.name}:node:${node}`;
  }

  private leaseKey(server: string): string {
    return `webdat:${this.config.name}:primary:${server}`;
  }

  private publish(channel: string, m: Wire): Promise<unknown> {
    return this.pub.publish(channel, packr.pack(m));
  }

  private localClients(): Clients {
    const out: Clients = [];
    for (const [server, set] of this.local) for (const client of set) out.push([server, client]);
    return out;
  }

  private tick(): void {
    const now = Date.now();
    for (const [server, renewed] of this.serves) {
      if (renewed !== 0 && now - renewed > LEASE_MS - LEASE_MARGIN_MS) {
        this.serves.set(server, 0);
        this.events?.primary(server, false);
      }
    }
    if (!this.online) {
      // a join that failed halfway (Redis went away between subscribing and saying hello) is retried
      void this.enter();
      return;
    }
    for (const [node, peer] of this.peers) if (now - peer.seen > DEAD_MS) this.forget(node);
    let n = 0;
    for (const set of this.local.values()) n += set.size;
    this.publish(this.all, { t: 'hb', from: this.node, n }).catch((err: Error) => this.failed('heartbeat', err));
    for (const server of this.serves.keys()) void this.claim(server);
  }

  private async claim(server: string): Promise<void> {
    if (this.pub.status !== 'ready') return;
    const asked = Date.now();
    let held: boolean;
    try {
      held = (await this.pub.eval(CLAIM, 1, this.leaseKey(server), this.node, LEASE_MS)) === 1;
    } catch (err) {
      this.failed('electing the primary', err as Error);
      return;
    }
    const was = this.serves.get(server);
    if (was === undefined) {
      // stopped meanwhile: give back what was just taken
      if (held) this.pub.eval(RELEASE, 1, this.leaseKey(server), this.node).catch(() => undefined);
      return;
    }
    this.serves.set(server, held ? asked : 0);
    if (held !== (was !== 0)) this.events?.primary(server, held);
  }

  private receive(raw: Buffer): void {
    let m: Wire;
    try {
      m = packr.unpack(raw) as Wire;
    } catch (err) {
      this.failed('decoding a cluster message', err as Error);
      return;
    }
    if (m.from === this.node) return;
    const known = this.peers.has(m.from);
    const peer = this.peer(m.from);
    const ev = this.events;
    // a node we dropped (or never heard say hello), or whose list we got wrong: exchange clients with it
    if ((!known && m.t !== 'hello' && m.t !== 'state') || (m.t === 'hb' && m.n !== countOf(peer))) this.greet(m.from);
    switch (m.t) {
      case 'hb': break;
      case 'hello':
        this.replace(m.from, peer, m.clients);
        this.publish(this.channelOf(m.from), { t: 'state', from: this.node, clients: this.localClients() }).catch((err: Error) => this.failed('greeting a node', err));
        break;
      case 'state': this.replace(m.from, peer, m.clients); break;
      case 'join': this.add(m.from, peer, m.server, m.client); break;
      case 'leave': this.remove(peer, m.server, m.client); break;
      case 'broadcast': ev?.broadcast(m.server, m.op, m.data); break;
      case 'send': ev?.send(m.server, m.client, m.op, m.data); break;
      case 'close': ev?.close(m.server, m.client, m.code, m.reason); break;
    }
  }

  private greet(node: string): void {
    this.publish(this.channelOf(node), { t: 'hello', from: this.node, clients: this.localClients() }).catch((err: Error) => this.failed('greeting a node', err));
  }

  private peer(node: string): Peer {
    let p = this.peers.get(node);
    if (p === undefined) this.peers.set(node, p = { seen: 0, clients: new Map() });
    p.seen = Date.now();
    return p;
  }

  private add(node: string, peer: Peer, server: string, client: string): void {
    let set = peer.clients.get(server);
    if (set === undefined) peer.clients.set(server, set = new Set());
    if (set.has(client)) return;
    set.add(client);
    let owned = this.owners.get(server);
    if (owned === undefined) this.owners.set(server, owned = new Map());
    owned.set(client, node);
    this.events?.join(server, client);
  }

  private remove(peer: Peer, server: string, client: string): void {
    if (!peer.clients.get(server)?.delete(client)) return;
    this.owners.get(server)?.delete(client);
    this.events?.leave(server, client);
  }

  /** A node's full list of clients: what changed becomes joins and leaves. */
  private replace(node: string, peer: Peer, clients: Clients): void {
    const next = new Set(clients.map(([s, c]) => `${s}\0${c}`));
    for (const [server, set] of peer.clients) for (const client of [...set]) if (!next.has(`${server}\0${client}`)) this.remove(peer, server, client);
    for (const [server, client] of clients) this.add(node, peer, server, client);
  }

  /** The node died or Redis is gone: its clients leave every list. */
  private forget(node: string): void {
    const peer = this.peers.get(node);
    if (peer === undefined) return;
    this.peers.delete(node);
    for (const [server, set] of peer.clients) for (const client of [...set]) this.remove(peer, server, client);
  }

  /** Failures are logged at most once a second, with how many were not logged since. */
  private failed(what: string, err: Error): void {
    const now = Date.now();
    if (now - this.lastErrorLog < ERROR_LOG_MS) { this.dropped++; return; }
    this.log.error({ redis: this.where, err: err.message, alsoFailed: this.dropped }, `cluster: ${what} failed`);
    this.lastErrorLog = now;
    this.dropped = 0;
  }
}

function countOf(peer: Peer): number {
  let n = 0;
  for (const set of peer.clients.values()) n += set.size;
  return n;
}

function withoutPassword(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable URL)';
  }
}
