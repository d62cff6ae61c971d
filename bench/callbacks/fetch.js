// Workload m: one outbound fetch per request, answered with the upstream's body (its peer:
// bench/peers/node-fetch.mjs). The upstream's URL comes in the request's `upstream` parameter, so
// that this file stays the same whatever port the upstream got.
export async function onHTTPRequest(webServer, request, response) {
  const r = await fetch(request.pars.upstream);
  response['content-type'] = 'text/plain';
  response.data = await r.text();
  return response;
}
