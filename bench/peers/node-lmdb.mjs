// Workload l's peer: node:http reading and writing one stored key per request with lmdb called
// directly, opened as webdat opens its store (packages/sandbox/src/worker/capabilities/storage/): one
// environment, a binary database, msgpack values, and a put acknowledged after its fsync.
import http from 'node:http';
import { open } from 'lmdb';
import { Packr } from 'msgpackr';

const dir = process.argv[3];
if (!dir) throw new Error('usage: node-lmdb.mjs PORT DATA_DIR');
// overlappingSync false, as webdat: a put resolves after its commit is on disk, not before
const root = open({ path: dir, maxDbs: 4, overlappingSync: false });
const data = root.openDB('data', { keyEncoding: 'binary', encoding: 'binary' });
const packr = new Packr({ structuredClone: true, moreTypes: true, mapsAsObjects: false, useRecords: true, copyBuffers: true });
const KEY = Buffer.from('hits');

const server = http.createServer(async (req, res) => {
  const stored = data.getBinaryFast(KEY);
  const hits = (stored === undefined ? 0 : packr.unpack(stored)) + 1;
  await data.put(KEY, packr.pack(hits));
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.end(String(hits));
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  process.stdout.write(`peer listening on http://127.0.0.1:${server.address().port}\n`);
});
process.on('SIGTERM', () => { void root.close().finally(() => process.exit(0)); });
