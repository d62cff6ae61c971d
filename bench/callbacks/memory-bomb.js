// Workload h, the neighbour that exhausts its memory: every request allocates until the heap limit
// disposes the isolate, which webdat then recreates from this file (a memory-limit restart). Many
// small allocations (800 KB each), because one huge allocation can take V8 past what isolated-vm's
// limit contains, and that is the supervisor's case, not this workload's.
export function onHTTPRequest() {
  const keep = [];
  for (;;) keep.push(new Array(1e5).fill(0));
}
