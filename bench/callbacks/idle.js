// Workload l: each server counts its requests in module state, so an answer of "1" is the first
// response of a fresh isolate (a server never used, or one released after limits.idleSeconds).
let served = 0;

export function onHTTPRequest(webServer, request, response) {
  response['content-type'] = 'text/plain';
  response.data = String(++served);
  return response;
}
