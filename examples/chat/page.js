// The chat page, served by callbacks.js. Kept apart so the HTML reads as HTML.
export const page = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>webdat chat</title>
<style>
body { font: 16px system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem; }
#messages { list-style: none; padding: .5rem; border: 1px solid #ccc; min-height: 12rem; }
#messages li { margin: .2rem 0; }
form { display: flex; gap: .5rem; } #text { flex: 1; }
</style></head>
<body>
<h1>Chat</h1>
<p id="status">connecting…</p>
<ul id="messages"></ul>
<form id="form"><input id="nick" placeholder="name" size="8"><input id="text" placeholder="message" autocomplete="off"><button>Send</button></form>
<script>
const list = document.getElementById('messages');
const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/chat');
ws.onopen = () => { document.getElementById('status').textContent = 'connected'; };
ws.onclose = () => { document.getElementById('status').textContent = 'disconnected'; };
ws.onmessage = (e) => {
  const m = JSON.parse(e.data);
  const li = document.createElement('li');
  li.textContent = m.system ? '* ' + m.system : m.nick + ': ' + m.text;
  list.appendChild(li);
};
document.getElementById('form').onsubmit = (e) => {
  e.preventDefault();
  const text = document.getElementById('text');
  if (!text.value) return;
  ws.send(JSON.stringify({ nick: document.getElementById('nick').value || 'anonymous', text: text.value }));
  text.value = '';
};
</script>
</body></html>
`;
