/**
 * @module models/ngram/scorer.test
 * The sequence-level scorer: per-event surprise equals −ln of the model's probabilities, and save/load round-trips.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SyscallEvent } from '../../trace/event.js';
import type { Sequence } from '../../features/sequences/sequence.js';
import { NgramScorer } from './scorer.js';

const seq = (id: string, names: string[]): Sequence => ({
  id, events: names.map((name, i): SyscallEvent => ({ ts: BigInt(i), cpu: 0, pid: 1, tid: 1, proc: 'x', name, phase: 'complete', args: {} })),
});

test('scorer: an unseen ordering is more surprising than a training one; JSON round trip', () => {
  const train = Array.from({ length: 20 }, (_, i) => seq(`t${i}`, ['open', 'read', 'read', 'close', ...(i % 2 ? ['write'] : [])]));
  const s = NgramScorer.fit(train, 3, 1);
  const normal = seq('n', ['open', 'read', 'read', 'close']);
  const odd = seq('o', ['close', 'read', 'execve', 'open']);
  const nll = s.eventNll(normal);
  assert.equal(nll.length, 5);
  const enc = s.tokenizer.encodeField(normal, 'name');
  const ctx = Array.from(enc.slice(0, 3));
  assert.ok(Math.abs(nll[2] - -Math.log(s.model.probability(ctx, enc[3]))) < 1e-12);
  assert.ok(s.score(odd) > s.score(normal) + 1);
  assert.equal(s.score(normal), nll.reduce((a, b) => a + b, 0) / 5);
  const back = NgramScorer.fromJSON(JSON.parse(JSON.stringify(s)));
  assert.deepEqual(back.eventNll(odd), s.eventNll(odd));
});
