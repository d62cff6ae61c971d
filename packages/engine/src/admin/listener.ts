import uWS, { type TemplatedApp, type us_listen_socket } from 'uWebSockets.js';
import type { AdminConfig } from '../config/schema.js';
import { EngineError } from '../errors.js';
import { assertPortFree } from '../net/port-free.js';
import { remoteAddress } from '../http/handle-request.js';
import { AdminAuth } from './auth.js';
import { isLoopbackHost } from './loopback.js';
import { AdminMetrics } from './metrics.js';
import { Reply } from './reply.js';
import { dispatch, type AdminContext, type AdminHost } from './routes.js';

// The admin API's own uWS app on the engine's event loop: a separate listening socket, so the
// servers' sockets and limits never see admin traffic, and admin traffic never goes to an isolate.

export interface AdminListenerOptions {
  /** called with the readiness line `webdat: admin listening on http://HOST:PORT` */
  announce(line: string): void;
}

export class AdminListener {
  readonly config: AdminConfig;
  private readonly ctx: AdminContext;
  private readonly announce: (line: string) => void;
  private app: TemplatedApp | null = null;
  private socket: us_listen_socket | null = null;
  port = 0;

  constructor(host: AdminHost, config: AdminConfig, opts: AdminListenerOptions) {
    // The config schema refuses this too; repeated for engines built from an unchecked object.
    if (config.token === undefined && !isLoopbackHost(config.host)) {
      throw new EngineError('WEBDAT_ERR_CONFIG', `admin.token: is required when admin.host ("${config.host}") is not a loopback address`);
    }
    this.config = config;
    this.announce = opts.announce;
    this.ctx = {
      host,
      auth: new AdminAuth(config.token),
      metrics: new AdminMetrics(() => host.list()),
      log: host.logger.child({ admin: true }),
      ops: new Map(),
    };
  }

  get url(): string {
    const host = this.config.host.includes(':') ? `[${this.config.host}]` : this.config.host;
    return `http://${host}:${this.port}`;
  }

  async start(): Promise<void> {
    if (this.app !== null) return;
    const { host, port } = this.config;
    if (port !== 0) await assertPortFree(host, port, 'the admin API');
    const app = uWS.App();
    app.any('/*', (res, req) => {
      const method = req.getCaseSensitiveMethod();
      const reply = new Reply(res, method === 'HEAD'); // onAborted first
      dispatch(this.ctx, reply, {
        method,
        path: req.getUrl(),
        remote: remoteAddress(res),
        credentials: { authorization: req.getHeader('authorization'), host: req.getHeader('host'), origin: req.getHeader('origin') },
        contentLength: req.getHeader('content-length'),
        chunked: req.getHeader('transfer-encoding') !== '',
      });
    });
    this.socket = await new Promise<us_listen_socket>((resolve, reject) => {
      app.listen(host, port, (socket) => {
        if (socket) resolve(socket);
        else reject(new EngineError('WEBDAT_ERR_LISTEN', `the admin API cannot listen on ${host}:${port} (address in use or not available)`));
      });
    });
    this.app = app;
    this.port = uWS.us_socket_local_port(this.socket as unknown as uWS.us_socket);
    this.ctx.log.info({ url: this.url, auth: this.ctx.auth.tokenRequired ? 'bearer token' : 'none (loopback only)' }, 'admin API listening');
    this.announce(`webdat: admin listening on ${this.url}`);
  }

  /** Stops accepting and closes every admin connection at once (answers in flight are dropped). */
  close(): void {
    if (this.socket !== null) uWS.us_listen_socket_close(this.socket);
    this.socket = null;
    (this.app as unknown as { close?: () => void } | null)?.close?.();
    this.app = null;
  }
}
