// A ticker, as TouchDesigner users build with Timer and Execute DATs: every second, every WebSocket
// client gets the time and a counter. GET /rate?ms=250 changes the period; GET / says how it goes.

let tick = 0;
let periodMs = 1000;
let timer = null;

function start(webServer) {
  if (timer !== null) clearInterval(timer);
  timer = setInterval(() => {
    tick++;
    webServer.webSocketBroadcastText(JSON.stringify({ tick, at: new Date().toISOString() }));
  }, periodMs);
}

/** @type {import('@webdat/engine/callbacks').OnServerStart} */
export function onServerStart(webServer) {
  start(webServer);
}

/** @type {import('@webdat/engine/callbacks').OnHTTPRequest} */
export function onHTTPRequest(webServer, request, response) {
  if (request.uri === '/rate') {
    const ms = Number(request.pars.ms);
    if (!Number.isInteger(ms) || ms < 10 || ms > 60_000) {
      response.statusCode = 400;
      response.data = 'ms must be an integer from 10 to 60000\n';
      return;
    }
    periodMs = ms;
    start(webServer);
  }
  response['content-type'] = 'application/json';
  response.data = JSON.stringify({ tick, periodMs, clients: webServer.webSocketConnections.length });
}

/** @type {import('@webdat/engine/callbacks').OnWebSocketOpen} */
export function onWebSocketOpen(webServer, client) {
  webServer.webSocketSendText(client, JSON.stringify({ hello: `one tick every ${periodMs} ms` }));
}
