/** With the `u` flag a surrogate pair is one code point, so this matches lone surrogates only. */
const LONE_SURROGATE = /\p{Surrogate}/u;

/**
 * Strings with lone surrogates cannot be stored exactly: UTF-8 (keys) and msgpack (values) turn every
 * lone surrogate into U+FFFD, so two different strings would come back as one.
 */
export function isWellFormed(text: string): boolean {
  return !LONE_SURROGATE.test(text);
}
