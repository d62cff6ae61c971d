import uWS, { type HttpRequest, type HttpResponse, type TemplatedApp, type us_listen_socket } from 'uWebSockets.js';
import type { Endpoint } from '../endpoint.js';
import { EngineError } from '../errors.js';
import { HostRouter } from './host-router.js';
import { assertPortFree } from './port-free.js';
import { freePort } from './free-port.js';
import { handleRequest } from '../http/handle-request.js';
import { misdirected } from '../http/misdirected.js';
import { wsBehavior } from '../ws/behavior.js';

export interface ListenerSpec {
  host: string;
  port: number;
  secure: boolean;
  /** the largest maxMessageBytes of the servers sharing it; each server's own limit is checked per message */
  maxPayloadLength: number;
  /** other processes of this webdat listen on the port too: it is joined, not checked for being free */
  shared?: boolean;
  /** other processes will share it: port 0 becomes a concrete free port, which SO_REUSEPORT allows */
  reusable?: boolean;
}

/**
 * One listening socket and the servers behind it. Servers sharing a port are told apart by the Host
 * header, and when secure each brings its certificate for its own names through SNI. The socket is
 * open while at least one of its servers runs.
 */
export class Listener {
  readonly spec: ListenerSpec;
  private readonly router = new HostRouter<Endpoint>();
  private readonly running = new Set<Endpoint>();
  private readonly sniNames = new Set<string>();
  private app: TemplatedApp | null = null;
  private socket: us_listen_socket | null = null;
  port = 0;

  constructor(spec: ListenerSpec) {
    this.spec = spec;
  }

  /** The processes of this webdat share `port` for these servers: open the socket there next time. */
  share(port: number): void {
    if (this.socket !== null) return;
    this.spec.port = port;
    this.spec.shared = true;
  }

  /** Routes the server's hosts here and opens the socket if it was closed; returns the bound port. */
  async attach(server: Endpoint): Promise<number> {
    this.router.remove(server);
    this.router.add(server.config.hosts, server);
    const app = this.app ?? this.createApp(server);
    if (this.spec.secure) this.addServerNames(app, server);
    if (this.socket === null) {
      if (this.spec.port !== 0 && this.spec.shared !== true) await assertPortFree(this.spec.host, this.spec.port, `server "${server.name}"`);
      const port = this.spec.port === 0 && this.spec.reusable === true ? await freePort(this.spec.host) : this.spec.port;
      this.socket = await new Promise<us_listen_socket>((resolve, reject) => {
        app.listen(this.spec.host, port, (socket) => {
          if (socket) resolve(socket);
          else reject(new EngineError('WEBDAT_ERR_LISTEN', `server "${server.name}" cannot listen on ${this.spec.host}:${port} (address in use or not available)`));
        });
      });
      this.port = uWS.us_socket_local_port(this.socket as unknown as uWS.us_socket);
    }
    this.running.add(server);
    return this.port;
  }

  /**
   * The server is stopping: its hosts answer 503 while others on the port run, and the last one to
   * stop closes the listening socket. Open connections stay until `release`, so the server can still
   * close its WebSockets with a proper code.
   */
  detach(server: Endpoint): void {
    this.running.delete(server);
    if (this.running.size > 0 || this.socket === null) return;
    uWS.us_listen_socket_close(this.socket);
    this.socket = null;
  }

  /** The server has stopped: with no server running here any more, every remaining connection goes. */
  release(): void {
    if (this.running.size > 0 || this.app === null) return;
    (this.app as unknown as { close?: () => void }).close?.();
    this.app = null;
    this.sniNames.clear();
  }

  /** The server was removed from the engine: its hosts are no longer routed here. */
  forget(server: Endpoint): void {
    this.detach(server);
    this.release();
    this.router.remove(server);
  }

  get empty(): boolean {
    return this.router.size === 0;
  }

  publish(topic: string, data: string | Uint8Array, binary: boolean): void {
    this.app?.publish(topic, data, binary);
  }

  /** The server a request is for; the Host header is read only when the port serves several names. */
  route(req: HttpRequest): Endpoint | null {
    return this.router.sole ?? this.router.match(req.getHeader('host'));
  }

  private createApp(first: Endpoint): TemplatedApp {
    let app: TemplatedApp;
    const c = first.config;
    try {
      app = this.spec.secure
        ? uWS.SSLApp({ key_file_name: c.privateKey, cert_file_name: c.certificate, passphrase: c.password })
        : uWS.App();
    } catch {
      throw new EngineError('WEBDAT_ERR_TLS', `server "${first.name}": TLS setup failed for ${c.privateKey} / ${c.certificate}`);
    }
    // Default routes go first: uWS attaches later routes to the SNI domain last selected with domain().
    this.addRoutes(app);
    this.app = app;
    return app;
  }

  private addRoutes(app: TemplatedApp): void {
    app.ws('/*', wsBehavior(this.spec.maxPayloadLength, (req) => this.route(req)));
    app.any('/*', (res: HttpResponse, req: HttpRequest) => {
      const server = this.route(req);
      if (server === null) misdirected(res, req);
      else handleRequest(server, res, req);
    });
  }

  private addServerNames(app: TemplatedApp, server: Endpoint): void {
    const c = server.config;
    for (const name of c.hosts ?? []) {
      if (this.sniNames.has(name)) continue;
      app.addServerName(name, { key_file_name: c.privateKey, cert_file_name: c.certificate, passphrase: c.password });
      this.addRoutes(app.domain(name));
      this.sniNames.add(name);
    }
  }
}
