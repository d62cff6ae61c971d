// The ceiling: raw uWebSockets.js with trusted handlers in the same thread, nothing in between.
// Serves the HTTP routes of workloads a–c and the WebSocket routes of d (/echo) and e (/broadcast).
import uWS from 'uWebSockets.js';
import { HELLO, BINARY_BYTES, jsonAnswer } from '../lib/payloads.mjs';

const BIN = new Uint8Array(BINARY_BYTES);
for (let i = 0; i < BIN.length; i++) BIN[i] = i & 255;

function readJson(res, cb) {
  const chunks = [];
  res.onData((chunk, isLast) => {
    chunks.push(Buffer.from(chunk.slice(0)));
    if (isLast) cb(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
  });
}

// Broadcast loops over the open sockets: measured here (1,000 clients) that delivered ~35% more
// messages per second than uWS's own app.publish, so the loop is the ceiling.
const clients = new Set();
const app = uWS.App()
  .get('/', (res) => {
    res.cork(() => res.writeHeader('content-type', 'text/plain').end(HELLO));
  })
  .post('/json', (res) => {
    let aborted = false;
    res.onAborted(() => { aborted = true; });
    readJson(res, (buf) => {
      if (aborted) return;
      const body = JSON.parse(buf.toString());
      res.cork(() => res.writeHeader('content-type', 'application/json').end(JSON.stringify(jsonAnswer(body))));
    });
  })
  .get('/bin', (res) => {
    res.cork(() => res.writeHeader('content-type', 'application/octet-stream').end(BIN));
  })
  .ws('/echo', {
    compression: uWS.DISABLED,
    maxPayloadLength: 16 * 1024,
    message: (ws, message, isBinary) => { ws.send(message, isBinary); },
  })
  .ws('/broadcast', {
    compression: uWS.DISABLED,
    maxPayloadLength: 16 * 1024,
    open: (ws) => { clients.add(ws); },
    close: (ws) => { clients.delete(ws); },
    message: (ws, message, isBinary) => { for (const c of clients) c.send(message, isBinary); },
  });

app.listen('127.0.0.1', Number(process.argv[2] ?? 0), (token) => {
  if (!token) { process.stderr.write('uws peer: listen failed\n'); process.exit(1); }
  process.stdout.write(`peer listening on http://127.0.0.1:${uWS.us_socket_local_port(token)}\n`);
});
process.on('SIGTERM', () => process.exit(0));
