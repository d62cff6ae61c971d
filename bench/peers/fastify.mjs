// fastify 5, the reference Node.js framework, with its defaults (logger off).
import Fastify from 'fastify';
import { HELLO, BINARY_BYTES, jsonAnswer } from '../lib/payloads.mjs';

const BIN = Buffer.alloc(BINARY_BYTES);
for (let i = 0; i < BIN.length; i++) BIN[i] = i & 255;

const app = Fastify({ logger: false, keepAliveTimeout: 60_000 });
app.get('/', (req, reply) => { reply.type('text/plain').send(HELLO); });
app.post('/json', (req, reply) => { reply.send(jsonAnswer(req.body)); });
app.get('/bin', (req, reply) => { reply.type('application/octet-stream').send(BIN); });

const address = await app.listen({ host: '127.0.0.1', port: Number(process.argv[2] ?? 0) });
process.stdout.write(`peer listening on ${address}\n`);
process.on('SIGTERM', () => process.exit(0));
