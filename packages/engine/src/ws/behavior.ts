import type { HttpRequest, HttpResponse, WebSocketBehavior, us_socket_context_t } from 'uWebSockets.js';
import { EventKind } from '@webdat/protocol';
import type { WebdatServer } from '../server.js';
import type { Ws, WsData } from '../server-state.js';
import { remoteAddress } from '../http/handle-request.js';

/** Per-connection send buffer before a slow reader is disconnected (see README, "Slow readers"). */
export const MAX_BACKPRESSURE = 1024 * 1024;
export const BROADCAST_TOPIC = 'webdat/broadcast';

let connectionSeq = 0;

function copy(message: ArrayBuffer): Uint8Array {
  // uWS neuters the buffer when the handler returns.
  return new Uint8Array(message.slice(0));
}

export function wsBehavior(server: WebdatServer): WebSocketBehavior<WsData> {
  const limits = server.limits;
  return {
    maxPayloadLength: limits.maxMessageBytes,
    maxBackpressure: MAX_BACKPRESSURE,
    closeOnBackpressureLimit: 1,
    idleTimeout: 120,
    sendPingsAutomatically: true,
    upgrade(res: HttpResponse, req: HttpRequest, context: us_socket_context_t) {
      const query = req.getQuery();
      const uri = query ? `${req.getUrl()}?${query}` : req.getUrl();
      const key = req.getHeader('sec-websocket-key');
      const protocol = req.getHeader('sec-websocket-protocol');
      const extensions = req.getHeader('sec-websocket-extensions');
      if (!server.accepting || server.clients.size >= limits.maxConnections) {
        server.counters.connectionsRefused++;
        res.cork(() => {
          res.writeStatus('503 Service Unavailable').writeHeader('x-webdat-error', 'max-connections').end('Too many connections.\n', true);
        });
        return;
      }
      const client = `${remoteAddress(res)}#${++connectionSeq}`;
      res.upgrade<WsData>({ client, uri, closed: false }, key, protocol, extensions, context);
    },
    open(ws: Ws) {
      const d = ws.getUserData();
      server.clients.set(d.client, ws);
      ws.subscribe(BROADCAST_TOPIC);
      server.submitWs(ws, { k: EventKind.wsOpen, id: 0, client: d.client, uri: d.uri });
    },
    message(ws: Ws, message: ArrayBuffer, isBinary: boolean) {
      const d = ws.getUserData();
      server.counters.bytesIn += message.byteLength;
      if (isBinary) server.submitWs(ws, { k: EventKind.wsBinary, id: 0, client: d.client, data: copy(message) });
      else server.submitWs(ws, { k: EventKind.wsText, id: 0, client: d.client, data: Buffer.from(message).toString('utf8') });
    },
    ping(ws: Ws, message: ArrayBuffer) {
      server.submitWs(ws, { k: EventKind.wsPing, id: 0, client: ws.getUserData().client, data: copy(message) });
    },
    pong(ws: Ws, message: ArrayBuffer) {
      server.submitWs(ws, { k: EventKind.wsPong, id: 0, client: ws.getUserData().client, data: copy(message) });
    },
    close(ws: Ws) {
      const d = ws.getUserData();
      d.closed = true;
      server.clients.delete(d.client);
      server.submitWs(null, { k: EventKind.wsClose, id: 0, client: d.client });
    },
  };
}
