/** A close frame's payload is at most 125 bytes: the 2-byte code and a reason of up to 123 bytes (RFC 6455 §5.5). */
const MAX_CLOSE_REASON_BYTES = 123;

/**
 * The reason cut to what fits in a close frame, at a character boundary: uWS cuts at 123 bytes
 * whatever they are, and half a character is invalid UTF-8, which a client answers by failing the
 * connection (1006) instead of reporting the code it was sent.
 */
export function closeReason(reason: string): string {
  // Three bytes per UTF-16 unit at most, lone surrogates included (they become U+FFFD).
  if (reason.length * 3 <= MAX_CLOSE_REASON_BYTES) return reason;
  const bytes = Buffer.from(reason, 'utf8');
  if (bytes.length <= MAX_CLOSE_REASON_BYTES) return bytes.toString('utf8');
  let end = MAX_CLOSE_REASON_BYTES;
  while ((bytes[end] & 0xc0) === 0x80) end--;
  return bytes.toString('utf8', 0, end);
}
