/**
 * @module detect/ensemble.test
 * Normalisation and combination on real scores: two n-grams (orders 2 and 5) fitted here on the committed web-server
 * sample's normal requests score normal and `io` requests; their stored statistics (mean, std, capped scores,
 * fingerprint) match hand computation; z and rank normalisation put a member's own validation scores at mean 0 /
 * std 1 and on uniform mid-ranks (with exponential tails beyond them); the ensemble score is the mean of the members' normalised scores; the paired
 * label-free threshold leaves at most 1 % of the validation sequences above it; unpaired members fall back to the
 * mean of their own thresholds, said so; and the ensemble ranks `io` requests above normal ones.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Sequence } from '../features/sequences/sequence.js';
import { NgramScorer } from '../models/ngram/scorer.js';
import { fingerprintIds, MAX_STORED_SCORES, normalStats, checkNormalStats } from '../models/normal-scores.js';
import { webRequests } from '../testing/web-sample.js';
import { combineScores, ensembleThreshold, Normaliser } from './ensemble.js';
import { rocAuc } from './metrics.js';
import { quantileValue } from './threshold.js';

const read = (name: string) => webRequests(name, 'web-demo');

const data = (async () => {
  const normal = await read('normal');
  const io = await read('io');
  const train = normal.filter((_, i) => i % 3 !== 0);
  const valid = normal.filter((_, i) => i % 3 === 0);
  const models = [NgramScorer.fit(train, 2, 1), NgramScorer.fit(train, 5, 1)];
  const ppl = (m: NgramScorer, seqs: Sequence[]) => Float64Array.from(seqs, (s) => Math.exp(m.score(s)));
  return {
    valid, io,
    validPpl: models.map((m) => ppl(m, valid)),
    ioPpl: models.map((m) => ppl(m, io)),
  };
})();

test('normal score statistics: mean, std, capped scores in data order, id fingerprint', async () => {
  const d = await data;
  const ids = d.valid.map((s) => s.id);
  const st = normalStats(ids, d.validPpl[0], 'validation');
  const logs = Array.from(d.validPpl[0], Math.log);
  const mean = logs.reduce((a, b) => a + b, 0) / logs.length;
  const std = Math.sqrt(logs.reduce((a, b) => a + (b - mean) ** 2, 0) / logs.length);
  assert.equal(st.count, d.valid.length);
  assert.ok(Math.abs(st.mean - mean) < 1e-12 && Math.abs(st.std - std) < 1e-9, `${st.mean} ${st.std} vs ${mean} ${std}`);
  assert.ok(d.valid.length <= MAX_STORED_SCORES);
  assert.deepEqual(st.scores, logs);
  assert.equal(st.stride, 1);
  assert.equal(st.ids, fingerprintIds(ids));
  assert.notEqual(st.ids, fingerprintIds([...ids].reverse()));
  assert.equal(checkNormalStats(JSON.parse(JSON.stringify(st))), undefined);
  assert.match(checkNormalStats({ ...st, std: -1 }) ?? '', /std/);
  // capped: every k-th sequence
  const capped = normalStats(ids, d.validPpl[0], 'validation', 100);
  const k = Math.ceil(ids.length / 100);
  assert.equal(capped.stride, k);
  assert.deepEqual(capped.scores, logs.filter((_, i) => i % k === 0));
  assert.equal(capped.mean, st.mean);
});

test('z and rank normalisation: a member\'s own validation scores get mean 0 / std 1, and uniform mid-ranks', async () => {
  const d = await data;
  const st = normalStats(d.valid.map((s) => s.id), d.validPpl[1], 'validation');
  const z = new Normaliser(st, 'z');
  const zs = Array.from(d.validPpl[1], (p) => z.of(p));
  const zm = zs.reduce((a, b) => a + b, 0) / zs.length;
  const zsd = Math.sqrt(zs.reduce((a, b) => a + (b - zm) ** 2, 0) / zs.length);
  assert.ok(Math.abs(zm) < 1e-9 && Math.abs(zsd - 1) < 1e-9, `${zm} ${zsd}`);
  const r = new Normaliser(st, 'rank');
  const ranks = Array.from(d.validPpl[1], (p) => r.of(p));
  const rm = ranks.reduce((a, b) => a + b, 0) / ranks.length;
  assert.ok(Math.abs(rm - 0.5) < 1e-9, `mean mid-rank ${rm}`); // mid-ranks of a sample average exactly 1/2
  const sorted = Array.from(d.validPpl[1]).sort((a, b) => a - b);
  // beyond the stored scores: exponential tails, still increasing, continuous with the end mid-ranks
  const n = st.scores.length;
  const top = sorted[sorted.length - 1];
  const [a, b] = [r.of(top * 1.5), r.of(top * 3)];
  assert.ok(a > 1 - 0.5 / n && a < b && b < 1, `${a} ${b}`);
  assert.ok(Math.abs(r.of(top * (1 + 1e-9)) - (1 - 0.5 / n)) < 1e-6);
  assert.equal(r.of(Infinity), 1);
  const low = r.of(sorted[0] / 2);
  assert.ok(low > 0 && low < 0.5 / n);
  // monotone
  const ps = [...new Set(sorted)];
  for (let i = 1; i < ps.length; i++) assert.ok(r.of(ps[i]) > r.of(ps[i - 1]) && z.of(ps[i]) > z.of(ps[i - 1]));
});

test('the ensemble score is the mean of normalised member scores; paired threshold; unpaired fallback; io above normal', async () => {
  const d = await data;
  const ids = d.valid.map((s) => s.id);
  for (const combine of ['z', 'rank'] as const) {
    const norm = d.validPpl.map((p) => new Normaliser(normalStats(ids, p, 'validation'), combine));
    const io = combineScores(norm, d.ioPpl);
    for (const i of [0, 7, 123]) assert.ok(Math.abs(io[i] - (norm[0].of(d.ioPpl[0][i]) + norm[1].of(d.ioPpl[1][i])) / 2) < 1e-12);
    const th = ensembleThreshold(norm, 0.99, [1, 1]);
    assert.ok(th.paired);
    const valid = combineScores(norm, d.validPpl);
    assert.equal(th.value, quantileValue(valid, 0.99));
    assert.ok(valid.filter((x) => x > th.value).length <= Math.floor(0.01 * valid.length));
    const auc = rocAuc([...valid, ...io], [...valid].map(() => false).concat([...io].map(() => true)));
    assert.ok(auc > 0.9, `${combine}: ensemble AUC io vs normal ${auc}`);
    // members validated on different sequences: the mean of their own thresholds, normalised
    const other = new Normaliser(normalStats(ids.slice(1), d.validPpl[1].subarray(1), 'validation'), combine);
    const fb = ensembleThreshold([norm[0], other], 0.99, [3, 4]);
    assert.equal(fb.paired, false);
    assert.match(fb.name, /approximate/);
    assert.ok(Math.abs(fb.value - (norm[0].of(3) + other.of(4)) / 2) < 1e-12);
  }
  assert.throws(() => combineScores([], []), RangeError);
});
