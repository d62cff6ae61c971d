import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { noChromium, withChromium } from './helpers/browser.ts';
import { runWebdatExpectingExit, startWebdat, tempDir, type Running } from './helpers/webdat.ts';

// Latency you can see: webdat_request_duration_seconds on /metrics (per server, or one host-wide
// histogram with admin.metrics.perServer false), GET /latency's five-minute history and the
// dashboard's charts drawn from it.

const READ = 'grafana-read-token-0123456789abcdef';
const ADMIN_LINE = /webdat: admin listening on (http:\/\/\S+)/;
const alphaSource = `export function onHTTPRequest(w, req, res) { if (req.uri === '/boom') throw new Error('boom'); res.data = 'alpha'; }`;

function writeConfig(admin: Record<string, unknown>): string {
  const dir = tempDir({ 'alpha.js': alphaSource, 'beta.js': `export function onHTTPRequest(w, req, res) { res.data = 'beta'; }` });
  const config = {
    servers: [{ name: 'alpha', host: '127.0.0.1', port: 0, callbacks: 'alpha.js' }, { name: 'beta', host: '127.0.0.1', port: 0, callbacks: 'beta.js' }],
    workers: 1,
    admin: { host: '127.0.0.1', port: 0, tokens: [{ name: 'grafana', token: READ, role: 'read' }], ...admin },
  };
  fs.writeFileSync(path.join(dir, 'webdat.json'), JSON.stringify(config));
  return path.join(dir, 'webdat.json');
}

async function start(admin: Record<string, unknown>): Promise<{ r: Running; admin: string }> {
  const r = await startWebdat(['--config', writeConfig(admin)], { expectServers: 2 });
  return { r, admin: ADMIN_LINE.exec(await r.waitFor(ADMIN_LINE))![1] };
}

const perServer = await start({});
const hostWide = await start({ metrics: { perServer: false } });
after(() => Promise.all([perServer.r.stop(), hostWide.r.stop()]));

const get = (admin: string, p: string) => fetch(admin + p, { headers: { authorization: `Bearer ${READ}` } });

async function scrape(admin: string): Promise<string> {
  const r = await get(admin, '/metrics');
  assert.equal(r.status, 200);
  return r.text();
}

async function request(admin: string, server: string, uri: string, times: number): Promise<void> {
  const { port } = (await (await get(admin, `/servers/${server}`)).json()) as { port: number };
  for (let i = 0; i < times; i++) await (await fetch(`http://127.0.0.1:${port}${uri}`)).arrayBuffer();
}

const lines = (text: string, prefix: string) => text.split('\n').filter((l) => l.startsWith(prefix));
const value = (text: string, series: string) => {
  const found = lines(text, series + ' ');
  assert.equal(found.length, 1, `${series} in\n${text}`);
  return Number(found[0].slice(series.length + 1));
};

