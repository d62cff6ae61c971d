// Workload l: one stored key read and written per request (its peer: bench/peers/node-lmdb.mjs).
export async function onHTTPRequest(webServer, request, response) {
  const hits = ((await webServer.storage.get('hits')) ?? 0) + 1;
  await webServer.storage.put('hits', hits);
  response['content-type'] = 'text/plain';
  response.data = String(hits);
  return response;
}
