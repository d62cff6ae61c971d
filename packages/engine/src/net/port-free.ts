import dns from 'node:dns/promises';
import net from 'node:net';
import { EngineError } from '../errors.js';

/**
 * Refuses a port that anything already listens on. uSockets sets SO_REUSEPORT on every listening
 * socket, so a second webdat on a busy port would otherwise share it silently and the kernel would
 * split connections between unrelated servers. An exclusive bind through node:net (which does not
 * set SO_REUSEPORT) fails on any listener of an overlapping address — 0.0.0.0 against 127.0.0.1,
 * a dual-stack :: against 0.0.0.0 — and is closed again before uWS listens. Processes of one webdat
 * that share their ports on purpose skip this check for each other.
 */
export async function assertPortFree(host: string, port: number, who: string): Promise<void> {
  let addresses: string[];
  try {
    addresses = (await dns.lookup(host, { all: true })).map((a) => a.address);
  } catch (err) {
    throw new EngineError('WEBDAT_ERR_LISTEN', `${who} cannot listen on ${host}:${port}: cannot resolve ${host} (${(err as NodeJS.ErrnoException).code ?? 'unknown'})`);
  }
  for (const address of addresses) {
    const code = await bindError(address, port);
    if (code === 'EADDRINUSE') throw new EngineError('WEBDAT_ERR_LISTEN', `${who} cannot listen on ${host}:${port}: port ${port} is already in use (EADDRINUSE)`);
    if (code !== null) throw new EngineError('WEBDAT_ERR_LISTEN', `${who} cannot listen on ${host}:${port}: ${code}`);
  }
}

function bindError(address: string, port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'unknown error'));
    probe.listen({ host: address, port, exclusive: true }, () => probe.close(() => resolve(null)));
  });
}
