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
  /**
   * The configured tokens' lengths, to know which stretches of a logged path to compare (redact). How
   * long redact takes can tell a length, never content: tokens are at least 16 visible characters.
   */
  private readonly lengths: number[];
  /** the origin the dashboard is served from, for the tokenless same-origin check */
  private readonly scheme: 'http' | 'https';

  constructor(config: Pick<AdminConfig, 'token' | 'tokens' | 'secure'>) {
    this.known = (config.tokens ?? []).map((t) => ({ name: t.name, role: t.role, digest: digest(t.token) }));
    if (config.token !== undefined) this.known.unshift({ name: LEGACY_TOKEN_NAME, role: 'operator', digest: digest(config.token) });
    this.lengths = [...new Set([config.token, ...(config.tokens ?? []).map((t) => t.token)].filter((t) => t !== undefined).map((t) => t.length))];
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
   * `text` (a request path, or a name read from one) with every configured token in it replaced by
   * `[token]`, as sent or percent-decoded: a token pasted into a URL must not reach the audit log.
   * Only digests are kept, so the stretches that could be a token are hashed and compared: those of a
   * token's length that begin after a `/` (or at the start) and end before one (or at the end), so a
   * token that contains `/` is found too. Text that would take more than MAX_REDACT_HASHES hashes (no
   * admin route comes near) is withheld instead: an unauthenticated request cannot make this thread
   * hash without bound.
   */
  redact(text: string): string {
    if (this.known.length === 0) return text;
    const budget = { hashes: MAX_REDACT_HASHES };
    const sent = this.replaceTokens(text, budget);
    let decoded: string | null = null;
    if (sent === text && text.includes('%')) {
      try { decoded = decodeURIComponent(text); } catch { /* kept as sent */ }
    }
    const redacted = decoded === null ? sent : this.replaceTokens(decoded, budget);
    if (budget.hashes < 0) return `[${text.length} characters withheld]`;
    return decoded === null || redacted === decoded ? sent : redacted;
  }

  private replaceTokens(text: string, budget: { hashes: number }): string {
    let out = '';
    let from = 0;
    for (let start = 0; start < text.length && budget.hashes >= 0; start++) {
      if (start < from || (start > 0 && text[start - 1] !== '/')) continue;
      for (const length of this.lengths) {
        const end = start + length;
        if (end > text.length || (end < text.length && text[end] !== '/')) continue;
        if (--budget.hashes < 0) break;
        const d = digest(text.slice(start, end));
        if (!this.known.some((k) => crypto.timingSafeEqual(d, k.digest))) continue;
        out += text.slice(from, start) + REDACTED;
        from = end;
        break;
      }
    }
    return from === 0 ? text : out + text.slice(from);
  }
}

const REDACTED = '[token]';
/**
 * A stretch is hashed only where one of a token's length runs from a `/` to a `/`: an admin route,
 * with a token pasted into it, has a handful (at most 10 pairs of its 5 boundaries).
 */
const MAX_REDACT_HASHES = 16;

/** Host names this machine only (or no Host: not a browser); Origin, when sent, is that same host. */
function fromThisMachine(c: Credentials, scheme: string): boolean {
  if (c.host !== '' && !isLoopbackHost(hostOfHeader(c.host))) return false;
  return c.origin === '' || c.origin.toLowerCase() === `${scheme}://${c.host.toLowerCase()}`;
}
