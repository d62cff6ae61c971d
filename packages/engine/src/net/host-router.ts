// Name-based virtual hosting (issue 4): servers sharing a port are chosen by the Host header, as nginx
// chooses a server block by server_name. A server without `hosts` is its port's default.

/**
 * The name a Host header routes by, read as nginx reads it (ngx_http_validate_host): lower case,
 * without the port and without one trailing dot (`Alpha.TEST.:8080` → `alpha.test`, `[::1]:80` →
 * `[::1]`). `null` for a header nginx answers 400: empty, `..`, `/`, a control character or a space.
 */
export function hostName(header: string): string | null {
  const h = header.trim();
  let end = h.length;
  let dot = -2;
  let state = 0; // 0: the name, 1: inside an [IPv6 literal], 2: the port
  for (let i = 0; i < h.length; i++) {
    const ch = h.charCodeAt(i);
    if (ch === 0x2e) { // .
      if (dot === i - 1) return null;
      dot = i;
    } else if (ch === 0x3a) { // :
      if (state === 0) { end = i; state = 2; }
    } else if (ch === 0x5b) { // [
      if (i === 0) state = 1;
    } else if (ch === 0x5d) { // ]
      if (state === 1) { end = i + 1; state = 2; }
    } else if (ch <= 0x20 || ch === 0x7f || ch === 0x2f) {
      return null;
    }
  }
  if (dot === end - 1) end--;
  if (end === 0) return null;
  return h.slice(0, end).toLowerCase();
}

export class HostRouter<T> {
  private readonly exact = new Map<string, T>();
  /** `*.example.com` is kept as `.example.com` and matches any name ending with it */
  private readonly wildcards: Array<{ suffix: string; target: T }> = [];
  private fallback: T | null = null;
  /** the exact names of each target, so that removing one costs its own names, not the whole table (10,000 servers on a port) */
  private readonly names = new Map<T, string[]>();

  add(hosts: readonly string[] | undefined, target: T): void {
    if (hosts === undefined) {
      this.fallback = target;
      return;
    }
    const own: string[] = [];
    for (const raw of hosts) {
      const h = raw.toLowerCase().replace(/\.$/, '');
      if (h.startsWith('*.')) this.wildcards.push({ suffix: h.slice(1), target });
      else { this.exact.set(h, target); own.push(h); }
    }
    this.names.set(target, own);
  }

  remove(target: T): void {
    for (const h of this.names.get(target) ?? []) if (this.exact.get(h) === target) this.exact.delete(h);
    this.names.delete(target);
    for (let i = this.wildcards.length - 1; i >= 0; i--) if (this.wildcards[i].target === target) this.wildcards.splice(i, 1);
    if (this.fallback === target) this.fallback = null;
  }

  /** The default server when no names are routed here: then the Host header need not be read. */
  get sole(): T | null {
    return this.exact.size === 0 && this.wildcards.length === 0 ? this.fallback : null;
  }

  get size(): number {
    return this.exact.size + this.wildcards.length + (this.fallback === null ? 0 : 1);
  }

  /** The server for a Host header: an exact name, then the longest wildcard, then the default. */
  match(hostHeader: string): T | null {
    const name = hostName(hostHeader);
    if (name === null) return this.fallback;
    const hit = this.exact.get(name);
    if (hit !== undefined) return hit;
    let best: { suffix: string; target: T } | null = null;
    for (const w of this.wildcards) {
      if (name.endsWith(w.suffix) && name.length > w.suffix.length && (best === null || w.suffix.length > best.suffix.length)) best = w;
    }
    return best?.target ?? this.fallback;
  }
}
