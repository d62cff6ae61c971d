// Runs inside the isolate (stringified by source.ts), before any user code. Callbacks share
// their realm with the dispatcher and may rewrite any built-in (Array.prototype.push, JSON, String,
// Function.prototype.call, Map.prototype.get, Symbol.iterator, …). Everything the dispatcher calls
// while events run is taken here, once, as plain functions that no later rewrite can reach: methods
// are "uncurried" (`mapGet(map, key)` instead of `map.get(key)`) through a bound copy of
// Function.prototype.call, so neither the method nor `call` is looked up again.

export function captureIntrinsics(g: any) {
  const call = Function.prototype.call;
  const uncurry = (fn: Function): ((self: any, ...args: any[]) => any) => call.bind(fn) as any;
  const getter = (proto: object, name: string) => uncurry(Object.getOwnPropertyDescriptor(proto, name)!.get!);
  const TypedArrayPrototype = Object.getPrototypeOf(Uint8Array.prototype);
  return Object.freeze({
    String: g.String as StringConstructor,
    Number: g.Number as NumberConstructor,
    TypeError: g.TypeError as TypeErrorConstructor,
    RangeError: g.RangeError as RangeErrorConstructor,
    Uint8Array: g.Uint8Array as Uint8ArrayConstructor,
    Int32Array: g.Int32Array as Int32ArrayConstructor,
    ArrayBuffer: g.ArrayBuffer as ArrayBufferConstructor,
    Map: g.Map as MapConstructor,
    Set: g.Set as SetConstructor,
    dateNow: Date.now,
    apply: Reflect.apply,
    decodeURIComponent: g.decodeURIComponent as (s: string) => string,
    jsonStringify: JSON.stringify,
    ObjectPrototype: Object.prototype,
    objectKeys: Object.keys,
    objectFreeze: Object.freeze,
    objectCreate: Object.create,
    objectDefineProperty: Object.defineProperty,
    setPrototypeOf: Object.setPrototypeOf,
    getPrototypeOf: Object.getPrototypeOf,
    isArray: Array.isArray,
    isView: ArrayBuffer.isView,
    isInteger: Number.isInteger,
    fromCharCode: String.fromCharCode,
    hasOwn: uncurry(Object.prototype.hasOwnProperty),
    objectToString: uncurry(Object.prototype.toString),
    charCodeAt: uncurry(String.prototype.charCodeAt),
    indexOf: uncurry(String.prototype.indexOf),
    stringSlice: uncurry(String.prototype.slice),
    regExpExec: uncurry(RegExp.prototype.exec),
    arrayBufferSlice: uncurry(ArrayBuffer.prototype.slice),
    arrayBufferByteLength: getter(ArrayBuffer.prototype, 'byteLength'),
    typedArrayBuffer: getter(TypedArrayPrototype, 'buffer'),
    typedArrayByteOffset: getter(TypedArrayPrototype, 'byteOffset'),
    typedArrayByteLength: getter(TypedArrayPrototype, 'byteLength'),
    dataViewBuffer: getter(DataView.prototype, 'buffer'),
    dataViewByteOffset: getter(DataView.prototype, 'byteOffset'),
    dataViewByteLength: getter(DataView.prototype, 'byteLength'),
    typedArrayTag: getter(TypedArrayPrototype, Symbol.toStringTag as unknown as string),
    typedArraySet: uncurry(TypedArrayPrototype.set),
    atomicsLoad: g.Atomics.load as typeof Atomics.load,
    mapGet: uncurry(Map.prototype.get),
    mapSet: uncurry(Map.prototype.set),
    mapHas: uncurry(Map.prototype.has),
    mapDelete: uncurry(Map.prototype.delete),
    mapClear: uncurry(Map.prototype.clear),
    mapForEach: uncurry(Map.prototype.forEach),
    mapSize: getter(Map.prototype, 'size'),
    setHas: uncurry(Set.prototype.has),
    setAdd: uncurry(Set.prototype.add),
    setDelete: uncurry(Set.prototype.delete),
    setForEach: uncurry(Set.prototype.forEach),
    /** V8's full collection, put on every new context's global by --expose-gc (fresh-isolates.ts); installGlobals hides it */
    gc: (typeof g.gc === 'function' ? g.gc : null) as (() => void) | null,
  });
}

export type Intrinsics = ReturnType<typeof captureIntrinsics>;
