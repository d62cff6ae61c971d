import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';

// A real HTTP or HTTPS upstream on 127.0.0.1 for outbound-fetch tests, with routes that echo,
// redirect, send sized, chunked or gzip bodies, and hold a response open until released.

export interface Upstream {
  port: number;
  origin: string;
  /** requests seen, as "METHOD /path" */
  seen: string[];
  /** requests for /hold (or /hold?drip) that arrived so far, and a promise for when the count reaches `n` */
  holds: Count;
  /** held requests whose connection closed before they were answered */
  holdsCut: Count;
  /** ends every held /hold response with the body "released" */
  releaseHeld(): void;
  /** TCP (or TLS) connections accepted so far */
  connections(): number;
  close(): Promise<void>;
}

export interface Count {
  readonly value: number;
  reach(n: number): Promise<void>;
}

/** Counts that tests can wait for without polling or timing. */
class Counter implements Count {
  value = 0;
  readonly #waiters: { n: number; resolve: () => void }[] = [];
  bump(): void {
    this.value++;
    for (const w of this.#waiters.filter((w) => this.value >= w.n)) {
      this.#waiters.splice(this.#waiters.indexOf(w), 1);
      w.resolve();
    }
  }
  reach(n: number): Promise<void> {
    return this.value >= n ? Promise.resolve() : new Promise((resolve) => this.#waiters.push({ n, resolve }));
  }
}

function route(seen: string[], heldResponses: http.ServerResponse[], held: Counter, closed: Counter) {
  return (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    seen.push(`${req.method} ${url.pathname}`);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      switch (url.pathname) {
        case '/echo':
          res.setHeader('content-type', 'application/json');
          res.setHeader('set-cookie', ['a=1', 'b=2']);
          res.end(JSON.stringify({ method: req.method, headers: req.headers, body: body.toString('base64') }));
          return;
        case '/redirect':
          res.writeHead(Number(url.searchParams.get('status') ?? 302), { location: url.searchParams.get('to') ?? '/echo' });
          res.end('moved');
          return;
        case '/loop':
          res.writeHead(302, { location: '/loop' });
          res.end();
          return;
        case '/bytes': {
          const n = Number(url.searchParams.get('n'));
          if (url.searchParams.has('chunked')) {
            res.write(Buffer.alloc(Math.floor(n / 2), 'a'));
            res.end(Buffer.alloc(n - Math.floor(n / 2), 'b'));
          } else res.end(Buffer.alloc(n, 'x'));
          return;
        }
        case '/gzip':
          res.writeHead(200, { 'content-encoding': 'gzip' });
          res.end(zlib.gzipSync(Buffer.alloc(Number(url.searchParams.get('n')), 0)));
          return;
        case '/empty':
          res.writeHead(204);
          res.end();
          return;
        case '/hold': {
          heldResponses.push(res);
          // ?drip: the status and headers come at once, then the body trickles a byte at a time.
          const drip = url.searchParams.has('drip') ? setInterval(() => res.write('.'), 20) : null;
          if (drip !== null) res.writeHead(200, { 'content-type': 'text/plain' });
          res.on('close', () => {
            if (drip !== null) clearInterval(drip);
            if (!res.writableEnded) closed.bump();
          });
          held.bump();
          return;
        }
        default:
          res.writeHead(200, { 'content-type': 'text/plain', 'x-upstream': 'yes' });
          res.end('hello');
      }
    });
  };
}

export async function startUpstream(tlsFiles?: { key: string; cert: string }): Promise<Upstream> {
  const seen: string[] = [];
  const heldResponses: http.ServerResponse[] = [];
  const held = new Counter();
  const closed = new Counter();
  const accepted = new Counter();
  const handler = route(seen, heldResponses, held, closed);
  const server = tlsFiles === undefined
    ? http.createServer(handler)
    : https.createServer({ key: fs.readFileSync(tlsFiles.key), cert: fs.readFileSync(tlsFiles.cert) }, handler);
  server.on(tlsFiles === undefined ? 'connection' : 'secureConnection', () => accepted.bump());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const releaseHeld = () => { for (const r of heldResponses.splice(0)) r.end('released'); };
  return {
    port,
    origin: `${tlsFiles === undefined ? 'http' : 'https'}://127.0.0.1:${port}`,
    seen,
    holds: held,
    holdsCut: closed,
    releaseHeld,
    connections: () => accepted.value,
    close() {
      releaseHeld();
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}
