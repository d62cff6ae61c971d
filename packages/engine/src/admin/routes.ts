import type { HttpResponse } from 'uWebSockets.js';
import type { Logger } from '../log.js';
import type { WebdatServer } from '../server.js';
import type { InfoSnapshot } from '@webdat/protocol';
import type { Bus } from '../cluster/bus.js';
import { fanOut, hostInfo } from './host-view.js';
import { isEngineError } from '../errors.js';
import { readBody } from '../http/read-body.js';
import type { AdminAuth, AuthVerdict, Credentials, Principal } from './auth.js';
import type { AuditLog } from './audit.js';
import type { AdminMetrics } from './metrics.js';
import type { LatencyHistory } from './latency-history.js';
import { DASHBOARD_HEADERS, DASHBOARD_HTML } from './dashboard.js';
import { Reply } from './reply.js';

// The admin API's routes (SPEC §7), read top to bottom: who is asking (auth.ts), which route, which
// method, then the handler. Everything read from uWS's request arrives in `AdminRequest`, copied
// synchronously by the listener; a PUT body is read here before anything asynchronous happens.

/** What the admin API needs from the engine. */
export interface AdminHost {
  readonly logger: Logger;
  list(): WebdatServer[];
  /** throws WEBDAT_ERR_SERVER_UNKNOWN */
  server(name: string): WebdatServer;
  /** the other engine processes of this host, whose servers the admin API shows and acts on too */
  readonly bus: Bus | null;
}

export interface AdminRequest {
  method: string;
  path: string;
  remote: string;
  credentials: Credentials;
  contentLength: string;
  chunked: boolean;
}

export interface AdminContext {
  host: AdminHost;
  auth: AdminAuth;
  metrics: AdminMetrics;
  /** the dashboard's last five minutes of req/s, p50 and p99 per server */
  history: LatencyHistory;
  log: Logger;
  audit: AuditLog;
}

/** The largest callbacks source PUT accepts (a module, not a bundle of assets). */
export const MAX_SOURCE_BYTES = 1024 * 1024;

const ACTIONS = ['start', 'stop', 'restart'] as const;
type Action = (typeof ACTIONS)[number];

type Route =
  | { kind: 'dashboard' | 'metrics' | 'list' | 'latency'; allow: 'GET' }
  | { kind: 'server'; allow: 'GET'; name: string }
  | { kind: 'action'; allow: 'POST'; name: string; action: Action }
  | { kind: 'callbacks'; allow: 'PUT'; name: string };

const SERVER_PATH = /^\/servers\/([^/]+)(?:\/([a-z]+))?$/;

function resolve(path: string): Route | null {
  if (path === '/') return { kind: 'dashboard', allow: 'GET' };
  if (path === '/metrics') return { kind: 'metrics', allow: 'GET' };
  if (path === '/servers') return { kind: 'list', allow: 'GET' };
  if (path === '/latency') return { kind: 'latency', allow: 'GET' };
  const m = SERVER_PATH.exec(path);
  if (m === null) return null;
  let name: string;
  try {
    name = decodeURIComponent(m[1]);
  } catch {
    return null;
  }
  const sub = m[2];
  if (sub === undefined) return { kind: 'server', allow: 'GET', name };
  if (sub === 'callbacks') return { kind: 'callbacks', allow: 'PUT', name };
  if ((ACTIONS as readonly string[]).includes(sub)) return { kind: 'action', allow: 'POST', name, action: sub as Action };
  return null;
}

/** The JSON shape of one server in GET /servers and every answer about a server; `info` covers the host. */
export function describe(s: WebdatServer, info: InfoSnapshot | undefined): Record<string, unknown> {
  const { primary: _primary, ...channels } = info ?? s.info();
  return {
    name: s.name,
    running: s.running,
    host: s.config.host,
    port: s.port || s.config.port,
    secure: s.config.secure,
    ...channels,
  };
}

/** What a route is called in audit lines: actions by their SPEC §7 names. */
function actionOf(route: Route | null): string | null {
  if (route === null) return null;
  if (route.kind === 'action') return route.action;
  if (route.kind === 'callbacks') return 'upload';
  return route.kind;
}

