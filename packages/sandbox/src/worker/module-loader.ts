import fs from 'node:fs';
import path from 'node:path';
import type ivm from 'isolated-vm';
import type { TraceMap } from '@jridgewell/trace-mapping';
import { CallbacksLoadError, SandboxErrorCode } from '../shared/errors.js';
import { TYPES_MODULE, compileTypeScript, compileTypeScriptAsync, isTypeScript, mapStack, type CompiledModule } from './typescript.js';

/** Modules a graph compiled ahead may have (more are compiled when linking finds them). */
const MAX_AHEAD = 256;
/** Static `import … from "x"`, `export … from "x"` and `import "x"` as esbuild writes them (and as people do). */
const STATIC_IMPORT = /(?:^|[;}\s])(?:import|export)\s*(?:[\w$*{}\s,]*?\bfrom\s*)?["']([^"'\n]+)["']/g;

/** Sources of one callbacks module graph, read once so an isolate can be rebuilt from the same code. */
export class ModuleSources {
  readonly root: string;
  readonly entry: string;
  private readonly files = new Map<string, string>();
  /** source maps of compiled TypeScript modules, by file, to give stack traces their .ts lines */
  private readonly maps = new Map<string, TraceMap>();
  private readonly compiled = new Map<string, string>();
  /** TypeScript modules that failed to compile ahead, with their error */
  private readonly failed = new Map<string, CallbacksLoadError>();

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

  /**
   * How a file is named in messages, stack traces and the isolate itself: relative to the callbacks
   * folder, so neither an uploader nor the callbacks learn where the host keeps them.
   */
  display(file: string): string {
    return path.relative(this.root, file).split(path.sep).join('/');
  }

  /** The text of a module's file, read once. */
  private source(file: string): string {
    let src = this.files.get(file);
    if (src === undefined) {
      try {
        src = fs.readFileSync(file, 'utf8');
      } catch (err) {
        throw new CallbacksLoadError(SandboxErrorCode.load, `cannot read ${this.display(file)}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`);
      }
      this.files.set(file, src);
    }
    return src;
  }

  /** The JavaScript of a module: its file as it is, or compiled when it is TypeScript. */
  read(file: string): string {
    const src = this.source(file);
    if (!isTypeScript(file)) return src;
    const failed = this.failed.get(file);
    if (failed !== undefined) throw failed;
    let compiled = this.compiled.get(file);
    if (compiled === undefined) {
      // Stack traces name modules as the isolate knows them: by their display name.
      compiled = this.keep(file, compileTypeScript(src, this.display(file)));
    }
    return compiled;
  }

  private keep(file: string, c: CompiledModule): string {
    this.maps.set(this.display(file), c.map);
    this.compiled.set(file, c.code);
    return c.code;
  }

  /** Whether linking would compile TypeScript on its thread: the entry is a TypeScript module. */
  get needsCompiling(): boolean {
    return isTypeScript(this.entry) && !this.compiled.has(this.entry) && !this.failed.has(this.entry);
  }

  /**
   * Compiles the TypeScript modules of the graph ahead, without blocking the thread, following the
   * static imports from the entry. Best effort: what it cannot read or resolve is left for linking to
   * report, and a module it misses is compiled when linking finds it. A module that fails to compile
   * keeps its error, which linking then throws.
   */
  async compileAhead(): Promise<void> {
    const seen = new Set<string>();
    const queue = [this.entry];
    while (queue.length > 0 && seen.size < MAX_AHEAD) {
      const file = queue.shift()!;
      if (seen.has(file)) continue;
      seen.add(file);
      let code: string;
      try {
        code = this.source(file);
        if (isTypeScript(file) && !this.compiled.has(file)) {
          if (this.failed.has(file)) continue;
          code = this.keep(file, await compileTypeScriptAsync(code, this.display(file)));
        }
      } catch (err) {
        if (err instanceof CallbacksLoadError && isTypeScript(file) && this.files.has(file)) this.failed.set(file, err);
        continue;
      }
      for (const m of code.matchAll(STATIC_IMPORT)) {
        try {
          queue.push(this.resolve(m[1], file));
        } catch {
          // linking reports it, in its order
        }
      }
    }
  }

  /** A stack trace with the positions of TypeScript modules mapped back to their .ts lines. */
  mapStack(text: string): string {
    return mapStack(text, this.maps);
  }

  /**
   * Only relative specifiers that stay inside the entry module's folder are allowed. A path that
   * leaves it is refused before the file system is asked, so the answer is the same whether the
   * target exists or not; the same holds for a path that leaves through a symbolic link.
   */
  resolve(specifier: string, referrer: string): string {
    const where = `in ${this.display(referrer) || path.basename(referrer)}`;
    if (specifier === TYPES_MODULE) {
      throw new CallbacksLoadError(SandboxErrorCode.importRefused,
        `import '${specifier}' ${where} refused: it holds types only; import them with \`import type\``);
    }
    if (!specifier.startsWith('./') && !specifier.startsWith('../')) {
      throw new CallbacksLoadError(SandboxErrorCode.importRefused,
        `import '${specifier}' ${where} refused: only relative imports from the callbacks folder are allowed (no packages, no node: built-ins)`);
    }
    const leaves = () => new CallbacksLoadError(SandboxErrorCode.importRefused, `import '${specifier}' ${where} refused: it leaves the callbacks folder`);
    const target = path.resolve(path.dirname(referrer), specifier);
    if (!this.inside(target)) throw leaves();
    let real: string;
    try {
      real = fs.realpathSync(isTypeScript(referrer) ? typeScriptTarget(target) : target);
    } catch {
      if (!this.inside(this.realAncestor(target))) throw leaves();
      throw new CallbacksLoadError(SandboxErrorCode.load, `import '${specifier}' ${where}: no such file ${this.display(target)}`);
    }
    if (!this.inside(real)) throw leaves();
    return real;
  }

  private inside(file: string): boolean {
    return file.startsWith(this.root + path.sep);
  }

  /** The real path of the nearest ancestor of a missing file that exists (where a link inside the folder leads). */
  private realAncestor(file: string): string {
    for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
      try {
        return path.join(fs.realpathSync(dir), path.relative(dir, file));
      } catch {
        if (dir === path.dirname(dir)) return file;
      }
    }
  }
}

/**
 * What a load error shows of a value thrown by top-level code: its stack inside the isolate, without
 * the host frames isolated-vm appends below its boundary line.
 */
export function isolateStack(err: unknown): string {
  const stack = err instanceof Error && typeof err.stack === 'string' ? err.stack : String(err);
  const boundary = stack.indexOf('\n    at (<isolated-vm boundary>)');
  return boundary < 0 ? stack : stack.slice(0, boundary);
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
    return isolate.compileModuleSync(sources.read(file), { filename: sources.display(file) });
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
