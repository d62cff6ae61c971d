import WebSocket from 'ws';

/** A `ws` client that records everything it receives, for assertions in order. */
export interface Client {
  ws: WebSocket;
  messages: Array<string | Buffer>;
  pings: Buffer[];
  closed: Promise<{ code: number; reason: string }>;
  next(): Promise<string | Buffer>;
  waitFor(n: number): Promise<Array<string | Buffer>>;
}

export function connect(url: string, opts: WebSocket.ClientOptions = {}): Promise<Client> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, opts);
    const messages: Array<string | Buffer> = [];
    const pings: Buffer[] = [];
    const waiters: Array<() => void> = [];
    ws.on('message', (data, isBinary) => {
      messages.push(isBinary ? Buffer.from(data as Buffer) : data.toString());
      waiters.splice(0).forEach((w) => w());
    });
    ws.on('ping', (d) => { pings.push(Buffer.from(d)); waiters.splice(0).forEach((w) => w()); });
    const closed = new Promise<{ code: number; reason: string }>((r) => ws.on('close', (code, reason) => { r({ code, reason: reason.toString() }); waiters.splice(0).forEach((w) => w()); }));
    let read = 0;
    const waitFor = (n: number) => new Promise<Array<string | Buffer>>((res, rej) => {
      const t = setTimeout(() => rej(new Error(`timed out waiting for ${n} messages, got ${messages.length}: ${messages.slice(0, 5).join(' | ')}`)), 10_000);
      const check = () => { if (messages.length >= n) { clearTimeout(t); res(messages.slice(0, n)); } else waiters.push(check); };
      check();
    });
    const client: Client = {
      ws, messages, pings, closed, waitFor,
      next: async () => { const all = await waitFor(read + 1); return all[read++]; },
    };
    ws.once('open', () => resolve(client));
    ws.once('error', reject);
  });
}
