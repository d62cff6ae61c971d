// A chat room: the page on HTTP, every message broadcast to every WebSocket client.
import { page } from './page.js';

const MAX_TEXT = 500;

/** @type {import('@webdat/engine/callbacks').OnHTTPRequest} */
export function onHTTPRequest(webServer, request, response) {
  response['content-type'] = 'text/html; charset=utf-8';
  response.data = page;
  return response;
}

/** @type {import('@webdat/engine/callbacks').OnWebSocketOpen} */
export function onWebSocketOpen(webServer, client) {
  webServer.webSocketBroadcastText(JSON.stringify({ system: `someone joined (${webServer.webSocketConnections.length} here)` }));
}

/** @type {import('@webdat/engine/callbacks').OnWebSocketReceiveText} */
export function onWebSocketReceiveText(webServer, client, data) {
  let message;
  try {
    message = JSON.parse(data);
  } catch {
    webServer.webSocketSendText(client, JSON.stringify({ system: 'messages are JSON: {"nick", "text"}' }));
    return;
  }
  const nick = String(message.nick ?? 'anonymous').slice(0, 32);
  const text = String(message.text ?? '').slice(0, MAX_TEXT);
  webServer.webSocketBroadcastText(JSON.stringify({ nick, text }));
}

/** @type {import('@webdat/engine/callbacks').OnWebSocketClose} */
export function onWebSocketClose(webServer) {
  webServer.webSocketBroadcastText(JSON.stringify({ system: `someone left (${webServer.webSocketConnections.length} here)` }));
}