test('webdat_request_duration_seconds counts every answered request per server, in at most 10 buckets', async () => {
  const { admin } = perServer;
  const before = await scrape(admin);
  assert.match(before, /^# TYPE webdat_request_duration_seconds histogram$/m);
  const alpha0 = value(before, 'webdat_request_duration_seconds_count{server="alpha"}');
  const beta0 = value(before, 'webdat_request_duration_seconds_count{server="beta"}');
  await request(admin, 'alpha', '/', 5);
  await request(admin, 'alpha', '/boom', 2); // answered 500 exception: counted too
  const text = await scrape(admin);
  assert.equal(value(text, 'webdat_request_duration_seconds_count{server="alpha"}'), alpha0 + 7);
  assert.equal(value(text, 'webdat_request_duration_seconds_count{server="beta"}'), beta0);
  const buckets = lines(text, 'webdat_request_duration_seconds_bucket{server="alpha",');
  assert.ok(buckets.length >= 2 && buckets.length <= 10, `${buckets.length} buckets`);
  assert.equal(value(text, 'webdat_request_duration_seconds_bucket{server="alpha",le="+Inf"}'), alpha0 + 7);
  const counts = buckets.map((l) => Number(l.split(' ')[1]));
  assert.deepEqual(counts, [...counts].sort((a, b) => a - b), 'buckets are cumulative');
  const sum = value(text, 'webdat_request_duration_seconds_sum{server="alpha"}');
  assert.ok(sum > 0 && sum < 7 * 60, `sum ${sum}`);
});

test('with admin.metrics.perServer false there is one host-wide histogram without the server label', async () => {
  const { admin } = hostWide;
  const before = value(await scrape(admin), 'webdat_request_duration_seconds_count');
  await request(admin, 'alpha', '/', 3);
  await request(admin, 'beta', '/', 4);
  const text = await scrape(admin);
  assert.equal(value(text, 'webdat_request_duration_seconds_count'), before + 7);
  assert.equal(value(text, 'webdat_request_duration_seconds_bucket{le="+Inf"}'), before + 7);
  assert.ok(lines(text, 'webdat_request_duration_seconds_bucket{').length <= 10);
  assert.doesNotMatch(text, /webdat_request_duration_seconds\w*\{server=/);
  // Other families keep their label: the switch is about the histogram's series only.
  assert.match(text, /webdat_requests_total\{server="alpha"\}/);
});

test('admin.metrics.perServer must be a boolean', async () => {
  const r = await runWebdatExpectingExit(['serve', '--config', writeConfig({ metrics: { perServer: 'no' } })]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /WEBDAT_ERR_CONFIG/);
  assert.match(r.stderr, /admin\.metrics\.perServer/);
});

interface History { intervalSeconds: number; servers: Array<{ name: string; samples: Array<[number, number, number | null, number | null]> }> }

async function history(admin: string): Promise<History> {
  const r = await get(admin, '/latency');
  assert.equal(r.status, 200, 'a read token may read GET /latency');
  return (await r.json()) as History;
}

/** Requests GET /latency accounts for on `server` (req/s × interval over every sample). */
async function counted(admin: string, server: string): Promise<number> {
  const h = await history(admin);
  const s = h.servers.find((x) => x.name === server);
  assert.ok(s, `${server} in /latency`);
  return Math.round(s.samples.reduce((n, x) => n + x[1] * h.intervalSeconds, 0));
}

async function until<T>(what: string, probe: () => Promise<T>, ok: (v: T) => boolean, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (ok(v)) return v;
    assert.ok(Date.now() < deadline, `${what}: last ${JSON.stringify(v)}`);
    await new Promise((res) => setTimeout(res, 250));
  }
}

test('GET /latency keeps five-second samples of req/s, p50 and p99 per server', async () => {
  const { admin } = perServer;
  const h = await history(admin);
  assert.equal(h.intervalSeconds, 5);
  assert.deepEqual(h.servers.map((s) => s.name).sort(), ['alpha', 'beta']);
  assert.equal((await fetch(admin + '/latency')).status, 401, 'the history needs a token');
});

test('the dashboard draws per-server charts that update, and fits 1200 px without scrolling sideways', { skip: noChromium }, async () => {
  const { admin } = perServer;
  await withChromium(async (browser) => {
    const page = await browser.newPage();
    await page.setViewportSize({ width: 1200, height: 800 });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error' && !/401/.test(m.text())) errors.push(m.text()); });
    await page.goto(admin + '/');
    await page.fill('#token', READ);
    await page.click('#login button[type=submit]');
    const card = page.locator('.card[data-server="alpha"]');
    await card.waitFor();
    await page.locator('.card[data-server="beta"]').waitFor();
    const points = async (series: string) =>
      ((await card.locator(`path[data-series="${series}"]`).getAttribute('d')) ?? '').split(/[ML]/).filter((x) => x.trim() !== '').length;

    const base = await counted(admin, 'alpha');
    await request(admin, 'alpha', '/', 20);
    await until('GET /latency counts the first 20 requests', () => counted(admin, 'alpha'), (n) => n >= base + 20);
    const first = await until('the p50 chart draws', () => points('p50'), (n) => n >= 1);
    assert.ok(await points('rps') >= 1, 'the req/s chart draws');
    assert.ok(await points('p99') >= 1, 'the p99 chart draws');

    await request(admin, 'alpha', '/', 20);
    await until('GET /latency counts 40 requests', () => counted(admin, 'alpha'), (n) => n >= base + 40);
    await until('the p50 chart gains a point', () => points('p50'), (n) => n > first);
    assert.match(await card.locator('figure').first().locator('b').innerText(), /^\d+\.\d$/);

    const widths = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
    assert.ok(widths[0] <= 1200, `the page is ${widths[0]} px wide at a 1200 px window`);
    assert.deepEqual(errors, [], 'errors in the page (CSP or script)');
  });
});
