import { test } from 'node:test';
import assert from 'node:assert/strict';
import { INFO_FIELDS, SHAPES } from '@webdat/protocol';
import { Counters } from '../src/counters.ts';

// The snapshot sent with every batch must list the info channels in the table's order: that order is
// a record shape both threads know (protocol shapes.ts), so the keys never travel.

test('the info snapshot lists every channel in the order of the table, a shape the codec knows', () => {
  const keys = Object.keys(new Counters().snapshot(true, 0, false));
  assert.deepEqual(keys, [...INFO_FIELDS]);
  assert.ok(SHAPES.some((s) => s.join(',') === keys.join(',')));
});
