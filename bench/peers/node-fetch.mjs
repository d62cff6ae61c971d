// Workload m's peer: node:http making one outbound fetch per request with undici (the HTTP client
// webdat's fetch uses) and answering with the upstream's body.
import http from 'node:http';
import { Agent, fetch } from 'undici';

const upstream = process.argv[3];
if (!upstream) throw new Error('usage: node-fetch.mjs PORT UPSTREAM_URL');
const dispatcher = new Agent();

const server = http.createServer(async (req, res) => {
  try {
    const r = await fetch(upstream, { dispatcher });
    const text = await r.text();
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(text);
  } catch (err) {
    res.writeHead(502, { 'content-type': 'text/plain' });
    res.end(String(err));
  }
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  process.stdout.write(`peer listening on http://127.0.0.1:${server.address().port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
