import { execFile, execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { TraceMap, originalPositionFor } from '@jridgewell/trace-mapping';
import { CallbacksLoadError, SandboxErrorCode } from '../shared/errors.js';

// TypeScript callbacks (SPEC §11): types are stripped by esbuild, without type checking. Each module
// is compiled by its own esbuild process with a deadline: esbuild's in-process service dies for good
// on a stack overflow (seen here with 200,000 nested brackets), which would end TypeScript for every
// server on the worker, and a compile cannot be stopped from the thread that waits for it. Nesting
// without brackets (60,000 unary minuses or arrows: 60 KB) takes esbuild seconds and hundreds of MB of
// stack before it gives up, so the worker compiles a module graph ahead with compileTypeScriptAsync
// and serves its other servers meanwhile (module-loader.ts); the synchronous compile is the fallback.

const MAX_SOURCE_BYTES = 4 * 1024 * 1024;
/** Raw bracket depth beyond which a module is refused before compiling (esbuild overflows its stack near 200,000). */
const MAX_NESTING = 1000;
const COMPILE_TIMEOUT_MS = 10_000;
/** The module that only exists as types for authors; an import of it must be erased by compilation. */
export const TYPES_MODULE = '@webdat/engine/callbacks';

const TS_FILE = /\.(m?ts)$/;
export function isTypeScript(file: string): boolean {
  return TS_FILE.test(file) && !file.endsWith('.d.ts');
}

let binary: string | undefined;
function esbuildBinary(): string {
  if (binary === undefined) {
    const own = createRequire(import.meta.url);
    const fromEsbuild = createRequire(own.resolve('esbuild'));
    binary = fromEsbuild.resolve(`@esbuild/${process.platform}-${process.arch}/bin/esbuild`);
  }
  return binary;
}

function nestingDepth(src: string): number {
  let depth = 0;
  let max = 0;
  for (let i = 0; i < src.length; i++) {
    const c = src.charCodeAt(i);
    if (c === 40 || c === 91 || c === 123) { if (++depth > max) max = depth; } // ( [ {
    else if (c === 41 || c === 93 || c === 125) depth--;
  }
  return max;
}

export interface CompiledModule {
  code: string;
  map: TraceMap;
}

function precheck(source: string, shown: string): void {
  if (Buffer.byteLength(source) > MAX_SOURCE_BYTES) {
    throw new CallbacksLoadError(SandboxErrorCode.syntax, `${shown}: TypeScript module larger than ${MAX_SOURCE_BYTES / 1024 / 1024} MiB`);
  }
  if (nestingDepth(source) > MAX_NESTING) {
    throw new CallbacksLoadError(SandboxErrorCode.syntax, `${shown}: brackets nested deeper than ${MAX_NESTING} levels`);
  }
}

function esbuildArgs(shown: string): string[] {
  return ['--loader=ts', '--format=esm', '--target=esnext', '--sourcemap=inline', '--log-level=error', `--sourcefile=${path.basename(shown)}`];
}

const ESBUILD_OPTIONS = { encoding: 'utf8', timeout: COMPILE_TIMEOUT_MS, maxBuffer: 8 * MAX_SOURCE_BYTES } as const;

function compileFailure(err: unknown, shown: string): CallbacksLoadError {
  const e = err as { stderr?: string; signal?: string; killed?: boolean };
  if (e.signal === 'SIGTERM') return new CallbacksLoadError(SandboxErrorCode.syntax, `${shown}: TypeScript compilation took longer than ${COMPILE_TIMEOUT_MS / 1000} s`);
  return new CallbacksLoadError(SandboxErrorCode.syntax, `TypeScript error in ${firstError(e.stderr ?? '', shown)}`);
}

function compiled(out: string): CompiledModule {
  const marker = out.lastIndexOf('//# sourceMappingURL=data:application/json;base64,');
  const json = Buffer.from(out.slice(out.indexOf(',', marker) + 1).trim(), 'base64').toString('utf8');
  return { code: out.slice(0, marker), map: new TraceMap(json) };
}

/** Strips the types of one module, blocking its thread; throws CallbacksLoadError naming `shown` (the file as users know it) and the line. */
export function compileTypeScript(source: string, shown: string): CompiledModule {
  precheck(source, shown);
  let out: string;
  try {
    out = execFileSync(esbuildBinary(), esbuildArgs(shown), { ...ESBUILD_OPTIONS, input: source, stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (err) {
    throw compileFailure(err, shown);
  }
  return compiled(out);
}

/** compileTypeScript without blocking its thread: the same checks, deadline and errors (rejected with). */
export function compileTypeScriptAsync(source: string, shown: string): Promise<CompiledModule> {
  try {
    precheck(source, shown);
  } catch (err) {
    return Promise.reject(err);
  }
  return new Promise((resolve, reject) => {
    const child = execFile(esbuildBinary(), esbuildArgs(shown), ESBUILD_OPTIONS, (err, stdout, stderr) => {
      if (err !== null) reject(compileFailure({ signal: err.signal, stderr }, shown));
      else resolve(compiled(stdout));
    });
    // esbuild may exit before reading all of a source it cannot parse: that is its error to report, not ours
    child.stdin?.on('error', () => {});
    child.stdin?.end(source);
  });
}

/** esbuild writes "✘ [ERROR] message\n\n    a.ts:3:14:\n ..."; this keeps `file:line:column: message`. */
function firstError(stderr: string, shown: string): string {
  const message = /\[ERROR\]\s*(.+)/.exec(stderr)?.[1]?.trim() ?? 'compilation failed';
  const at = /^\s*[^\s:]+:(\d+):(\d+):/m.exec(stderr);
  return at === null ? `${shown}: ${message}` : `${shown}:${at[1]}:${Number(at[2]) + 1}: ${message}`;
}

/** Rewrites `file:line:column` positions of compiled modules in a stack trace to their TypeScript lines. */
export function mapStack(text: string, maps: ReadonlyMap<string, TraceMap>): string {
  if (maps.size === 0) return text;
  return text.replace(/([^\s()]+\.m?ts):(\d+):(\d+)/g, (whole, file: string, line: string, column: string) => {
    const map = maps.get(file);
    if (map === undefined) return whole;
    const p = originalPositionFor(map, { line: Number(line), column: Number(column) - 1 });
    return p.line === null ? whole : `${file}:${p.line}:${p.column + 1}`;
  });
}
