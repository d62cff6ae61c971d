import net from 'node:net';

/**
 * A port free on `host` right now. uSockets sets SO_REUSEPORT only when it is given a port other
 * than 0, so processes that will share a listener ask for `port: 0` through this instead: the
 * first listens on a concrete port, and the others can join it.
 */
export function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen({ host, port: 0, exclusive: true }, () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}
