/**
 * @module features/tokens/tokens.test
 * Vocabulary fitting, field tokens and sequence encoding on small sequences whose ids follow from the rules.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SyscallEvent } from '../../trace/event.js';
import type { Sequence } from '../sequences/sequence.js';
import { END, START, TRUNCATE, Tokenizer, UNKNOWN, Vocabulary, dtBucket, retClass } from './index.js';

function ev(ts: bigint, name: string, ret?: number): SyscallEvent {
  const e: SyscallEvent = { ts, cpu: 0, pid: 10, tid: 11, proc: 'nginx', name, phase: 'complete', args: {} };
  if (ret !== undefined) e.ret = ret;
  return e;
}

test('dtBucket is the bit length of the delta, 0 for none', () => {
  assert.deepEqual([0n, -5n, 1n, 2n, 3n, 4n, 1023n, 1024n].map(dtBucket), [0, 0, 1, 2, 2, 3, 10, 11]);
  assert.equal(dtBucket(1n << 60n), 41);
});

test('retClass', () => {
  assert.equal(retClass(ev(0n, 'read', 5)), 'success');
  assert.equal(retClass(ev(0n, 'read', -11)), 'error');
  assert.equal(retClass(ev(0n, 'mmap', -5000)), 'success', 'an address above -4096 is not an errno');
  assert.equal(retClass(ev(0n, 'exit_group')), 'none');
});

test('Vocabulary: frequency order, ties by string, min count to <unk>, JSON round trip', () => {
  const v = Vocabulary.fit(new Map([['read', 5], ['write', 2], ['close', 2], ['rare', 1]]), 2);
  assert.equal(v.size, 5 + 3);
  assert.deepEqual([v.id('read'), v.id('close'), v.id('write'), v.id('rare'), v.id('never')], [5, 6, 7, UNKNOWN, UNKNOWN]);
  assert.equal(v.token(6), 'close');
  assert.equal(v.token(START), '<s>');
  assert.equal(v.unknownCount, 1);
  const w = Vocabulary.fromJSON(JSON.parse(JSON.stringify(v)));
  assert.equal(w.id('write'), 7);
  assert.throws(() => v.token(99), RangeError);
});

test('Tokenizer encodes every field with start/end and truncate markers', () => {
  const a: Sequence = { id: 'a', events: [ev(1000n, 'read', 3), ev(1004n, 'write', -32), ev(1004n, 'read', 0)] };
  const b: Sequence = { id: 'b', events: [ev(0n, 'openat', 3)], truncated: true };
  const tok = new Tokenizer(['name', 'dt', 'ret', 'proc'], 1).fit([a, b]);
  // names: read ×2, openat ×1, write ×1 → read=5, openat=6, write=7
  assert.deepEqual([...tok.encodeField(a, 'name')], [START, 5, 7, 5, END]);
  assert.deepEqual([...tok.encodeField(b, 'name')], [START, 6, TRUNCATE]);
  // dt tokens of a: '0' (first), '3' (4 ns), '0' → '0' ×3 (with b) = 5, '3' = 6
  assert.deepEqual([...tok.encodeField(a, 'dt')], [START, 5, 6, 5, END]);
  // ret: success ×3 = 5, error = 6
  assert.deepEqual([...tok.encodeField(a, 'ret')], [START, 5, 6, 5, END]);
  const all = tok.encode(a);
  assert.equal(all.length, 4);
  assert.deepEqual([...all[3]], [START, 5, 5, 5, END]);
  const unseen: Sequence = { id: 'c', events: [ev(0n, 'ptrace', 0)] };
  assert.deepEqual([...tok.encodeField(unseen, 'name')], [START, UNKNOWN, END]);
  const back = Tokenizer.fromJSON(JSON.parse(JSON.stringify(tok)));
  assert.deepEqual(back.encode(a).map((x) => [...x]), all.map((x) => [...x]));
  assert.throws(() => tok.vocabulary('pid'), RangeError);
  assert.throws(() => new Tokenizer(['name', 'bogus' as 'name'], 1), RangeError);
  assert.throws(() => Tokenizer.fromJSON({ ...tok.toJSON(), magic: 'x' as 'syscall-anomaly/tokenizer' }));
});
