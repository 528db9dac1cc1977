/**
 * @module models/lstm/options.test
 * The LSTM's `fields` setting `auto` (the default): on ADFA-LD, read as the commands read it, the pid, tid and process
 * of a trace name that trace only, so the model reads name, phase, time delta and return class; fields whose values
 * recur across sequences are kept; an explicit list is taken as given.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { openData, parseDataArg } from '../../features/dataset.js';
import type { Sequence } from '../../features/sequences/sequence.js';
import { TOKEN_FIELDS } from '../../features/tokens/tokenizer.js';
import { sharedData } from '../../testing/paths.js';
import { AUTO_FIELDS, chooseFields, LSTM_OPTIONS, parseFields } from './options.js';

const zip = sharedData('adfa-ld', 'ADFA-LD.zip');

test('fields auto on ADFA-LD Training_Data_Master: pid, tid and process (one per trace) are left out', { skip: existsSync(zip) ? undefined : `${zip} not found` }, async () => {
  const seqs: Sequence[] = [];
  const data = openData(parseDataArg(`${zip}:Training_Data_Master`), { segmentation: 'trace', maxLength: 100_000, pairing: 'paired', lenient: false });
  for await (const s of data) {
    seqs.push(s);
    if (seqs.length === 60) break;
  }
  assert.deepEqual(chooseFields(seqs), ['name', 'phase', 'dt', 'ret']);
});

test('fields auto keeps a field whose values recur across sequences, never pid or tid; one sequence keeps all others; explicit lists are kept', () => {
  const seq = (id: string, pid: number, proc: string): Sequence => ({
    id, events: ['open', 'read', 'close'].map((name, i) => ({ ts: BigInt(1000 * i), cpu: 0, pid, tid: pid + i, proc, name, phase: 'complete' as const, args: {}, ret: 0 })),
  });
  // pid 1 recurs (s0, s2); tids 1..3 recur too; every process name is its sequence's own
  const seqs = [seq('s0', 1, 'a'), seq('s1', 7, 'b'), seq('s2', 1, 'c')];
  assert.deepEqual(chooseFields(seqs), ['name', 'phase', 'dt', 'ret']);
  assert.deepEqual(chooseFields([seq('s0', 1, 'a'), seq('s1', 7, 'a')]), ['name', 'phase', 'dt', 'proc', 'ret']);
  assert.deepEqual(chooseFields(seqs.slice(0, 1)), ['name', 'phase', 'dt', 'proc', 'ret']);
  const fields = LSTM_OPTIONS.find((o) => o.key === 'fields')!;
  assert.equal(fields.defaultValue, AUTO_FIELDS);
  assert.equal(parseFields(' auto '), AUTO_FIELDS);
  assert.equal(parseFields('name,pid'), 'name,pid');
});
