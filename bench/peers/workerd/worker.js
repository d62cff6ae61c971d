// The same logic as callbacks/http.js, as a Cloudflare Worker run by workerd (a sandboxed peer:
// V8 isolates, like webdat). Constants mirror lib/payloads.mjs (workerd modules cannot import it).
const HELLO = 'Hello, World!';
const BIN = new Uint8Array(64 * 1024);
for (let i = 0; i < BIN.length; i++) BIN[i] = i & 255;

export default {
  async fetch(request) {
    const { pathname } = new URL(request.url);
    if (pathname === '/json') {
      const body = JSON.parse(await request.text());
      return new Response(JSON.stringify({ ok: true, id: body.id, items: body.items.length }), { headers: { 'content-type': 'application/json' } });
    }
    if (pathname === '/bin') return new Response(BIN, { headers: { 'content-type': 'application/octet-stream' } });
    return new Response(HELLO, { headers: { 'content-type': 'text/plain' } });
  },
};
