import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startProcess, stopProcess } from './processes.mjs';

// HTTP load: wrk (one thread, so the load generator takes one of the cores) when available,
// autocannon otherwise. Both run as separate processes bounded by their duration, and come back as
// the same result shape.

const HERE = path.dirname(fileURLToPath(import.meta.url));
const LUA = path.join(HERE, '../wrk/report.lua');
const AUTOCANNON = path.join(HERE, '../node_modules/autocannon/autocannon.js');

let tool;

function hasWrk() {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
    return true;
  } catch (err) {
    // wrk --version exits 1 after printing its banner; only a missing binary is a failure.
    return err.code !== 'ENOENT';
  }
}

/**
 * Picks the HTTP load generator once per run: wrk if present; if missing and running as root, wrk
 * from Debian's packages (the package lists are refreshed only if the first attempt fails, as on a
 * fresh image); autocannon otherwise. Returns 'wrk' or 'autocannon'.
 */
export function prepareLoadTool(log) {
  if (tool !== undefined) return tool;
  if (!hasWrk() && process.getuid?.() === 0) {
    log('wrk is missing: installing it with apt-get');
    const apt = (...args) => execFileSync('apt-get', args, { stdio: 'ignore', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, timeout: 180_000 });
    try {
      apt('install', '-y', '--no-install-recommends', 'wrk');
    } catch {
      try {
        apt('update');
        apt('install', '-y', '--no-install-recommends', 'wrk');
      } catch (err) {
        log(`apt-get could not install wrk (${err.message.split('\n')[0]}): falling back to autocannon`);
      }
    }
  }
  tool = hasWrk() ? 'wrk' : 'autocannon';
  return tool;
}

/**
 * Runs one load of `seconds` against `url`. `bodyFile` is the path of a file POSTed as JSON.
 * Result: { rate (req/s), p50Ms, p99Ms, requests, errors, non2xx, mbps }.
 */
export async function httpLoad({ url, seconds, connections = 64, bodyFile, timeoutS = 10 }) {
  if (tool === undefined) throw new Error('prepareLoadTool() must run before httpLoad()');
  if (tool === 'wrk') return runWrk({ url, seconds, connections, bodyFile, timeoutS });
  return runAutocannon({ url, seconds, connections, bodyFile, timeoutS });
}

/** Runs a load generator to its end (killed if it overstays its duration); returns its stdout. */
async function runToEnd(label, command, args, { seconds, timeoutS, env }) {
  const h = startProcess(label, command, args, { env, role: 'load' });
  const watchdog = setTimeout(() => stopProcess(h), (seconds + timeoutS + 10) * 1000);
  const code = await h.done;
  clearTimeout(watchdog);
  if (code !== 0) throw new Error(`${label} exited (${code})\n${h.stdout.slice(-2000)}\n${h.stderr.slice(-2000)}`);
  return h.stdout;
}

async function runWrk({ url, seconds, connections, bodyFile, timeoutS }) {
  const args = ['-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', `${timeoutS}s`, '-s', LUA, url];
  const stdout = await runToEnd('wrk', 'wrk', args, { seconds, timeoutS, env: { WRK_BODY_FILE: bodyFile ?? '' } });
  const line = stdout.split('\n').find((l) => l.startsWith('WRK_JSON '));
  if (!line) throw new Error(`wrk gave no result for ${url}\n${stdout}`);
  const r = JSON.parse(line.slice('WRK_JSON '.length));
  const errors = r.errors.connect + r.errors.read + r.errors.write + r.errors.timeout;
  return {
    rate: r.requests / (r.duration_us / 1e6),
    p50Ms: r.latency_us.p50 / 1000,
    p99Ms: r.latency_us.p99 / 1000,
    requests: r.requests,
    errors,
    non2xx: r.errors.status,
    mbps: r.bytes / (r.duration_us / 1e6) / 1e6,
  };
}

async function runAutocannon({ url, seconds, connections, bodyFile, timeoutS }) {
  const args = [AUTOCANNON, '-j', '-c', String(connections), '-d', String(seconds), '-t', String(timeoutS)];
  if (bodyFile) args.push('-m', 'POST', '-H', 'content-type=application/json', '-i', bodyFile);
  const stdout = await runToEnd('autocannon', process.execPath, [...args, url], { seconds, timeoutS });
  const r = JSON.parse(stdout.trim().split('\n').pop());
  return {
    rate: r.requests.total / r.duration,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    requests: r.requests.total,
    errors: r.errors + r.timeouts,
    non2xx: r.non2xx,
    mbps: r.throughput.total / r.duration / 1e6,
  };
}
