import fc from 'fast-check';

// Arbitraries shared by the fuzz targets: values that look like what a target expects, with every
// field liable to be replaced by something it does not expect.

/** Any value a decoder or guard might meet, weighted towards the odd ones. */
export const oddValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(undefined, null, true, false, 0, -0, -1, 1.5, NaN, Infinity, -Infinity, 2 ** 53, -(2 ** 31), '', '\u0000', '__proto__', 'constructor'),
  fc.integer(), fc.double(), fc.string(), fc.string({ unit: 'binary' }),
  fc.uint8Array({ maxLength: 16 }),
  fc.array(fc.integer(), { maxLength: 4 }),
  fc.dictionary(fc.string({ maxLength: 4 }), fc.integer(), { maxKeys: 3 }),
  fc.anything({ maxDepth: 2, withNullPrototype: true, withBigInt: true, withDate: true, withMap: true, withSet: true, withTypedArray: true, withSparseArray: true }),
);

/** `base` with some fields replaced by odd values, some removed and some added. */
export function mutatedRecord<T extends Record<string, unknown>>(base: fc.Arbitrary<T>): fc.Arbitrary<Record<string, unknown>> {
  return fc.tuple(base, fc.array(fc.tuple(fc.nat(), oddValue, fc.constantFrom('replace', 'delete', 'add')), { maxLength: 3 }), fc.string({ maxLength: 6 })).map(([rec, edits, extra]) => {
    const out: Record<string, unknown> = { ...rec };
    const keys = Object.keys(out);
    for (const [at, value, how] of edits) {
      const key = keys.length === 0 ? extra : keys[at % keys.length];
      if (how === 'delete') delete out[key];
      else out[how === 'add' ? extra : key] = value;
    }
    return out;
  });
}

/** A byte string with a few bytes flipped, cut, or inserted. */
export function mutatedBytes(base: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> {
  return fc.tuple(base, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('flip', 'set', 'cut', 'insert')), { minLength: 1, maxLength: 4 })).map(([bytes, edits]) => {
    let b = Array.from(bytes);
    for (const [at, byte, how] of edits) {
      const i = b.length === 0 ? 0 : at % b.length;
      if (how === 'flip') b[i] ^= 1 << (byte % 8);
      else if (how === 'set') b[i] = byte;
      else if (how === 'cut') b = b.slice(0, i);
      else b.splice(i, 0, byte);
    }
    return Uint8Array.from(b);
  });
}
