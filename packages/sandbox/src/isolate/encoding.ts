// Runs inside the isolate (stringified by source.ts): it may use only ECMAScript built-ins,
// never a closure over this module. UTF-8 and base64 are done in plain JS so that these hot helpers
// never cross into the host.

export function installEncoding(g: any): void {
  function utf8Encode(input: string): Uint8Array {
    const s = String(input);
    const out = new Uint8Array(s.length * 3);
    let p = 0;
    for (let i = 0; i < s.length; i++) {
      let c = s.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
        const d = s.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) { c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00); i++; } else c = 0xfffd;
      } else if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
      if (c < 0x80) out[p++] = c;
      else if (c < 0x800) { out[p++] = 0xc0 | (c >> 6); out[p++] = 0x80 | (c & 63); }
      else if (c < 0x10000) { out[p++] = 0xe0 | (c >> 12); out[p++] = 0x80 | ((c >> 6) & 63); out[p++] = 0x80 | (c & 63); }
      else { out[p++] = 0xf0 | (c >> 18); out[p++] = 0x80 | ((c >> 12) & 63); out[p++] = 0x80 | ((c >> 6) & 63); out[p++] = 0x80 | (c & 63); }
    }
    return out.slice(0, p);
  }

  // The WHATWG UTF-8 decoder, step for step: an invalid byte ends the sequence with one U+FFFD and is
  // then read again, so replacement counts match browsers and Node.
  function utf8Decode(b: Uint8Array, fatal: boolean): string {
    let out = '';
    let chunk: number[] = [];
    let needed = 0, seen = 0, cp = 0, lower = 0x80, upper = 0xbf;
    const emit = (c: number) => {
      if (c >= 0x10000) { c -= 0x10000; chunk.push(0xd800 + (c >> 10), 0xdc00 + (c & 1023)); } else chunk.push(c);
      if (chunk.length > 8192) { out += String.fromCharCode.apply(null, chunk); chunk = []; }
    };
    const error = () => {
      if (fatal) throw new TypeError('The encoded data was not valid for encoding utf-8');
      emit(0xfffd);
    };
    for (let i = 0; i < b.length; i++) {
      const x = b[i];
      if (needed === 0) {
        if (x <= 0x7f) emit(x);
        else if (x >= 0xc2 && x <= 0xdf) { needed = 1; cp = x & 0x1f; }
        else if (x >= 0xe0 && x <= 0xef) { if (x === 0xe0) lower = 0xa0; if (x === 0xed) upper = 0x9f; needed = 2; cp = x & 0xf; }
        else if (x >= 0xf0 && x <= 0xf4) { if (x === 0xf0) lower = 0x90; if (x === 0xf4) upper = 0x8f; needed = 3; cp = x & 0x7; }
        else error();
        continue;
      }
      if (x < lower || x > upper) {
        needed = seen = cp = 0; lower = 0x80; upper = 0xbf;
        error();
        i--;
        continue;
      }
      lower = 0x80; upper = 0xbf;
      cp = (cp << 6) | (x & 0x3f);
      if (++seen === needed) { emit(cp); needed = seen = cp = 0; }
    }
    if (needed !== 0) error();
    return out + String.fromCharCode.apply(null, chunk);
  }

  function toBytes(input: unknown): Uint8Array {
    if (input === undefined) return new Uint8Array(0);
    if (input instanceof ArrayBuffer) return new Uint8Array(input);
    if (ArrayBuffer.isView(input)) return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
    throw new TypeError('The "input" argument must be an ArrayBuffer or ArrayBufferView');
  }

  class TextEncoder {
    get encoding() { return 'utf-8'; }
    encode(input = ''): Uint8Array { return utf8Encode(input); }
  }

  class TextDecoder {
    #fatal: boolean;
    #ignoreBOM: boolean;
    constructor(label = 'utf-8', options: { fatal?: boolean; ignoreBOM?: boolean } = {}) {
      const l = String(label).trim().toLowerCase();
      if (l !== 'utf-8' && l !== 'utf8' && l !== 'unicode-1-1-utf-8') throw new RangeError(`The "${label}" encoding is not supported`);
      this.#fatal = !!options.fatal;
      this.#ignoreBOM = !!options.ignoreBOM;
    }
    get encoding() { return 'utf-8'; }
    get fatal() { return this.#fatal; }
    get ignoreBOM() { return this.#ignoreBOM; }
    decode(input?: unknown): string {
      let b = toBytes(input);
      if (!this.#ignoreBOM && b.length >= 3 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) b = b.subarray(3);
      return utf8Decode(b, this.#fatal);
    }
  }

  const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const LOOKUP = new Int16Array(256).fill(-1);
  for (let i = 0; i < 64; i++) LOOKUP[ALPHABET.charCodeAt(i)] = i;

  function invalidCharacter(msg: string): Error {
    const e = new Error(msg);
    e.name = 'InvalidCharacterError';
    return e;
  }

  function btoa(data: unknown): string {
    const s = String(data);
    let out = '';
    for (let i = 0; i < s.length; i += 3) {
      const a = s.charCodeAt(i), b = s.charCodeAt(i + 1), c = s.charCodeAt(i + 2);
      if (a > 255 || b > 255 || c > 255) throw invalidCharacter('Invalid character');
      const n = (a << 16) | ((b || 0) << 8) | (c || 0);
      out += ALPHABET[n >> 18] + ALPHABET[(n >> 12) & 63]
        + (i + 1 < s.length ? ALPHABET[(n >> 6) & 63] : '=') + (i + 2 < s.length ? ALPHABET[n & 63] : '=');
    }
    return out;
  }

  function base64ToBytes(data: string): Uint8Array {
    let s = String(data).replace(/[\t\n\f\r ]/g, '');
    if (s.length % 4 === 0) s = s.replace(/==?$/, '');
    if (s.length % 4 === 1 || /[^A-Za-z0-9+/]/.test(s)) throw invalidCharacter('The string to be decoded is not correctly encoded.');
    const out = new Uint8Array((s.length * 3) >> 2);
    let p = 0, acc = 0, bits = 0;
    for (let i = 0; i < s.length; i++) {
      acc = (acc << 6) | LOOKUP[s.charCodeAt(i)];
      bits += 6;
      if (bits >= 8) { bits -= 8; out[p++] = (acc >> bits) & 255; }
    }
    return out;
  }

  function atob(data: unknown): string {
    const b = base64ToBytes(String(data));
    let out = '';
    for (let i = 0; i < b.length; i += 8192) out += String.fromCharCode.apply(null, b.subarray(i, i + 8192) as unknown as number[]);
    return out;
  }

  Object.defineProperties(g, {
    TextEncoder: { value: TextEncoder, writable: true, configurable: true },
    TextDecoder: { value: TextDecoder, writable: true, configurable: true },
    btoa: { value: btoa, writable: true, configurable: true },
    atob: { value: atob, writable: true, configurable: true },
  });
}
