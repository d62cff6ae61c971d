import fs from 'node:fs';
import path from 'node:path';
import type ivm from 'isolated-vm';
import type { TraceMap } from '@jridgewell/trace-mapping';
import { CallbacksLoadError, SandboxErrorCode } from './errors.js';
import { TYPES_MODULE, compileTypeScript, isTypeScript, mapStack } from './typescript.js';

/** Sources of one callbacks module graph, read once so an isolate can be rebuilt from the same code. */
export class ModuleSources {
  readonly root: string;
  readonly entry: string;
  private readonly files = new Map<string, string>();
  /** source maps of compiled TypeScript modules, by file, to give stack traces their .ts lines */
  private readonly maps = new Map<string, TraceMap>();
  private readonly compiled = new Map<string, string>();

  constructor(entry: string, entrySource?: string) {
    let real: string;
    try {
      real = fs.realpathSync(entry);
    } catch {
      throw new CallbacksLoadError(SandboxErrorCode.load, `cannot read callbacks file ${entry}: no such file`);
    }
    this.entry = real;
    this.root = path.dirname(real);
    if (entrySource !== undefined) this.files.set(real, entrySource);
  }

  /** The JavaScript of a module: its file as it is, or compiled when it is TypeScript. */
  read(file: string): string {
    let src = this.files.get(file);
    if (src === undefined) {
      try {
        src = fs.readFileSync(file, 'utf8');
      } catch (err) {
        throw new CallbacksLoadError(SandboxErrorCode.load, `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
      this.files.set(file, src);
    }
    if (!isTypeScript(file)) return src;
    let compiled = this.compiled.get(file);
    if (compiled === undefined) {
      const c = compileTypeScript(src, path.relative(this.root, file) || path.basename(file));
      this.maps.set(file, c.map);
      compiled = c.code;
      this.compiled.set(file, compiled);
    }
    return compiled;
  }

  /** A stack trace with the positions of TypeScript modules mapped back to their .ts lines. */
  mapStack(text: string): string {
    return mapStack(text, this.maps);
  }

  /** Only relative specifiers that stay inside the entry module's folder are allowed. */
  resolve(specifier: string, referrer: string): string {
    const where = `in ${path.relative(this.root, referrer) || path.basename(referrer)}`;
    if (specifier === TYPES_MODULE) {
      throw new CallbacksLoadError(SandboxErrorCode.importRefused,
        `import '${specifier}' ${where} refused: it holds types only; import them with \`import type\``);
    }
    if (!specifier.startsWith('./') && !specifier.startsWith('../')) {
      throw new CallbacksLoadError(SandboxErrorCode.importRefused,
        `import '${specifier}' ${where} refused: only relative imports from the callbacks folder are allowed (no packages, no node: built-ins)`);
    }
    const target = path.resolve(path.dirname(referrer), specifier);
    let real: string;
    try {
      real = fs.realpathSync(isTypeScript(referrer) ? typeScriptTarget(target) : target);
    } catch {
      throw new CallbacksLoadError(SandboxErrorCode.load, `import '${specifier}' ${where}: no such file ${target}`);
    }
    if (!real.startsWith(this.root + path.sep)) {
      throw new CallbacksLoadError(SandboxErrorCode.importRefused,
        `import '${specifier}' ${where} refused: it leaves the callbacks folder ${this.root}`);
    }
    return real;
  }
}

/**
 * TypeScript's own convention: `./greet.js` in a .ts module names `greet.ts` (and `.mjs` names
 * `.mts`); an extensionless specifier is tried with `.ts`. A file that exists as written wins.
 */
function typeScriptTarget(target: string): string {
  if (fs.existsSync(target) && fs.statSync(target).isFile()) return target;
  const swapped = target.replace(/\.js$/, '.ts').replace(/\.mjs$/, '.mts');
  if (swapped !== target && fs.existsSync(swapped)) return swapped;
  if (path.extname(target) === '' && fs.existsSync(`${target}.ts`)) return `${target}.ts`;
  return target;
}

function compile(isolate: ivm.Isolate, sources: ModuleSources, file: string): ivm.Module {
  try {
    return isolate.compileModuleSync(sources.read(file), { filename: file });
  } catch (err) {
    if (err instanceof CallbacksLoadError) throw err;
    const e = err as Error;
    throw new CallbacksLoadError(SandboxErrorCode.syntax, `${e.name === 'SyntaxError' ? 'SyntaxError' : 'error'} in callbacks: ${e.message}`);
  }
}

/** Compiles and links the whole graph synchronously; the first refused import aborts the load. */
export function linkModuleGraph(isolate: ivm.Isolate, context: ivm.Context, sources: ModuleSources): ivm.Module {
  const byModule = new Map<ivm.Module, string>();
  const byFile = new Map<string, ivm.Module>();
  const get = (file: string): ivm.Module => {
    let m = byFile.get(file);
    if (m === undefined) {
      m = compile(isolate, sources, file);
      byFile.set(file, m);
      byModule.set(m, file);
    }
    return m;
  };
  const entry = get(sources.entry);
  let refused: unknown;
  try {
    entry.instantiateSync(context, (specifier, referrer) => {
      try {
        return get(sources.resolve(specifier, byModule.get(referrer) ?? sources.entry));
      } catch (err) {
        refused ??= err;
        throw err;
      }
    });
  } catch (err) {
    if (refused instanceof CallbacksLoadError) throw refused;
    throw new CallbacksLoadError(SandboxErrorCode.load, `cannot link callbacks: ${(err as Error).message}`);
  }
  return entry;
}
