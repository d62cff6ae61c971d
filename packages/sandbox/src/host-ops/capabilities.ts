import type { TenantSpec } from '@webdat/protocol';

// The capabilities a server's callbacks reach through host operations, by operation name. The
// storage and fetch modules (capabilities/storage, capabilities/fetch) plug in here; this file only
// maps operation names and arguments onto them and their results onto what the isolate receives.

export type OpResult = { ok: true; value: unknown } | { ok: false; error: { name: string; message: string } };

export interface Capabilities {
  /** Starts operation `name`; throws for an unknown name. */
  run(name: string, args: unknown[], signal: AbortSignal): Promise<OpResult>;
  /** the worker is done with this server's isolate for good (reload, unload) */
  close(): void;
}

export function openCapabilities(spec: TenantSpec): Capabilities {
  const unavailable = (what: string): Promise<OpResult> => Promise.resolve({
    ok: false,
    error: { name: what === 'storage' ? 'StorageUnavailableError' : 'TypeError', message: `${what} is not available in this build of webdat` },
  });
  void spec;
  return {
    run(name) {
      switch (name) {
        case 'storage.get': case 'storage.put': case 'storage.delete': case 'storage.list':
          return unavailable('storage');
        case 'fetch':
          return unavailable('fetch');
        default:
          throw new Error(`unknown host operation ${name}`);
      }
    },
    close() {},
  };
}
