import { startUpstream } from '../../tests/helpers/upstream.ts';
import { createFetcher } from './src/capabilities/fetch/fetcher.ts';
const a = await startUpstream();
const names = Array.from({ length: 300 }, (_, i) => `o${i}.many.test`);
const f = createFetcher({ allow: names.map((n) => `${n}:${a.port}`) }, { maxFetches: 16, maxFetchBytes: 1e6 }, { lookup: async () => [{ address: '127.0.0.1', family: 4 }] });
const s = new AbortController().signal;
const long = f.fetch({ url: `http://${names[0]}:${a.port}/hold`, method: 'GET', headers: [], body: null, redirect: 'follow' }, s);
await a.held(1);
let t = performance.now();
for (const [i, n] of names.slice(1).entries()) {
  const r = await f.fetch({ url: `http://${n}:${a.port}/hello`, method: 'GET', headers: [], body: null, redirect: 'follow' }, s);
  if (r.ok && r.value.slot) f.release(r.value.slot);
  if (i % 50 === 0) { console.log(i, (performance.now() - t).toFixed(0)); t = performance.now(); }
}
a.releaseHeld();
console.log((await long).ok);
await f.close();
await a.close();
setTimeout(() => { console.log((process as any)._getActiveHandles().map((h: any) => h.constructor.name + ' ' + (h.remotePort ?? ''))); }, 1000).unref();
