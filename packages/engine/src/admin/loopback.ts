import net from 'node:net';

// "Loopback" decides whether the admin API may run without a token (SPEC §7): only this machine can
// reach a listener bound to 127.0.0.0/8 or ::1. A name is trusted only if it is `localhost` itself.

/** True for 127.0.0.0/8, ::1 (also bracketed or IPv4-mapped) and `localhost`. */
export function isLoopbackHost(host: string): boolean {
  let h = host.trim().toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (h === 'localhost') return true;
  if (net.isIPv4(h)) return h.startsWith('127.');
  if (!net.isIPv6(h)) return false;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
  if (mapped !== null) return mapped[1].startsWith('127.');
  return new net.SocketAddress({ address: h, family: 'ipv6' }).address === '::1';
}

/** The host part of a `Host` header value (`127.0.0.1:9900`, `[::1]:9900`, `localhost`). */
export function hostOfHeader(value: string): string {
  if (value.startsWith('[')) {
    const end = value.indexOf(']');
    return end === -1 ? value : value.slice(0, end + 1);
  }
  const colon = value.indexOf(':');
  return colon === -1 || value.indexOf(':', colon + 1) !== -1 ? value : value.slice(0, colon);
}
