import net from 'node:net';

// `egress.allow` entries (SPEC §10): a host name (any port), `*.suffix` (any name below suffix, not
// the suffix itself) or `host:port`. Names are compared in the form the WHATWG URL parser gives a
// URL's hostname (lower case, punycode, canonical IPv4, IPv6 without brackets), so that an entry and
// a URL that name the same host always compare equal.

export interface AllowEntry {
  host: string;
  wildcard: boolean;
  port: number | null;
}

/** The host as a URL's `hostname` would carry it, or null when it is not a valid host. */
export function canonicalHost(host: string): string | null {
  if (host === '' || /[/?#@\\\s]/.test(host)) return null;
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  let hostname: string;
  try {
    hostname = new URL(`http://${net.isIPv6(bare) ? `[${bare}]` : bare}/`).hostname;
  } catch {
    return null;
  }
  return unbracket(hostname).replace(/\.$/, '');
}

export function unbracket(hostname: string): string {
  return hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
}

/** Parses one entry; throws a TypeError whose message says what is wrong with it. */
export function parseAllowEntry(entry: string): AllowEntry {
  const bad = (why: string) => new TypeError(`egress.allow entry "${entry}" ${why}`);
  if (typeof entry !== 'string' || entry.length === 0 || entry.length > 300) throw bad('must be a host name, "*.suffix" or "host:port"');
  let hostPart = entry;
  let port: number | null = null;
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
  if (v6 !== null) {
    hostPart = v6[1];
    if (v6[2] !== undefined) port = Number(v6[2]);
  } else if (!net.isIPv6(entry)) {
    const colon = entry.lastIndexOf(':');
    if (colon !== -1) {
      const digits = entry.slice(colon + 1);
      if (!/^\d{1,5}$/.test(digits)) throw bad('has a port that is not a number');
      port = Number(digits);
      hostPart = entry.slice(0, colon);
    }
  }
  if (port !== null && (port < 1 || port > 65535)) throw bad('has a port outside 1-65535');
  const wildcard = hostPart.startsWith('*.');
  if (!wildcard && hostPart.includes('*')) throw bad('may use "*" only as its first label ("*.example.org")');
  const host = canonicalHost(wildcard ? hostPart.slice(2) : hostPart);
  if (host === null || host === '') throw bad('is not a valid host');
  if (wildcard && net.isIP(host) !== 0) throw bad('puts "*." before an IP address');
  return { host, wildcard, port };
}

/** The problem with an `egress.allow` list, or null when every entry parses (for config validation). */
export function allowListProblem(entries: readonly string[]): string | null {
  try {
    for (const e of entries) parseAllowEntry(e);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

export class AllowList {
  readonly #entries: AllowEntry[];

  constructor(entries: readonly string[]) {
    this.#entries = entries.map(parseAllowEntry);
  }

  /** Whether some entry lets `host` (canonical, unbracketed) be reached on `port`. */
  allows(host: string, port: number): boolean {
    return this.#entries.some((e) =>
      (e.port === null || e.port === port) && (e.wildcard ? host.endsWith(`.${e.host}`) : host === e.host));
  }

  /** Whether `host:port` is listed exactly: what reaching a loopback, private, … address requires. */
  listsExactly(host: string, port: number): boolean {
    return this.#entries.some((e) => !e.wildcard && e.port === port && e.host === host);
  }
}