function refusal(verdict: AuthVerdict, status: number): string {
  if (verdict === 'missing') return 'admin request without a bearer token refused';
  if (verdict === 'invalid') return 'admin request with a wrong token refused';
  if (verdict === 'foreign') return 'admin request a browser sent from another origin refused';
  return status === 403 ? 'admin action refused: the token has the read role' : 'admin request refused';
}

/** Audits the answer to `req` once it is known: every action attempted, every 401 and 403. */
function auditAnswer(ctx: AdminContext, reply: Reply, req: AdminRequest, route: Route | null, method: string, verdict: AuthVerdict): void {
  const isAction = route !== null && (route.kind === 'action' || route.kind === 'callbacks') && method === route.allow;
  reply.observe((status) => {
    if (!isAction && status !== 401 && status !== 403) return;
    const refused = status === 401 || status === 403;
    const action = actionOf(route);
    ctx.audit.write({
      action,
      server: route !== null && 'name' in route ? route.name : null,
      token: typeof verdict === 'object' ? verdict.name : null,
      remote: req.remote,
      method: req.method,
      path: req.path,
      result: status,
    }, refused ? refusal(verdict, status) : `admin: ${action} answered ${status}`);
  });
}

export function dispatch(ctx: AdminContext, reply: Reply, req: AdminRequest): void {
  const route = resolve(req.path);
  // HEAD is a GET without the body (Reply leaves it out).
  const method = req.method === 'HEAD' ? 'GET' : req.method;
  const verdict = ctx.auth.check(req.credentials);
  auditAnswer(ctx, reply, req, route, method, verdict);
  if (verdict === 'foreign') {
    reply.error(403, 'forbidden', 'the admin API has no token, so it answers only requests addressed to a loopback host from no other origin');
    return;
  }
  // The page carries no data; it asks for the token itself.
  if (route?.kind === 'dashboard' && method === 'GET') {
    reply.send(200, DASHBOARD_HEADERS, DASHBOARD_HTML);
    return;
  }
  if (verdict === 'missing' || verdict === 'invalid') {
    // The token is never logged, and neither is what was sent in its place.
    const challenge = verdict === 'missing' ? 'Bearer realm="webdat admin"' : 'Bearer realm="webdat admin", error="invalid_token"';
    reply.error(401, 'unauthorized', verdict === 'missing' ? 'a bearer token is required' : 'the bearer token is not valid', { 'www-authenticate': challenge });
    return;
  }
  // The dashboard reads it to show action buttons only to those who may use them.
  reply.header('x-webdat-role', verdict.role);
  if (route === null) {
    reply.error(404, 'not-found', `no admin route ${req.path}`);
    return;
  }
  if (method !== route.allow) {
    const allow = route.allow === 'GET' ? 'GET, HEAD' : route.allow;
    reply.error(405, 'method-not-allowed', `${req.path} accepts ${allow} only`, { allow });
    return;
  }
  if (!permits(verdict, route)) {
    reply.error(403, 'forbidden', `the token "${verdict.name}" has the read role: it may use GET routes only`);
    return;
  }
  switch (route.kind) {
    case 'dashboard':
      return; // answered above
    case 'list':
      hostInfo(ctx.host.list(), ctx.host.bus).then(
        (all) => reply.json(200, { servers: ctx.host.list().map((s) => describe(s, all.get(s.name))) }),
        (err: unknown) => internal(ctx, reply, err),
      );
      return;
    case 'latency':
      reply.json(200, ctx.history.toJSON());
      return;
    case 'metrics':
      ctx.metrics.scrape().then(
        (text) => reply.send(200, { 'content-type': ctx.metrics.contentType }, text),
        (err: unknown) => internal(ctx, reply, err),
      );
      return;
  }
  const server = find(ctx, reply, route.name);
  if (server === null) return;
  switch (route.kind) {
    case 'server':
      answerWith(ctx, reply, 200, server);
      return;
    case 'action':
      runAction(ctx, reply, req, server, route.action);
      return;
    case 'callbacks':
      receiveSource(ctx, reply, req, server);
      return;
  }
}

