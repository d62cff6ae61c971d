import crypto from 'node:crypto';

// The live dashboard (GET /): one self-contained page, no external assets. It holds no data of its
// own, so it is served without a token; everything it shows comes from GET /servers (polled every
// second) with the token the user typed, kept in sessionStorage and sent as a Bearer header.
// Action buttons are drawn only for an operator: the answer's x-webdat-role header names the role.
// The Content-Security-Policy allows exactly this page's inline script and style (by hash).

const STYLE = `
:root { color-scheme: light dark; font: 14px/1.4 system-ui, sans-serif; }
body { margin: 1.5rem; }
h1 { font-size: 1.3rem; margin: 0 0 .2rem; }
#status { color: GrayText; margin-bottom: 1rem; }
#status.bad { color: #c33; }
table { border-collapse: collapse; }
th, td { padding: .3rem .6rem; border-bottom: 1px solid #8884; text-align: right; white-space: nowrap; }
th:first-child, th:nth-child(2), td:first-child, td.state { text-align: left; }
td.state.up::before { content: "\\25CF "; color: #2a2; }
td.state.down::before { content: "\\25CF "; color: #c33; }
button { margin-left: .2rem; }
[hidden] { display: none !important; }
form, #forget { margin-bottom: 1rem; }
`;

const SCRIPT = `
'use strict';
const KEY = 'webdat-admin-token';
const COLUMNS = [
  ['port', (s) => s.port],
  ['WebSockets', (s) => s.websocket_connections],
  ['requests', (s) => s.requests],
  ['req/s', (s, rate) => rate],
  ['exceptions', (s) => s.errors_exception],
  ['timeouts', (s) => s.errors_timeout],
  ['memory', (s) => s.errors_memory],
  ['overloaded', (s) => s.errors_overloaded],
  ['internal', (s) => s.errors_internal],
  ['over output', (s) => s.errors_output],
  ['over headers', (s) => s.header_budget_breaches],
  ['logs dropped', (s) => s.log_lines_dropped],
  ['memory restarts', (s) => s.memory_restarts],
  ['in', (s) => bytes(s.bytes_in)],
  ['out', (s) => bytes(s.bytes_out)],
  ['heap', (s) => bytes(s.isolate_heap_bytes)],
  ['CPU ms', (s) => s.cpu_time_ms.toFixed(1)],
];
const $ = (id) => document.getElementById(id);
const previous = new Map();
let busy = false;
let role = 'read';

function bytes(n) {
  if (n < 1024) return n + ' B';
  if (n < 1048576) return (n / 1024).toFixed(1) + ' KiB';
  if (n < 1073741824) return (n / 1048576).toFixed(1) + ' MiB';
  return (n / 1073741824).toFixed(2) + ' GiB';
}

function headers() {
  const token = sessionStorage.getItem(KEY);
  return token ? { authorization: 'Bearer ' + token } : {};
}

function status(text, bad) {
  $('status').textContent = text;
  $('status').className = bad ? 'bad' : '';
}

async function call(method, path) {
  const r = await fetch(path, { method, headers: headers(), cache: 'no-store' });
  if (r.status === 401) {
    $('login').hidden = false;
    throw new Error(sessionStorage.getItem(KEY) ? 'the token was refused' : 'a token is required');
  }
  const body = await r.json();
  if (!r.ok) throw new Error(body.message || r.statusText);
  role = r.headers.get('x-webdat-role') || role;
  return body;
}

function cell(row, text, cls) {
  const td = row.insertCell();
  td.textContent = String(text);
  if (cls) td.className = cls;
  return td;
}

function render(servers) {
  const head = $('servers').tHead.rows[0];
  if (head.cells.length === 1) {
    for (const name of ['state', ...COLUMNS.map((c) => c[0]), '']) {
      const th = document.createElement('th');
      th.textContent = name;
      head.append(th);
    }
  }
  const body = $('servers').tBodies[0];
  body.replaceChildren();
  const now = performance.now();
  for (const s of servers) {
    const before = previous.get(s.name);
    const rate = before ? ((s.requests - before.requests) * 1000 / (now - before.at)).toFixed(1) : '';
    previous.set(s.name, { requests: s.requests, at: now });
    const row = body.insertRow();
    row.dataset.server = s.name;
    cell(row, s.name);
    cell(row, s.running ? 'running' : 'stopped', 'state ' + (s.running ? 'up' : 'down'));
    for (const [, read] of COLUMNS) cell(row, read(s, rate));
    const actions = row.insertCell();
    if (role !== 'operator') continue;
    for (const action of ['start', 'stop', 'restart']) {
      const b = document.createElement('button');
      b.textContent = action;
      b.dataset.action = action;
      b.disabled = action === 'start' ? s.running : action === 'stop' ? !s.running : false;
      b.onclick = () => act(s.name, action);
      actions.append(b);
    }
  }
}

async function act(name, action) {
  status(action + ' ' + name + '…');
  try {
    await call('POST', '/servers/' + encodeURIComponent(name) + '/' + action);
    await poll();
  } catch (e) {
    status(action + ' ' + name + ' failed: ' + e.message, true);
  }
}

async function poll() {
  if (busy) return;
  busy = true;
  try {
    const { servers } = await call('GET', '/servers');
    $('login').hidden = true;
    $('forget').hidden = !sessionStorage.getItem(KEY);
    render(servers);
    status('updated ' + new Date().toLocaleTimeString() + (role === 'operator' ? '' : ' (read-only token)'));
  } catch (e) {
    status(e.message, true);
  } finally {
    busy = false;
  }
}

$('login').onsubmit = (e) => {
  e.preventDefault();
  sessionStorage.setItem(KEY, $('token').value);
  $('token').value = '';
  poll();
};
$('forget').onclick = () => { sessionStorage.removeItem(KEY); previous.clear(); poll(); };
poll();
setInterval(poll, 1000);
`;

const hash = (text: string) => `'sha256-${crypto.createHash('sha256').update(text).digest('base64')}'`;

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>webdat admin</title>
<style>${STYLE}</style>
</head>
<body>
<h1>webdat</h1>
<div id="status">loading…</div>
<form id="login" hidden>
  <label>Admin token <input id="token" type="password" autocomplete="off" required></label>
  <button type="submit">Use token</button>
</form>
<button type="button" id="forget" hidden>Forget token</button>
<table id="servers"><thead><tr><th>server</th></tr></thead><tbody></tbody></table>
<script>${SCRIPT}</script>
</body>
</html>
`;

export const DASHBOARD_HEADERS: Record<string, string> = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': `default-src 'none'; script-src ${hash(SCRIPT)}; style-src ${hash(STYLE)}; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'`,
  'referrer-policy': 'no-referrer',
};
