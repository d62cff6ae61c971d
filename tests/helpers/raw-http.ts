import net from 'node:net';

export interface Exchange {
  /** the status of the first response, 0 when none arrived */
  status: number;
  headers: string;
  body: string;
  bytes: number;
}

/**
 * Writes `raw` on a fresh loopback connection and collects everything until the server closes it;
 * rejects when it is still open after `ms`. A reset still resolves with what arrived before it.
 */
export function exchange(port: number, raw: string | Buffer, ms = 30_000): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(raw));
    const chunks: Buffer[] = [];
    s.on('data', (d) => chunks.push(d));
    s.on('error', () => { /* what arrived is asserted by the caller */ });
    const t = setTimeout(() => { s.destroy(); reject(new Error(`the connection was still open after ${ms} ms`)); }, ms);
    s.on('close', () => {
      clearTimeout(t);
      const text = Buffer.concat(chunks).toString('latin1');
      const split = text.indexOf('\r\n\r\n');
      resolve({
        status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0),
        headers: split < 0 ? text : text.slice(0, split),
        body: split < 0 ? '' : text.slice(split + 4),
        bytes: text.length,
      });
    });
  });
}

/**
 * A chunked upload of `size` bytes that ends with the last data byte: no chunk terminator and no
 * last chunk follow, so a server that refuses it at its limit has read every byte sent before it
 * closes, and the client always gets its answer (unread bytes would make the close a reset).
 */
export function chunkedUpload(port: number, head: string, size: number): Promise<Exchange> {
  return exchange(port, Buffer.concat([Buffer.from(`${head}Transfer-Encoding: chunked\r\n\r\n${size.toString(16)}\r\n`), Buffer.alloc(size, 'x')]));
}
