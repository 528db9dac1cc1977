/**
 * @module models/transformer/incremental.test
 * Incremental scoring (key/value cache per open sequence) gives the log-probabilities of whole-sequence scoring
 * within 1e-5, for the Transformer (within its context, and sliding past a context of 16) and the Longformer
 * (window 8: ring of cached positions plus the global start token): sequences opened at different times, pushed
 * interleaved in batches of 1 to 7, some closed as truncated, one dropped; handles are checked.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seededRandom } from '../../engine/graph.js';
import { AttentionLanguageModel } from './adapter.js';
import { events, fittedTokenizer, randomModel, smallConfig } from './fixture.js';

const train = events(8, 1);
const tokenizer = fittedTokenizer(train);

const cases: [string, number, boolean][] = [
  ['Transformer (context 64: plain causal attention)', 64, false],
  ['Transformer sliding past a context of 16', 16, false],
  ['Longformer (window 8 + global start token)', 8, true],
];

for (const [name, window, globalStart] of cases) {
  test(`${name}: incremental log-probabilities equal whole-sequence scoring`, async () => {
    const model = new AttentionLanguageModel(randomModel(smallConfig(tokenizer, window, globalStart)), tokenizer, {});
    const seqs = events(9, 7, 3, 45).map((s, i) => ({ ...s, truncated: i % 3 === 0 }));
    const full = await model.logProbsMany(seqs);
    const scorer = model.incremental();
    const got = seqs.map(() => [] as number[]);
    const handles = seqs.map(() => null as ReturnType<typeof scorer.open> | null);
    const next = seqs.map(() => 0);
    const closed = seqs.map(() => false);
    const rand = seededRandom(11);
    const sizes = [1, 3, 7, 2];
    let round = 0;
    const dropped = scorer.open();
    assert.equal(scorer.openCount, 1);
    while (closed.some((c) => !c)) {
      // Open a few more, then push one event to a batch of the open sequences that have events left.
      for (let i = 0; i < seqs.length; i++) if (handles[i] === null && rand() < 0.4) handles[i] = scorer.open();
      const ready = seqs.map((_, i) => i).filter((i) => handles[i] !== null && !closed[i] && next[i]! < seqs[i]!.events.length);
      const batch = ready.filter(() => rand() < 0.8).slice(0, sizes[round++ % sizes.length]);
      if (batch.length > 0) {
        const lp = await scorer.push(batch.map((i) => handles[i]!), batch.map((i) => seqs[i]!.events[next[i]!]!));
        batch.forEach((i, k) => { got[i]!.push(lp[k]!); next[i]!++; });
      }
      const done = seqs.map((_, i) => i).filter((i) => handles[i] !== null && !closed[i] && next[i] === seqs[i]!.events.length);
      if (done.length > 0) {
        const lp = await scorer.close(done.map((i) => handles[i]!), done.map((i) => seqs[i]!.truncated === true));
        done.forEach((i, k) => { got[i]!.push(lp[k]!); closed[i] = true; });
      }
    }
    assert.equal(scorer.openCount, 1);
    scorer.drop(dropped);
    assert.equal(scorer.openCount, 0);
    await assert.rejects(scorer.push([dropped], [seqs[0]!.events[0]!]), /not open/);
    let worst = 0;
    seqs.forEach((s, i) => {
      assert.equal(got[i]!.length, s.events.length + 1);
      for (let t = 0; t < got[i]!.length; t++) worst = Math.max(worst, Math.abs(got[i]![t]! - full[i]![t]!));
    });
    assert.ok(worst < 1e-5, `worst difference ${worst}`);
    await scorer.release();
    await model.release();
  });
}
