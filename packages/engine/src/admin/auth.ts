import crypto from 'node:crypto';
import { hostOfHeader, isLoopbackHost } from './loopback.js';

// Who may use the admin API (SPEC §7). With a token, every request but the static dashboard page
// must carry `Authorization: Bearer <token>`. Without one (allowed only on loopback, see the config
// schema), the socket is unreachable from other machines, but a browser on this machine can still be
// made to send requests: a page from another site (a "simple" cross-origin POST needs no preflight),
// or a DNS-rebound name pointing at 127.0.0.1. Those carry a foreign Origin or Host and are refused.

/** ok; missing or invalid credentials (401); a request a browser sent on another site's behalf (403) */
export type AuthVerdict = 'ok' | 'missing' | 'invalid' | 'foreign';

/** The headers the decision needs, read synchronously from uWS's request ('' when absent). */
export interface Credentials {
  authorization: string;
  host: string;
  origin: string;
}

const BEARER = /^Bearer +([!-~]+) *$/i;

function digest(text: string): Buffer {
  return crypto.createHash('sha256').update(text).digest();
}

export class AdminAuth {
  // Comparing SHA-256 digests keeps timingSafeEqual's equal-length rule from leaking the token's length.
  private readonly expected: Buffer | null;

  constructor(token: string | undefined) {
    this.expected = token === undefined ? null : digest(token);
  }

  get tokenRequired(): boolean {
    return this.expected !== null;
  }

  check(c: Credentials): AuthVerdict {
    if (this.expected === null) return fromThisMachine(c) ? 'ok' : 'foreign';
    const m = BEARER.exec(c.authorization);
    if (m === null) return 'missing';
    return crypto.timingSafeEqual(digest(m[1]), this.expected) ? 'ok' : 'invalid';
  }
}

/** Host names this machine only (or no Host: not a browser); Origin, when sent, is that same host. */
function fromThisMachine(c: Credentials): boolean {
  if (c.host !== '' && !isLoopbackHost(hostOfHeader(c.host))) return false;
  return c.origin === '' || c.origin.toLowerCase() === `http://${c.host.toLowerCase()}`;
}
