// Workload h, the neighbour that loops: every request runs until the time limit stops it.
export function onHTTPRequest() {
  for (;;) { /* until the time limit */ }
}
