// How workload i's floor peers (floor.mjs, floor-ring.mjs) write an answer from a later loop turn,
// as webdat does: inside cork, never to a response the client left.
export function answer(p, status, headers, body) {
  if (p.aborted) return;
  const res = p.res;
  res.cork(() => {
    res.writeStatus(status);
    for (let i = 0; i < headers.length; i += 2) res.writeHeader(headers[i], headers[i + 1]);
    res.end(body);
  });
}