/** `read` may use every GET route; `operator` every route. */
function permits(p: Principal, route: Route): boolean {
  return p.role === 'operator' || route.allow === 'GET';
}

function find(ctx: AdminContext, reply: Reply, name: string): WebdatServer | null {
  try {
    return ctx.host.server(name);
  } catch (err) {
    if (isEngineError(err) && err.code === 'WEBDAT_ERR_SERVER_UNKNOWN') reply.error(404, err.code, err.message);
    else internal(ctx, reply, err);
    return null;
  }
}

function runAction(ctx: AdminContext, reply: Reply, req: AdminRequest, server: WebdatServer, action: Action): void {
  ctx.log.info({ server: server.name, remote: req.remote }, `admin: ${action}`);
  server.operations.run(async () => {
    await server[action]();
    await fanOut(ctx.host.bus, { kind: 'action', server: server.name, action }, ctx.log);
  }).then(
    () => answerWith(ctx, reply, 200, server),
    (err: unknown) => {
      ctx.log.error({ server: server.name, err: (err as Error).message }, `admin: ${action} failed`);
      if (isEngineError(err)) reply.error(500, err.code, err.message);
      else internal(ctx, reply, err);
    },
  );
}

function receiveSource(ctx: AdminContext, reply: Reply, req: AdminRequest, server: WebdatServer): void {
  const res: HttpResponse = reply.response;
  if (req.contentLength !== '' && !/^\d+$/.test(req.contentLength)) {
    reply.error(400, 'bad-request', 'invalid Content-Length', {}, true);
    return;
  }
  const expected = req.contentLength === '' ? (req.chunked ? -1 : 0) : Number(req.contentLength);
  const tooLarge = () => reply.error(413, 'body-too-large', `a callbacks source may have at most ${MAX_SOURCE_BYTES} bytes`, {}, true);
  if (expected > MAX_SOURCE_BYTES) { tooLarge(); return; }
  if (expected === 0) { loadSource(ctx, reply, req, server, new Uint8Array(0)); return; }
  readBody(res, expected, MAX_SOURCE_BYTES, (body) => loadSource(ctx, reply, req, server, body), tooLarge);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Same path as a --watch reload: compiled in a fresh isolate, swapped in only if it loads. */
function loadSource(ctx: AdminContext, reply: Reply, req: AdminRequest, server: WebdatServer, body: Uint8Array): void {
  if (!reply.open) return;
  if (body.length === 0) {
    reply.error(400, 'bad-request', 'the request body must be the callbacks module source (it was empty)');
    return;
  }
  let source: string;
  try {
    source = utf8.decode(body);
  } catch {
    reply.error(400, 'bad-request', 'the callbacks source is not valid UTF-8');
    return;
  }
  server.operations.run(async () => {
    await server.load(source);
    await fanOut(ctx.host.bus, { kind: 'upload', server: server.name, source }, ctx.log);
  }).then(
    () => {
      ctx.log.info({ server: server.name, remote: req.remote, bytes: body.length }, 'admin: callbacks replaced');
      answerWith(ctx, reply, 200, server);
    },
    (err: unknown) => {
      if (isEngineError(err) && err.code === 'WEBDAT_ERR_CALLBACKS_LOAD') {
        ctx.log.warn({ server: server.name, remote: req.remote, err: err.message }, 'admin: new callbacks did not load; the old code keeps serving');
        reply.error(400, err.code, err.message);
      } else {
        internal(ctx, reply, err);
      }
    },
  );
}

/** Answers with the server as every process of the host sees it. */
function answerWith(ctx: AdminContext, reply: Reply, status: number, server: WebdatServer): void {
  hostInfo([server], ctx.host.bus).then(
    (all) => reply.json(status, describe(server, all.get(server.name))),
    (err: unknown) => internal(ctx, reply, err),
  );
}

function internal(ctx: AdminContext, reply: Reply, err: unknown): void {
  ctx.log.error({ err: (err as Error)?.message ?? String(err) }, 'admin: internal error');
  reply.error(500, 'internal', 'internal error (see the log)');
}
