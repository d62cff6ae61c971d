// Bench settings: command-line arguments first, then environment, then defaults.
//   node bench/run.mjs [--quick] [--seconds N] [--runs N] [a b c ...]
//   BENCH_SECONDS, BENCH_RUNS, BENCH_WARMUP, BENCH_COLD_SERVERS, BENCH_MEMORY_SERVERS (e.g. "100,500"),
//   BENCH_WS_CLIENT (raw | ws)

export const ALL = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o'];

const USAGE = `usage: node bench/run.mjs [--quick] [--seconds N] [--runs N] [--warmup N] [workload ...]
workloads: a hello world, b 1 KiB JSON, c 64 KiB binary, d WebSocket echo, e WebSocket broadcast,
           f 100 servers cold start, g memory per idle server, h noisy neighbour,
           i hello world through each fixed part of the architecture,
           j hello world with 1 and 2 engine processes, k broadcast with 1 and 2,
           l 10,000 servers with idleSeconds on one port, 1,000 cycled,
           m one stored key read and written per request, n one outbound fetch per request,
           o WebSocket echo through each fixed part of the architecture (default: all)
A run of some workloads writes bench/results/<date>.{json,md} only; latest.* (what README shows)
come from runs of all of them.
--quick    1 s runs (about 4 minutes for everything on 2 cores; the full bench about 12)
--no-pin   leave a–e, i and o to the scheduler (by default each server runs on CPU 0 and its load on CPU 1)`;

function int(name, value, min) {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer ≥ ${min}, got ${JSON.stringify(value)}\n${USAGE}`);
  return n;
}

export function parseOptions(argv, env = process.env) {
  const flags = {};
  const workloads = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') return { help: USAGE };
    if (a === '--quick') flags.quick = true;
    else if (a === '--no-pin') flags.noPin = true;
    else if (a === '--seconds' || a === '--runs' || a === '--warmup') flags[a.slice(2)] = argv[++i];
    else if (ALL.includes(a)) { if (!workloads.includes(a)) workloads.push(a); }
    else throw new Error(`unknown argument ${JSON.stringify(a)}\n${USAGE}`);
  }
  const quick = flags.quick === true;
  const seconds = int('seconds', flags.seconds ?? env.BENCH_SECONDS ?? (quick ? 1 : 5), 1);
  const memoryServers = (env.BENCH_MEMORY_SERVERS ?? '100,500').split(',').map((s) => int('BENCH_MEMORY_SERVERS', s.trim(), 2));
  const wsClient = env.BENCH_WS_CLIENT ?? 'raw';
  if (wsClient !== 'raw' && wsClient !== 'ws') throw new Error(`BENCH_WS_CLIENT must be "raw" or "ws"`);
  return {
    quick,
    seconds,
    runs: int('runs', flags.runs ?? env.BENCH_RUNS ?? 3, 1),
    warmup: int('warmup', flags.warmup ?? env.BENCH_WARMUP ?? (quick ? 1 : 2), 1),
    coldServers: int('BENCH_COLD_SERVERS', env.BENCH_COLD_SERVERS ?? 100, 1),
    memoryServers,
    wsClient,
    pin: flags.noPin !== true,
    workloads: workloads.length ? ALL.filter((w) => workloads.includes(w)) : ALL,
  };
}
