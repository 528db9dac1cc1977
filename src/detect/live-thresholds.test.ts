/**
 * @module detect/live-thresholds.test
 * Prefix thresholds on real requests (the committed web-server sample, an n-gram fitted on part of it): the ones taken
 * from the prefix scores a model folder stores equal those calibrated on the same normal sequences at start-up, for
 * any power-of-two `minEvents` and quantile; a `minEvents` that is no power of two is not served from them; beyond
 * the stored cap every stride-th sequence is kept and the quantile stays among the calibrated ones nearby. An
 * ensemble combines its members' stored scores when they were taken on the same sequences: the same values as
 * scoring those sequences with the ensemble itself.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openData } from '../features/dataset.js';
import type { Sequence } from '../features/sequences/index.js';
import { MODEL_KINDS, perplexityMany, resolveSettings, type LanguageModel } from '../models/language-model.js';
import { MAX_STORED_PREFIXES, normalStats } from '../models/normal-scores.js';
import { EnsembleLiveModel } from './ensemble-stream.js';
import { projectData } from '../testing/paths.js';
import { calibratePrefixThresholds, prefixThresholdsFromScores, storedPrefixScores } from './live-thresholds.js';

const NORMAL = projectData('web-demo', 'normal.jsonl.gz');

async function requests(): Promise<Sequence[]> {
  const out: Sequence[] = [];
  for await (const s of openData({ kind: 'trace', arg: 'normal', path: NORMAL }, { segmentation: 'request', maxLength: 1000, pairing: 'paired', lenient: false })) out.push(s);
  return out;
}

async function* over(xs: readonly Sequence[]): AsyncGenerator<Sequence> {
  yield* xs;
}

async function fitNgram(train: readonly Sequence[], order: number): Promise<LanguageModel> {
  const entry = MODEL_KINDS.find((k) => k.kind === 'ngram')!;
  return (await entry.implementation()).fit({ train: () => over(train) }, resolveSettings(entry, new Map([['order', String(order)]])));
}

test('thresholds from stored prefix scores equal those calibrated on the same sequences', async () => {
  const all = await requests();
  const train = all.filter((_, i) => i % 4 !== 3);
  const normal = all.filter((_, i) => i % 4 === 3);
  const model = await fitNgram(train, 5);
  const stored = await storedPrefixScores(model, over(normal), 1000, 'held-out');
  assert.equal(stored.sequences, normal.length);
  assert.deepEqual(stored.points.map((p) => p.length).slice(0, 5), [1, 2, 4, 8, 16]);
  for (const p of stored.points) assert.ok(p.stride === 1 && p.perplexities.length === p.count, `length ${p.length}: all ${p.count} kept`);
  for (const [q, minEvents] of [[0.99, 16], [0.9, 8], [0.5, 4]] as const) {
    const { pValueAt: pCalibrated, ...calibrated } = await calibratePrefixThresholds(model, over(normal), q, minEvents, 1000);
    const { pValueAt: pStored, ...fromStored } = prefixThresholdsFromScores(stored, q, minEvents)!;
    assert.ok(calibrated.points.length >= 2, `q ${q}, minEvents ${minEvents}: some checkpoints calibrated`);
    assert.deepEqual(fromStored, calibrated, `q ${q}, minEvents ${minEvents}`);
    // and so are the p-values of running sequences (against the normal prefixes of their length; none between checkpoints)
    for (const pt of calibrated.points) {
      const probes = [pt.value, pt.value * 1.5, 1];
      assert.deepEqual(probes.map((x) => pStored!(pt.length, x)), probes.map((x) => pCalibrated!(pt.length, x)), `length ${pt.length}`);
      // above the q-quantile of n normal prefixes: at most (1 − q)·n + 1 of them are as high
      assert.ok(pStored!(pt.length, pt.value * 1.5)! <= (2 + (1 - q) * pt.fittedOn) / (pt.fittedOn + 1), `length ${pt.length}`);
    }
    assert.equal(pStored!(calibrated.points[0]!.length + 1, 2), undefined);
  }
  assert.equal(prefixThresholdsFromScores(stored, 0.99, 20), undefined, 'checkpoints 20, 40, … were not stored');
  assert.throws(() => prefixThresholdsFromScores(stored, 1.5, 16), /prefix quantile/);

  // Beyond the cap every stride-th sequence is kept: its quantile lies among the calibrated ones nearby.
  const many = await storedPrefixScores(model, over(all), 1000, 'validation');
  const first = many.points[0]!;
  assert.equal(first.count, all.length);
  assert.equal(first.stride, Math.ceil(all.length / MAX_STORED_PREFIXES));
  assert.ok(first.perplexities.length <= MAX_STORED_PREFIXES);
  const at = (q: number) => prefixThresholdsFromScores(many, q, 1)!.points[0]!.value;
  const cal = async (q: number) => (await calibratePrefixThresholds(model, over(all), q, 1, 1)).points[0]!.value;
  assert.ok(at(0.9) >= await cal(0.85) && at(0.9) <= await cal(0.95), `q 0.9 from every ${first.stride}th: ${at(0.9)}`);
  await model.release();
});

test("an ensemble's prefix scores combine its members' stored ones when they share the sequences", async () => {
  const all = await requests();
  const train = all.filter((_, i) => i % 4 !== 3);
  const normal = all.filter((_, i) => i % 4 === 3);
  const members = [await fitNgram(train, 2), await fitNgram(train, 4)];
  const stats = await Promise.all(members.map(async (m) => normalStats(normal.map((x) => x.id), await perplexityMany(m, normal), 'held-out')));
  const ensemble = new EnsembleLiveModel(members.map((model, i) => ({ model, stats: stats[i]!, label: `order ${i}` })));
  const stored = await Promise.all(members.map((m) => storedPrefixScores(m, over(normal), 1000, 'held-out')));
  const combined = ensemble.prefixScores(stored)!;
  const direct = await storedPrefixScores(ensemble, over(normal), 1000, 'held-out');
  assert.equal(combined.points.length, direct.points.length);
  combined.points.forEach((p, i) => {
    const d = direct.points[i]!;
    assert.equal(p.ids, d.ids);
    p.perplexities.forEach((x, j) => assert.ok(Math.abs(Math.log(x) - Math.log(d.perplexities[j]!)) < 1e-9, `length ${p.length}, sequence ${j}`));
  });
  // Members that stored other sequences cannot be paired.
  const other = await storedPrefixScores(members[1]!, over(all.filter((_, i) => i % 4 === 2)), 1000, 'held-out');
  assert.equal(ensemble.prefixScores([stored[0], other]), undefined);
  assert.equal(ensemble.prefixScores([stored[0], undefined]), undefined);
  for (const m of members) await m.release();
});
