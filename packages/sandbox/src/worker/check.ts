import ivm from 'isolated-vm';
import { ModuleSources, linkModuleGraph } from './module-loader.js';

/** Heap of the throwaway isolate a check compiles in; the code is compiled and linked, never run. */
const CHECK_MEMORY_MB = 128;

/**
 * What a callbacks module graph can be refused for without running it: a missing or unreadable file,
 * a syntax or TypeScript error, a refused or missing import. Errors of its top-level code show only
 * when it runs. Throws CallbacksLoadError.
 */
export function checkModuleGraph(entry: string): void {
  const sources = new ModuleSources(entry);
  const isolate = new ivm.Isolate({ memoryLimit: CHECK_MEMORY_MB });
  try {
    linkModuleGraph(isolate, isolate.createContextSync(), sources);
  } finally {
    isolate.dispose();
  }
}
