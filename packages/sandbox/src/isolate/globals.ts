// Runs inside the isolate. Installs the small Web-platform extras of SPEC §4 and takes away the
// doors that lead outside isolated-vm's metering (see NOTES: FinalizationRegistry callbacks and
// async WebAssembly continuations run outside any timeout; Atomics.waitAsync crashes the process).

type RandomBytes = (n: number) => Uint8Array;
type Clone = (v: unknown) => unknown;

export function installGlobals(g: any, randomBytes: RandomBytes, clone: Clone): void {
  const MAX_RANDOM = 65536;

  function getRandomValues<T extends ArrayBufferView>(array: T): T {
    if (!ArrayBuffer.isView(array) || array instanceof Float32Array || array instanceof Float64Array || array instanceof DataView) {
      throw new TypeError('The data argument must be an integer-type TypedArray');
    }
    if (array.byteLength > MAX_RANDOM) {
      const e = new Error(`The ArrayBufferView's byte length (${array.byteLength}) exceeds the number of bytes of entropy available via this API (${MAX_RANDOM})`);
      e.name = 'QuotaExceededError';
      throw e;
    }
    const bytes = randomBytes(array.byteLength);
    new Uint8Array(array.buffer, array.byteOffset, array.byteLength).set(bytes);
    return array;
  }

  function randomUUID(): string {
    const b = getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = '';
    for (let i = 0; i < 16; i++) h += (b[i] + 0x100).toString(16).slice(1);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  const crypto = Object.freeze({ getRandomValues, randomUUID });

  function structuredClone(value: unknown): unknown {
    // The host copies the value in and back out with V8's own serializer, which is exactly the
    // structured clone algorithm; anything it cannot clone throws as DataCloneError would.
    return clone(value);
  }

  Object.defineProperties(g, {
    crypto: { value: crypto, writable: true, configurable: true },
    structuredClone: { value: structuredClone, writable: true, configurable: true },
  });

  // V8 defines `gc` (--expose-gc) as a non-configurable global; the dispatcher took it, the callbacks
  // see it undefined and cannot set it.
  if (Object.prototype.hasOwnProperty.call(g, 'gc')) Object.defineProperty(g, 'gc', { value: undefined, writable: false });
  delete g.FinalizationRegistry;
  delete g.WebAssembly;
  delete g.SharedArrayBuffer;
  if (g.Atomics) { delete g.Atomics.wait; delete g.Atomics.waitAsync; }
}
