import os from 'node:os';
import type { Body, WsOp } from '@webdat/protocol';
import type { Bus, BusEvents, PeerAnswer, PeerRequest } from './bus.js';
import type { FromEngine, Init, ToEngine } from './messages.js';

// The engine side of the one-host transport: every message goes to the supervisor's hub
// (cluster/hub.ts), which routes it to the other processes. An IPC channel keeps the order of what
// one process sends, so the sends of one sender to one client arrive in order.

/** Set by the supervisor for its engine processes when it runs more than one. */
export const PROCESSES_ENV = 'WEBDAT_PROCESSES';

export class IpcBus implements Bus {
  readonly node = `${os.hostname()}:${process.pid}`;
  private events: BusEvents | null = null;
  private early: ToEngine[] = [];
  private readonly asks = new Map<number, (answers: PeerAnswer[]) => void>();
  private askSeq = 0;

  private constructor() {
    process.on('message', (m: ToEngine) => {
      if (this.events === null) this.early.push(m);
      else this.receive(this.events, m);
    });
  }

  /** Waits for the supervisor's init message: what to share and replay before any server starts. */
  static connect(): Promise<{ bus: IpcBus; init: Init }> {
    const bus = new IpcBus();
    return new Promise((resolve) => {
      const poll = () => {
        const i = bus.early.findIndex((m) => m.t === 'init');
        if (i < 0) { process.once('message', poll); return; }
        const [init] = bus.early.splice(i, 1) as [Init];
        resolve({ bus, init });
      };
      poll();
    });
  }

  /** Starts delivering what other processes send (messages that came early are delivered first). */
  listen(events: BusEvents): void {
    this.events = events;
    for (const m of this.early.splice(0)) this.receive(events, m);
  }

  /** Tells the supervisor this process serves every server it was asked to start. */
  started(): void {
    this.post({ t: 'started' });
  }

  serving(server: string, port: number, line: string): void { this.post({ t: 'serving', server, port, line }); }
  stopped(server: string): void { this.post({ t: 'stopped', server }); }
  broadcast(server: string, op: typeof WsOp.text | typeof WsOp.binary, data: Body): void { this.post({ t: 'broadcast', server, op, data }); }
  send(server: string, client: string, op: WsOp, data: Body): void { this.post({ t: 'send', server, client, op, data }); }
  close(server: string, client: string, code: number, reason: string): void { this.post({ t: 'close', server, client, code, reason }); }
  join(server: string, client: string): void { this.post({ t: 'join', server, client }); }
  leave(server: string, client: string): void { this.post({ t: 'leave', server, client }); }

  ask(req: PeerRequest): Promise<PeerAnswer[]> {
    const id = ++this.askSeq;
    return new Promise((resolve) => {
      this.asks.set(id, resolve);
      this.post({ t: 'ask', id, req });
    });
  }

  private post(m: FromEngine): void {
    // Without the supervisor there is nobody to tell; the process is about to stop (see engine-main).
    // A send that fails as the channel closes is that case too: with a callback it is not an 'error' event.
    if (process.connected) process.send!(m, undefined, undefined, ignoreSendError);
  }

  private receive(events: BusEvents, m: ToEngine): void {
    switch (m.t) {
      case 'broadcast': events.broadcast(m.server, m.op, m.data); break;
      case 'send': events.send(m.server, m.client, m.op, m.data); break;
      case 'close': events.close(m.server, m.client, m.code, m.reason); break;
      case 'join': events.join(m.server, m.client); break;
      case 'leave': events.leave(m.server, m.client); break;
      case 'primary': events.primary(m.server, m.primary); break;
      case 'port': events.port(m.server, m.port); break;
      case 'quarantine': events.quarantine(m.server); break;
      case 'asked':
        events.asked(m.req).then(
          (answer) => this.post({ t: 'answer', id: m.id, answer }),
          (err: unknown) => this.post({ t: 'answer', id: m.id, answer: { error: (err as Error)?.message ?? String(err) } }),
        );
        break;
      case 'answers': {
        const done = this.asks.get(m.id);
        this.asks.delete(m.id);
        done?.(m.answers);
        break;
      }
      case 'init': break;
    }
  }
}

function ignoreSendError(): void {}
