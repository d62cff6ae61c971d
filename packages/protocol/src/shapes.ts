import { COMMANDS, EVENTS, OPTIONAL_TYPES, type Field } from './wire-table.js';
import { INFO_FIELDS } from './info.js';

// The key order of every object that crosses the thread boundary on the hot path. Both threads give
// msgpackr this same fixed list, so these shapes travel as a record id instead of a record definition
// in every message, and each message still decodes on its own. An object whose keys differ from every
// entry (a new field, another order) is still encoded correctly, with its definition inline, only
// slower: code that builds these objects writes their keys in table order. Events, commands and the
// info snapshot come from their tables; the batch envelope is listed here. Changing this list changes
// the wire format (PROTOCOL_VERSION).

/** One shape per message, and one more with its optional fields (they come last). */
function shapesOf(tag: string, lead: readonly string[], fields: readonly Field[]): string[][] {
  const required = fields.filter(([, t]) => !OPTIONAL_TYPES.includes(t)).map(([n]) => n);
  const all = fields.map(([n]) => n);
  const base = [tag, ...lead, ...required];
  return all.length === required.length ? [base] : [base, [tag, ...lead, ...all]];
}

function unique(shapes: string[][]): string[][] {
  const seen = new Set<string>();
  return shapes.filter((s) => {
    const key = s.join('\0');
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

export const SHAPES: readonly (readonly string[])[] = unique([
  ...Object.values(EVENTS).flatMap((e) => shapesOf('k', ['id'], e.fields)),
  ...Object.values(COMMANDS).flatMap((c) => shapesOf('c', [], c.fields)),
  // batches and their results (messages.ts)
  ['v', 't', 'batches'],
  ['instance', 'generation', 'info', 'events', 'cancel'],
  [...INFO_FIELDS],
  ['v', 'results', 'ringEnd', 'outboxEnds', 'hold'],
  ['instance', 'generation', 'commands', 'pending', 'backlog', 'breachedMs', 'stats'],
  ['heapUsed', 'cpuTimeMs', 'memoryRestarts', 'headerBreaches', 'logLinesDropped', 'live'],
]);
