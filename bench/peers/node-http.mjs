// node:http with no framework: what a hand-written Node server costs.
import http from 'node:http';
import { HELLO, BINARY_BYTES, jsonAnswer } from '../lib/payloads.mjs';

const BIN = Buffer.alloc(BINARY_BYTES);
for (let i = 0; i < BIN.length; i++) BIN[i] = i & 255;

const server = http.createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/json') {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString());
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(jsonAnswer(body)));
    });
    return;
  }
  if (req.url === '/bin') {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': BIN.length });
    res.end(BIN);
    return;
  }
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.end(HELLO);
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  process.stdout.write(`peer listening on http://127.0.0.1:${server.address().port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
