// The `ws` library's server, the usual Node.js WebSocket choice: /echo and /broadcast as in uws.mjs.
import { WebSocketServer } from 'ws';

const wss = new WebSocketServer({ host: '127.0.0.1', port: Number(process.argv[2] ?? 0), perMessageDeflate: false, clientTracking: true });
wss.on('connection', (ws, req) => {
  if (req.url === '/broadcast') {
    ws.on('message', (data, isBinary) => {
      for (const c of wss.clients) c.send(data, { binary: isBinary });
    });
  } else {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  }
});
wss.on('listening', () => {
  process.stdout.write(`peer listening on http://127.0.0.1:${wss.address().port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
