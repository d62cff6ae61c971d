import { installEncoding } from './encoding.js';
import { installUrl } from './url.js';
import { installGlobals } from './globals.js';
import { createHostOps } from './host-ops.js';
import { installTimers } from './timers.js';
import { createStorage } from './storage.js';
import { installFetch } from './fetch.js';
import { createDispatcher } from './dispatcher.js';
import { createOutputBudget } from './output-budget.js';
import { createLogAllowance } from './log-allowance.js';
import { captureIntrinsics } from './intrinsics.js';
import { isolateWritersSource } from '@webdat/protocol';

/**
 * The prelude: one script evaluated in every new context before user code. It is written as typed
 * functions (so the compiler checks it) and shipped into the isolate as their source text; each of
 * them must therefore be self-contained. Host functions arrive as arguments, are captured in the
 * closure and never reach the global object. The dispatcher's command writers are compiled from the
 * wire table (protocol isolate-layout.ts), the event offsets arrive with `kinds`.
 */
export const PRELUDE_SOURCE = `(function (urlHost, randomBytes, clone, opHost, timerHost, kinds, meta) {
'use strict';
const intrinsics = (${captureIntrinsics.toString()})(globalThis);
(${installEncoding.toString()})(globalThis);
(${installUrl.toString()})(globalThis, urlHost);
(${installGlobals.toString()})(globalThis, randomBytes, clone);
const ops = (${createHostOps.toString()})(intrinsics, opHost);
const timers = (${installTimers.toString()})(globalThis, intrinsics, timerHost, meta.maxTimers, () => ops.current);
(${installFetch.toString()})(globalThis, ops);
const storage = (${createStorage.toString()})(ops);
const write = Object.freeze(${isolateWritersSource()});
return (${createDispatcher.toString()})(globalThis, intrinsics, kinds, write, meta, ops, timers, storage,
  (${createOutputBudget.toString()})(intrinsics, meta.maxOutputBytes),
  (${createLogAllowance.toString()})(intrinsics, meta.logLinesPerSecond, meta.logBytesPerSecond));
})`;
