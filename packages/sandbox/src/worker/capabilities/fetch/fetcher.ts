import fs from 'node:fs';
import { createRequire } from 'node:module';
import type { Agent, Response } from 'undici';
import { AllowList } from './allow-list.js';
import { causeMessage, readLimited } from './body.js';
import { egressConnector } from './connector.js';
import { checkName, EgressRefused, systemLookup, type Lookup } from './egress.js';
import { followRedirect, MAX_REDIRECTS, redirectTarget } from './redirect.js';
import { parseRequest, type OutboundRequest } from './request.js';
import { Slots } from './slots.js';
import type { EgressPolicy, FetchLimits, FetchResponse, FetchResult, InstanceFetcher } from './types.js';

const MAX_ORIGINS = 64;

// undici takes about five times as long to load as piscina: a worker pays for it when it loads the
// first server that may fetch (preloadUndici), not at start (an engine restarted after a crash must
// serve again fast) nor at that server's first fetch, where it held every server of the worker
// (a second at load average 20 on 2 cores).
const importUndici = () => import('undici');
type Undici = Awaited<ReturnType<typeof importUndici>>;
let undici: Promise<Undici> | null = null;
const loadUndici = () => (undici ??= importUndici());

/** Loads undici on this thread now (synchronously), unless it is loaded; the import then finds it in require's cache. */
export function preloadUndici(): void {
  if (undici !== null) return;
  createRequire(import.meta.url)('undici');
  void loadUndici();
}

export interface FetcherOptions {
  /** the resolver the egress check uses; tests give names to loopback servers with it */
  lookup?: Lookup;
}

/**
 * The host side of a server's `fetch` (SPEC §10). Throws when the policy itself is invalid (an
 * allow entry that does not parse, an unreadable or non-PEM caFile); config validation reports
 * those earlier with the same messages.
 */
export function createFetcher(policy: EgressPolicy, limits: FetchLimits, options: FetcherOptions = {}): InstanceFetcher {
  const allow = new AllowList(policy.allow);
  const ca = policy.caFile === undefined ? null : readCa(policy.caFile);
  const lookup = options.lookup ?? systemLookup;
  let agent: Agent | null = null;
  let origins = new Set<string>();
  const slots = new Slots(limits.maxFetches);

  async function hops(first: OutboundRequest, signal: AbortSignal, slot: number): Promise<FetchResponse> {
    let req = first;
    for (let redirects = 0; ; redirects++) {
      checkName(allow, req.url);
      const res = await send(req, signal);
      const next = redirectTarget(res.status, res.headers.get('location'), req.url);
      if (next === null || req.redirect === 'manual') return respond(res, req.url, redirects > 0, signal, slot);
      await res.body?.cancel();
      if (req.redirect === 'error') throw new TypeError(`fetch to ${req.url.href} failed: the response redirects (${res.status}) and redirect is "error"`);
      if (redirects === MAX_REDIRECTS) throw new TypeError(`fetch to ${first.url.href} failed: more than ${MAX_REDIRECTS} redirects`);
      req = followRedirect(req, res.status, next);
    }
  }

  // undici's Agent keeps one pool per origin it ever saw; a `*.suffix` entry allows endless origins,
  // so past MAX_ORIGINS the agent is replaced and the old one closes once its requests are done.
  function dispatcherFor(url: URL, u: Undici): Agent {
    if (agent === null || (!origins.has(url.origin) && origins.size >= MAX_ORIGINS)) {
      void agent?.close();
      agent = new u.Agent({ connect: egressConnector(u.buildConnector, allow, ca, lookup) });
      origins = new Set();
    }
    origins.add(url.origin);
    return agent;
  }

  async function send(req: OutboundRequest, signal: AbortSignal): Promise<Response> {
    const u = await loadUndici();
    try {
      return await u.fetch(req.url, { method: req.method, headers: req.headers, body: req.body, redirect: 'manual', dispatcher: dispatcherFor(req.url, u), signal });
    } catch (err) {
      if (signal.aborted) throw err;
      const cause = innermost(err);
      if (cause instanceof EgressRefused) throw cause;
      throw new TypeError(`fetch to ${req.url.href} failed: ${causeMessage(err)}`);
    }
  }

  async function respond(res: Response, url: URL, redirected: boolean, signal: AbortSignal, slot: number): Promise<FetchResponse> {
    const { body, error } = await readLimited(res, limits.maxFetchBytes, signal);
    const held = body.byteLength > 0 || error !== undefined;
    const value: FetchResponse = {
      status: res.status, statusText: res.statusText, url: url.href, redirected,
      headers: [...res.headers], body, slot: held ? slot : null,
    };
    if (error !== undefined) value.bodyError = error;
    return value;
  }

  return {
    async fetch(raw, signal): Promise<FetchResult> {
      let req: OutboundRequest;
      try {
        req = parseRequest(raw);
        // A refusal by the policy costs no slot: a flood of refused fetches cannot starve allowed ones.
        checkName(allow, req.url);
      } catch (err) {
        return failure(err);
      }
      if (signal.aborted) return failure(aborted());
      const slot = slots.acquire(signal);
      if (slot === null) return failure(new TypeError(`fetch to ${req.url.href} refused: ${limits.maxFetches} fetches of this server are running or have unread bodies (limits.maxFetches)`));
      // undici leaves a listener on the signal it is given until its request is collected: an
      // invocation making thousands of fetches would pile them up on its own signal. Each fetch gets
      // a signal of its own, tied to the invocation's for as long as the fetch runs.
      const own = new AbortController();
      const cancel = () => own.abort();
      signal.addEventListener('abort', cancel, { once: true });
      try {
        const value = await hops(req, own.signal, slot);
        if (value.slot === null || signal.aborted) slots.free(slot);
        else slots.deliver(slot);
        return { ok: true, value };
      } catch (err) {
        slots.free(slot);
        return failure(signal.aborted ? aborted() : err);
      } finally {
        signal.removeEventListener('abort', cancel);
      }
    },
    release: (slot) => slots.consumed(slot),
    get active() {
      return slots.active;
    },
    close: async () => { await agent?.destroy(); },
  };
}

function readCa(file: string): string {
  const problem = caFileProblem(file);
  if (problem !== null) throw new Error(problem);
  return fs.readFileSync(file, 'utf8');
}

/** What is wrong with an `egress.caFile`, or null when it holds a PEM certificate (for config validation). */
export function caFileProblem(file: string): string | null {
  let pem: string;
  try {
    pem = fs.readFileSync(file, 'utf8');
  } catch (err) {
    return `egress.caFile "${file}" cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`;
  }
  return pem.includes('-----BEGIN CERTIFICATE-----') ? null : `egress.caFile "${file}" holds no PEM certificate`;
}

function innermost(err: unknown): unknown {
  let e = err;
  while (e instanceof Error && e.cause !== undefined) e = e.cause;
  return e;
}

function aborted(): TypeError {
  return new TypeError('fetch aborted: its invocation ended');
}

function failure(err: unknown): FetchResult {
  const message = err instanceof TypeError ? err.message : `fetch failed: ${causeMessage(err)}`;
  return { ok: false, error: { name: 'TypeError', message } };
}
