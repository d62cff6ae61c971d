// The bytes every contender receives and sends, defined once so no server gets an easier job.

export const HELLO = 'Hello, World!';
export const BINARY_BYTES = 64 * 1024;
export const JSON_BYTES = 1024;
export const WS_MESSAGE_BYTES = 64;

/** A deterministic JSON document of exactly JSON_BYTES bytes: objects, strings and numbers to parse. */
export function jsonBody() {
  const doc = { id: 42, name: 'webdat-bench', tags: ['alpha', 'beta', 'gamma'], items: [], pad: '' };
  for (let i = 0; JSON.stringify(doc).length < JSON_BYTES - 80; i++) {
    doc.items.push({ i, label: `item-${String(i).padStart(4, '0')}`, value: i / 8 });
  }
  doc.pad = 'x'.repeat(JSON_BYTES - JSON.stringify(doc).length);
  const text = JSON.stringify(doc);
  if (Buffer.byteLength(text) !== JSON_BYTES) throw new Error(`json body is ${text.length} bytes, not ${JSON_BYTES}`);
  return text;
}

/** What every server answers to the JSON body: proof that it was parsed. */
export function jsonAnswer(body) {
  return { ok: true, id: body.id, items: body.items.length };
}
