import uWS, { type TemplatedApp, type us_listen_socket } from 'uWebSockets.js';
import { adminExposure, type AdminConfig } from '../config/schema.js';
import { EngineError, isEngineError } from '../errors.js';
import { assertPortFree } from '../net/port-free.js';
import { remoteAddress } from '../net/remote-address.js';
import { checkTls } from '../tls.js';
import { AuditLog } from './audit.js';
import { AdminAuth } from './auth.js';
import { AdminMetrics } from './metrics.js';
import { hostInfo } from './host-view.js';
import { LatencyHistory, SAMPLE_SECONDS } from './latency-history.js';
import { Reply } from './reply.js';
import { dispatch, type AdminContext, type AdminHost } from './routes.js';

// The admin API's own uWS app on the engine's event loop: a separate listening socket, so the
// servers' sockets and limits never see admin traffic, and admin traffic never goes to an isolate.
// With `admin.secure` it is an HTTPS-only listener, its key and certificate checked like a server's.

export interface AdminListenerOptions {
  /** called with the readiness line `webdat: admin listening on http(s)://HOST:PORT` */
  announce(line: string): void;
}

export class AdminListener {
  readonly config: AdminConfig;
  private readonly ctx: AdminContext;
  private readonly announce: (line: string) => void;
  private app: TemplatedApp | null = null;
  private socket: us_listen_socket | null = null;
  private sampler: NodeJS.Timeout | null = null;
  port = 0;

  /** Checks what the config schema checks (for engines built from an unchecked object) and the TLS files. */
  constructor(host: AdminHost, config: AdminConfig, opts: AdminListenerOptions) {
    const problems = adminExposure(config);
    if (problems.length > 0) throw new EngineError('WEBDAT_ERR_CONFIG', problems.map((p) => `admin.${p.key}: ${p.message}`).join('\n'));
    if (config.secure) checkAdminTls(config);
    this.config = config;
    this.announce = opts.announce;
    const log = host.logger.child({ admin: true });
    const auth = new AdminAuth(config);
    this.ctx = {
      host,
      auth,
      // Durations are measured where requests arrive: this process's (README: several processes).
      metrics: new AdminMetrics(() => hostInfo(host.list(), host.bus), () => host.list(), config.metrics?.perServer ?? true),
      history: new LatencyHistory(() => host.list()),
      log,
      audit: new AuditLog(log, (text) => auth.redact(text)),
    };
  }

  get url(): string {
    const host = this.config.host.includes(':') ? `[${this.config.host}]` : this.config.host;
    return `${this.config.secure ? 'https' : 'http'}://${host}:${this.port}`;
  }

  async start(): Promise<void> {
    if (this.app !== null) return;
    const { host, port } = this.config;
    if (port !== 0) await assertPortFree(host, port, 'the admin API');
    const app = this.createApp();
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
    this.ctx.history.tick();
    this.sampler = setInterval(() => this.ctx.history.tick(), SAMPLE_SECONDS * 1000).unref();
    this.port = uWS.us_socket_local_port(this.socket as unknown as uWS.us_socket);
    this.ctx.log.info({ url: this.url, auth: this.ctx.auth.tokenRequired ? 'bearer tokens' : 'none (loopback only)' }, 'admin API listening');
    this.announce(`webdat: admin listening on ${this.url}`);
  }

  private createApp(): TemplatedApp {
    const c = this.config;
    if (!c.secure) return uWS.App();
    try {
      return uWS.SSLApp({ key_file_name: c.privateKey, cert_file_name: c.certificate, passphrase: c.password });
    } catch {
      throw new EngineError('WEBDAT_ERR_TLS', `admin: TLS setup failed for ${c.privateKey} / ${c.certificate}`);
    }
  }

  /** Stops accepting and closes every admin connection at once (answers in flight are dropped). */
  close(): void {
    if (this.sampler !== null) clearInterval(this.sampler);
    this.sampler = null;
    if (this.socket !== null) uWS.us_listen_socket_close(this.socket);
    this.socket = null;
    (this.app as unknown as { close?: () => void } | null)?.close?.();
    this.app = null;
  }
}

/** The servers' TLS checks (tls.ts), their messages marked as the admin API's. */
function checkAdminTls(c: AdminConfig): void {
  try {
    checkTls({ privateKey: c.privateKey!, certificate: c.certificate!, password: c.password });
  } catch (err) {
    if (isEngineError(err)) throw new EngineError(err.code, `admin: ${err.message}`);
    throw err;
  }
}
