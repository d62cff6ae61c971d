import dns from 'node:dns';
import net from 'node:net';
import { AllowList, unbracket } from './allow-list.js';
import { specialKind } from './special-address.js';

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Resolves a name to every address it has (dns.lookup: what the system's resolver and hosts file say). */
export type Lookup = (hostname: string) => Promise<ResolvedAddress[]>;

export const systemLookup: Lookup = async (hostname) =>
  (await dns.promises.lookup(hostname, { all: true, verbatim: true })).map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));

/** A refusal by the egress policy; its message names the host and is what the callback sees. */
export class EgressRefused extends TypeError {}

export interface Target {
  /** as the URL carries it (lower case, no brackets), kept for DNS, SNI and Host */
  hostname: string;
  /** hostname without a trailing dot: the form allow entries are compared with */
  host: string;
  port: number;
}

export function targetOf(url: URL): Target {
  const hostname = unbracket(url.hostname);
  const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
  return { hostname, host: hostname.replace(/\.$/, ''), port };
}

/** Decides a URL by its name alone, before any DNS query or connection. */
export function checkName(allow: AllowList, url: URL): void {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new EgressRefused(`fetch to ${url.protocol}//${url.host} refused: only http: and https: URLs can be fetched`);
  }
  const t = targetOf(url);
  if (!allow.allows(t.host, t.port)) {
    throw new EgressRefused(`fetch to "${hostPort(t)}" refused: host "${t.host}" is not allowed by this server's egress.allow`);
  }
}

/**
 * Resolves the target and checks every address it has; returns the addresses, which are then the
 * only ones connected to (a second lookup could answer differently: DNS rebinding).
 */
export async function resolveChecked(allow: AllowList, t: Target, lookup: Lookup): Promise<ResolvedAddress[]> {
  let addresses: ResolvedAddress[];
  const literal = net.isIP(t.hostname);
  if (literal !== 0) addresses = [{ address: t.hostname, family: literal === 6 ? 6 : 4 }];
  else {
    try {
      addresses = await lookup(t.hostname);
    } catch (err) {
      throw new EgressRefused(`fetch to "${hostPort(t)}" failed: host "${t.host}" could not be resolved (${(err as NodeJS.ErrnoException).code ?? 'lookup failed'})`);
    }
    if (addresses.length === 0) throw new EgressRefused(`fetch to "${hostPort(t)}" failed: host "${t.host}" has no address`);
  }
  if (allow.listsExactly(t.host, t.port)) return addresses;
  for (const a of addresses) {
    const kind = specialKind(a.address);
    if (kind !== null) {
      const via = literal !== 0 ? '' : ` resolves to ${a.address}, which`;
      const article = /^[aeiou]/i.test(kind) ? 'an' : 'a';
      throw new EgressRefused(`fetch to "${hostPort(t)}" refused: host "${t.host}"${via} is ${article} ${kind} address; only an exact "${hostPort(t)}" entry in egress.allow permits it`);
    }
  }
  return addresses;
}

function hostPort(t: Target): string {
  return net.isIPv6(t.host) ? `[${t.host}]:${t.port}` : `${t.host}:${t.port}`;
}
