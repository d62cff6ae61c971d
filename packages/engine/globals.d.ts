// The globals the sandbox adds to standard JavaScript (SPEC §4, §9, §10), for TypeScript projects
// without the DOM library: `/// <reference types="@webdat/engine/globals" />` or list it in
// `compilerOptions.types`. Projects with the DOM library already have these names.

import type { Fetch, Headers as SandboxHeaders, HeadersInit } from './callbacks.js';

declare global {
  /** SPEC §10; see `Fetch` in @webdat/engine/callbacks. */
  var fetch: Fetch;
  var Headers: { new (init?: HeadersInit): SandboxHeaders; prototype: SandboxHeaders };
  /** Timers are metered: at most `limits.maxTimers` pending; a timer's callback is an invocation of its own. */
  function setTimeout<A extends unknown[]>(fn: (...args: A) => void, ms?: number, ...args: A): number;
  function setInterval<A extends unknown[]>(fn: (...args: A) => void, ms?: number, ...args: A): number;
  function clearTimeout(id: number | undefined): void;
  function clearInterval(id: number | undefined): void;
  function queueMicrotask(fn: () => void): void;
  var console: {
    log(...args: unknown[]): void;
    info(...args: unknown[]): void;
    warn(...args: unknown[]): void;
    error(...args: unknown[]): void;
    debug(...args: unknown[]): void;
  };
}

export {};
