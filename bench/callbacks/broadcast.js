// Workload e: every text message is sent to every connected client (the sender included).
export function onWebSocketReceiveText(webServer, client, data) {
  webServer.webSocketBroadcastText(data);
}
