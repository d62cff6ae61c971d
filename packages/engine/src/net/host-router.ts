// Name-based virtual hosting (issue 4): servers sharing a port are chosen by the Host header, as nginx
// chooses a server block by server_name. A server without `hosts` is its port's default.

/** `Example.COM:8080` → `example.com`; `[::1]:80` → `[::1]`. */
export function hostName(header: string): string {
  const h = header.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end < 0 ? h : h.slice(0, end + 1);
  }
  const colon = h.indexOf(':');
  return colon < 0 ? h : h.slice(0, colon);
}

export class HostRouter<T> {
  private readonly exact = new Map<string, T>();
  /** `*.example.com` is kept as `.example.com` and matches any name ending with it */
  private readonly wildcards: Array<{ suffix: string; target: T }> = [];
  private fallback: T | null = null;

  add(hosts: readonly string[] | undefined, target: T): void {
    if (hosts === undefined) {
      this.fallback = target;
      return;
    }
    for (const raw of hosts) {
      const h = raw.toLowerCase();
      if (h.startsWith('*.')) this.wildcards.push({ suffix: h.slice(1), target });
      else this.exact.set(h, target);
    }
  }

  remove(target: T): void {
    for (const [h, t] of this.exact) if (t === target) this.exact.delete(h);
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
    const hit = this.exact.get(name);
    if (hit !== undefined) return hit;
    let best: { suffix: string; target: T } | null = null;
    for (const w of this.wildcards) {
      if (name.endsWith(w.suffix) && name.length > w.suffix.length && (best === null || w.suffix.length > best.suffix.length)) best = w;
    }
    return best?.target ?? this.fallback;
  }
}
