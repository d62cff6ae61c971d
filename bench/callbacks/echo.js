// Workload d: WebSocket echo.
export function onWebSocketReceiveText(webServer, client, data) {
  webServer.webSocketSendText(client, data);
}

export function onWebSocketReceiveBinary(webServer, client, data) {
  webServer.webSocketSendBinary(client, data);
}
