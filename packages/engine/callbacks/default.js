// The bundled default callbacks, like a fresh TouchDesigner Web Server DAT:
// an HTML page over HTTP, and an echo over WebSocket.

const page = (webServer) => `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>webdat: ${webServer.name}</title>
<style>body{font:16px system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}
#log{border:1px solid #ccc;padding:.5rem;min-height:6rem;white-space:pre-wrap}</style></head>
<body>
<h1>webdat is running</h1>
<p>Server <b>${webServer.name}</b> answers this page from its default callbacks.
Pass <code>--callbacks FILE</code> to serve your own.</p>
<p><input id="msg" value="hello"> <button id="send">Send over WebSocket</button></p>
<div id="log"></div>
<script>
const log = (t) => { document.getElementById('log').textContent += t + '\\n'; };
const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/');
ws.onopen = () => log('connected');
ws.onmessage = (e) => log('echo: ' + e.data);
ws.onclose = () => log('closed');
document.getElementById('send').onclick = () => ws.send(document.getElementById('msg').value);
</script>
</body></html>
`;

export function onHTTPRequest(webServer, request, response) {
  response.statusCode = 200;
  response.statusReason = 'OK';
  response['content-type'] = 'text/html; charset=utf-8';
  response.data = page(webServer);
  return response;
}

export function onWebSocketReceiveText(webServer, client, data) {
  webServer.webSocketSendText(client, data);
}

export function onWebSocketReceiveBinary(webServer, client, data) {
  webServer.webSocketSendBinary(client, data);
}
