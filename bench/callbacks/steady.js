// Workload h, the steady neighbour: every request computes for 90 ms, well within its time limit, so
// it never breaches and is never rested; only the sharing of its worker keeps its neighbour served.
const CALL_MS = 90;

export function onHTTPRequest(webServer, request, response) {
  const end = Date.now() + CALL_MS;
  let n = 0;
  while (Date.now() < end) n++;
  response['content-type'] = 'text/plain';
  response.data = String(n);
  return response;
}
