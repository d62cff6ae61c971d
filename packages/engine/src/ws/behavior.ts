import type { HttpRequest, HttpResponse, WebSocketBehavior, us_socket_context_t } from 'uWebSockets.js';
import { EventKind } from '@webdat/protocol';
import type { Endpoint, Ws, WsData } from '../endpoint.js';
import { remoteAddress } from '../net/remote-address.js';
import { misdirected } from '../http/misdirected.js';

/** Per-connection send buffer before a slow reader is disconnected (see README, "Slow readers"). */
export const MAX_BACKPRESSURE = 1024 * 1024;

let connectionSeq = 0;
// uWS has already refused text frames that are not UTF-8; TextDecoder is half the cost of Buffer here.
const utf8 = new TextDecoder();

function copy(message: ArrayBuffer): Uint8Array {
  // uWS neuters the buffer when the handler returns.
  return new Uint8Array(message.slice(0));
}

/**
 * What uWS buffers of one message before it gives up on it. uWS v20.30 ends a connection over its
 * maxPayloadLength without a close frame (the client sees 1006), so it admits twice the largest
 * `maxMessageBytes` of the port and the `message` handler below closes with 1009 itself.
 * (uWS reads the option as a 32-bit signed integer.)
 */
function admittedPayload(maxMessageBytes: number): number {
  return Math.min(2 * maxMessageBytes, 0x7fffffff);
}

/**
 * One behaviour per listener; each connection carries the server `route` chose by its Host header.
 * `maxMessageBytes` is the largest of the servers on the listener.
 */
export function wsBehavior(maxMessageBytes: number, route: (req: HttpRequest) => Endpoint | null): WebSocketBehavior<WsData> {
  return {
    maxPayloadLength: admittedPayload(maxMessageBytes),
    maxBackpressure: MAX_BACKPRESSURE,
    closeOnBackpressureLimit: 1,
    idleTimeout: 120,
    sendPingsAutomatically: true,
    upgrade(res: HttpResponse, req: HttpRequest, context: us_socket_context_t) {
      const server = route(req);
      if (server === null) { misdirected(res, req); return; }
      const query = req.getQuery();
      const uri = query ? `${req.getUrl()}?${query}` : req.getUrl();
      const key = req.getHeader('sec-websocket-key');
      const protocol = req.getHeader('sec-websocket-protocol');
      const extensions = req.getHeader('sec-websocket-extensions');
      if (!server.accepting || server.clients.size >= server.limits.maxConnections) {
        server.counters.connectionsRefused++;
        res.cork(() => {
          res.writeStatus('503 Service Unavailable').writeHeader('x-webdat-error', 'max-connections').end('Too many connections.\n', true);
        });
        return;
      }
      const client = `${remoteAddress(res)}#${server.clientTag}${++connectionSeq}`;
      res.upgrade<WsData>({ client, uri, closed: false, server, instance: server.pickInstance() }, key, protocol, extensions, context);
    },
    open(ws: Ws) {
      const d = ws.getUserData();
      d.server.clients.set(d.client, ws);
      d.server.joined(d.client);
      ws.subscribe(d.server.topic);
      d.server.submitWs(ws, { k: EventKind.wsOpen, id: 0, client: d.client, uri: d.uri });
    },
    message(ws: Ws, message: ArrayBuffer, isBinary: boolean) {
      const d = ws.getUserData();
      // The listener admits more than any server on it allows; this one's own limit applies here.
      if (message.byteLength > d.server.limits.maxMessageBytes) { ws.end(1009, 'Message Too Big'); return; }
      d.server.counters.bytesIn += message.byteLength;
      if (isBinary) d.server.submitWs(ws, { k: EventKind.wsBinary, id: 0, client: d.client, data: copy(message) });
      else d.server.submitWs(ws, { k: EventKind.wsText, id: 0, client: d.client, data: utf8.decode(message) });
    },
    ping(ws: Ws, message: ArrayBuffer) {
      const d = ws.getUserData();
      d.server.submitWs(ws, { k: EventKind.wsPing, id: 0, client: d.client, data: copy(message) });
    },
    pong(ws: Ws, message: ArrayBuffer) {
      const d = ws.getUserData();
      d.server.submitWs(ws, { k: EventKind.wsPong, id: 0, client: d.client, data: copy(message) });
    },
    close(ws: Ws) {
      const d = ws.getUserData();
      d.closed = true;
      d.server.clients.delete(d.client);
      d.server.left(d.client);
      d.server.submitWs(ws, { k: EventKind.wsClose, id: 0, client: d.client }, false);
    },
  };
}
