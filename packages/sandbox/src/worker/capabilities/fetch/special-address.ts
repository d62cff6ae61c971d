import net from 'node:net';

// Addresses a callback may reach only when the exact `host:port` is listed (SPEC §10): loopback,
// private, link-local and unspecified, plus ranges no public service lives in and that reach
// inside a network (carrier-grade NAT, multicast, reserved, broadcast). IPv6 forms that embed an
// IPv4 address (mapped, compatible, NAT64) are judged by the IPv4 address they carry.

const V4: [string, number, string][] = [
  ['0.0.0.0', 8, 'unspecified'],
  ['10.0.0.0', 8, 'private'],
  ['100.64.0.0', 10, 'carrier-grade NAT'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link-local'],
  ['172.16.0.0', 12, 'private'],
  ['192.0.0.0', 24, 'IETF protocol assignments'],
  ['192.168.0.0', 16, 'private'],
  ['198.18.0.0', 15, 'benchmarking'],
  ['224.0.0.0', 4, 'multicast'],
  ['240.0.0.0', 4, 'reserved'],
];

const V6: [string, number, string][] = [
  ['::', 128, 'unspecified'],
  ['::1', 128, 'loopback'],
  ['fc00::', 7, 'private'],
  ['fe80::', 10, 'link-local'],
  ['fec0::', 10, 'site-local'],
  ['ff00::', 8, 'multicast'],
];

const v4Lists = V4.map(([net0, prefix, kind]) => ({ kind, list: block(net0, prefix, 'ipv4') }));
const v6Lists = V6.map(([net0, prefix, kind]) => ({ kind, list: block(net0, prefix, 'ipv6') }));

function block(address: string, prefix: number, type: 'ipv4' | 'ipv6'): net.BlockList {
  const list = new net.BlockList();
  list.addSubnet(address, prefix, type);
  return list;
}

/** What kind of special address `address` is (e.g. "loopback"), or null for an ordinary public one. */
export function specialKind(address: string): string | null {
  const family = net.isIP(address);
  if (family === 4) return v4Lists.find((r) => r.list.check(address, 'ipv4'))?.kind ?? null;
  if (family !== 6) return 'not an IP address';
  const embedded = embeddedIPv4(address);
  if (embedded !== null) return specialKind(embedded);
  return v6Lists.find((r) => r.list.check(address, 'ipv6'))?.kind ?? null;
}

/** The IPv4 address inside ::ffff:a.b.c.d (mapped), ::a.b.c.d (compatible) or 64:ff9b::a.b.c.d (NAT64). */
function embeddedIPv4(address: string): string | null {
  const words = expandIPv6(address);
  const zero = (from: number, to: number) => words.slice(from, to).every((w) => w === 0);
  const mapped = zero(0, 5) && words[5] === 0xffff;
  const compatible = zero(0, 6) && (words[6] !== 0 || words[7] > 1);
  const nat64 = words[0] === 0x64 && words[1] === 0xff9b && zero(2, 6);
  if (!mapped && !compatible && !nat64) return null;
  return [words[6] >> 8, words[6] & 0xff, words[7] >> 8, words[7] & 0xff].join('.');
}

function expandIPv6(address: string): number[] {
  let text = address.replace(/%.*$/, '');
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted !== null) {
    const [a, b, c, d] = dotted.slice(1).map(Number);
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const parse = (s: string) => (s === '' ? [] : s.split(':').map((w) => parseInt(w, 16)));
  const front = parse(head);
  if (tail === undefined) return front;
  const back = parse(tail);
  return [...front, ...new Array<number>(8 - front.length - back.length).fill(0), ...back];
}
