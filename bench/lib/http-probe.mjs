import http from 'node:http';

/**
 * One GET on a new connection; resolves with { status, ms } where ms runs from the connect to the
 * last byte of the body. Bounded by `timeoutMs`.
 */
export function timedGet(url, timeoutMs = 30_000) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.get(url, { agent: false, timeout: timeoutMs }, (res) => {
      res.on('data', () => {});
      res.on('end', () => resolve({ status: res.statusCode, ms: performance.now() - t0 }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}
