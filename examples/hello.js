// The README's first example: JSON on /api, 404 elsewhere, and a WebSocket broadcast.
let hits = 0;

/** @type {import('@webdat/engine/callbacks').OnHTTPRequest} */
export function onHTTPRequest(webServer, request, response) {
  hits++;
  if (request.uri === '/api') {
    response['content-type'] = 'application/json';
    response.headers = { 'cache-control': 'no-store' };
    response.data = JSON.stringify({ hits, name: request.pars.name ?? 'world' });
    return response;
  }
  response.statusCode = 404;
  response.statusReason = 'Not Found';
  response.data = 'nothing here';
  return response;
}

/** @type {import('@webdat/engine/callbacks').OnWebSocketReceiveText} */
export function onWebSocketReceiveText(webServer, client, text) {
  webServer.webSocketBroadcastText(`${client} says ${text}`);
}
