import assert from 'node:assert/strict';

/**
 * Polls `check` every `everyMs` until it returns a value other than undefined, and returns that
 * value; fails naming `what` once `ms` passed without one.
 */
export async function until<T>(what: string, check: () => Promise<T | undefined> | T | undefined, ms = 20_000, everyMs = 50): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > end) assert.fail(`never true within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Runs `probe` round after round until `during` settles, at least `rounds` times; returns what `during` gave. */
export async function probeWhile<T>(during: Promise<T>, probe: () => Promise<void>, rounds = 3): Promise<T> {
  let done = false;
  const settled = during.finally(() => { done = true; });
  for (let i = 0; !done || i < rounds; i++) await probe();
  return settled;
}
