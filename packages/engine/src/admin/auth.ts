import crypto from 'node:crypto';
import { LEGACY_TOKEN_NAME, type AdminConfig, type AdminRole } from '../config/schema.js';
import { hostOfHeader, isLoopbackHost } from './loopback.js';

// Who may use the admin API (SPEC §7). With tokens, every request but the static dashboard page
// must carry `Authorization: Bearer <token>`; the token's role decides what it may do. Without one
// (allowed only on loopback, see the config schema), the socket is unreachable from other machines,
// but a browser on this machine can still be made to send requests: a page from another site (a
// "simple" cross-origin POST needs no preflight), or a DNS-rebound name pointing at 127.0.0.1. Those
// carry a foreign Origin or Host and are refused.

/** Who a request is: the token's name (null without tokens) and what it may do. */
export interface Principal {
  name: string | null;
  role: AdminRole;
}

/** A principal; missing or invalid credentials (401); a request a browser sent on another site's behalf (403) */
export type AuthVerdict = Principal | 'missing' | 'invalid' | 'foreign';

/** The headers the decision needs, read synchronously from uWS's request ('' when absent). */
export interface Credentials {
  authorization: string;
  host: string;
  origin: string;
}

interface Known extends Principal {
  name: string;
  digest: Buffer;
}

const BEARER = /^Bearer +([!-~]+) *$/i;
const TOKENLESS: Principal = { name: null, role: 'operator' };

function digest(text: string): Buffer {
  return crypto.createHash('sha256').update(text).digest();
}

export class AdminAuth {
  // Comparing SHA-256 digests keeps timingSafeEqual's equal-length rule from leaking a token's length.
  private readonly known: Known[];
  /** the origin the dashboard is served from, for the tokenless same-origin check */
  private readonly scheme: 'http' | 'https';

  constructor(config: Pick<AdminConfig, 'token' | 'tokens' | 'secure'>) {
    this.known = (config.tokens ?? []).map((t) => ({ name: t.name, role: t.role, digest: digest(t.token) }));
    if (config.token !== undefined) this.known.unshift({ name: LEGACY_TOKEN_NAME, role: 'operator', digest: digest(config.token) });
    this.scheme = config.secure ? 'https' : 'http';
  }

  get tokenRequired(): boolean {
    return this.known.length > 0;
  }

  check(c: Credentials): AuthVerdict {
    if (this.known.length === 0) return fromThisMachine(c, this.scheme) ? TOKENLESS : 'foreign';
    const m = BEARER.exec(c.authorization);
    if (m === null) return 'missing';
    const presented = digest(m[1]);
    // Every entry is compared, so how long the check takes does not say which token matched.
    let match: Known | null = null;
    for (const k of this.known) {
      if (crypto.timingSafeEqual(presented, k.digest) && match === null) match = k;
    }
    return match === null ? 'invalid' : { name: match.name, role: match.role };
  }

  /**
   * `path` (or a server name read from one) with every segment that is a configured token replaced by
   * `[token]`: a token pasted into a URL must not reach the audit log. Only digests are kept, so each
   * segment is hashed and compared.
   */
  redact(path: string): string {
    if (this.known.length === 0) return path;
    return path.split('/').map((segment) => {
      if (segment === '') return segment;
      let text = segment;
      try { text = decodeURIComponent(segment); } catch { /* kept as sent */ }
      const d = digest(text);
      return this.known.some((k) => crypto.timingSafeEqual(d, k.digest)) ? REDACTED : segment;
    }).join('/');
  }
}

const REDACTED = '[token]';

/** Host names this machine only (or no Host: not a browser); Origin, when sent, is that same host. */
function fromThisMachine(c: Credentials, scheme: string): boolean {
  if (c.host !== '' && !isLoopbackHost(hostOfHeader(c.host))) return false;
  return c.origin === '' || c.origin.toLowerCase() === `${scheme}://${c.host.toLowerCase()}`;
}
