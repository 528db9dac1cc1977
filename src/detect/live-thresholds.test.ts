/**
 * @module detect/live-thresholds.test
 * Prefix thresholds on real requests (the committed web-server sample, an n-gram fitted on part of it): the ones taken
 * from the prefix scores a model folder stores equal those calibrated on the same normal sequences at start-up, for
 * any power-of-two `minEvents` and quantile; a `minEvents` that is no power of two is not served from them; beyond
 * the stored cap the quantile comes from evenly spaced order statistics and stays within their spacing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openData } from '../features/dataset.js';
import type { Sequence } from '../features/sequences/index.js';
import { MODEL_KINDS, resolveSettings } from '../models/language-model.js';
import { MAX_STORED_PREFIXES, type PrefixScores } from '../models/normal-scores.js';
import { projectData } from '../testing/paths.js';
import { calibratePrefixThresholds, prefixThresholdsFromScores, storedPrefixScores } from './live-thresholds.js';
import { quantileValue } from './threshold.js';

const NORMAL = projectData('web-demo', 'normal.jsonl.gz');

async function requests(): Promise<Sequence[]> {
  const out: Sequence[] = [];
  for await (const s of openData({ kind: 'trace', arg: 'normal', path: NORMAL }, { segmentation: 'request', maxLength: 1000, pairing: 'paired', lenient: false })) out.push(s);
  return out;
}

async function* over(xs: readonly Sequence[]): AsyncGenerator<Sequence> {
  yield* xs;
}

test('thresholds from stored prefix scores equal those calibrated on the same sequences', async () => {
  const all = await requests();
  const train = all.filter((_, i) => i % 4 !== 3);
  const normal = all.filter((_, i) => i % 4 === 3);
  const entry = MODEL_KINDS.find((k) => k.kind === 'ngram')!;
  const model = await (await entry.implementation()).fit({ train: () => over(train) }, resolveSettings(entry, new Map()));
  const stored = await storedPrefixScores(model, over(normal), 1000, 'held-out');
  assert.equal(stored.sequences, normal.length);
  assert.deepEqual(stored.points.map((p) => p.length).slice(0, 5), [1, 2, 4, 8, 16]);
  for (const p of stored.points) {
    assert.ok(p.count <= MAX_STORED_PREFIXES && p.perplexities.length === p.count, `length ${p.length}: all ${p.count} kept`);
    for (let i = 1; i < p.perplexities.length; i++) assert.ok(p.perplexities[i - 1]! <= p.perplexities[i]!, 'sorted');
  }
  for (const [q, minEvents] of [[0.99, 16], [0.9, 8], [0.5, 4]] as const) {
    const calibrated = await calibratePrefixThresholds(model, over(normal), q, minEvents, 1000);
    const fromStored = prefixThresholdsFromScores(stored, q, minEvents);
    assert.ok(calibrated.points.length >= 2, `q ${q}, minEvents ${minEvents}: some checkpoints calibrated`);
    assert.deepEqual(fromStored, calibrated, `q ${q}, minEvents ${minEvents}`);
  }
  assert.equal(prefixThresholdsFromScores(stored, 0.99, 20), undefined, 'checkpoints 20, 40, … were not stored');
  assert.throws(() => prefixThresholdsFromScores(stored, 1.5, 16), /prefix quantile/);
});

test('beyond the stored cap the quantile comes from evenly spaced order statistics', () => {
  const count = 5 * MAX_STORED_PREFIXES + 3;
  const values = Array.from({ length: count }, (_, i) => 1 + ((i * 7919) % count) / 100); // a permutation, scaled
  const sorted = [...values].sort((a, b) => a - b);
  const kept = Array.from({ length: MAX_STORED_PREFIXES }, (_, i) => sorted[Math.round((i * (count - 1)) / (MAX_STORED_PREFIXES - 1))]!);
  const scores: PrefixScores = { on: 'validation', sequences: count, points: [{ length: 16, count, perplexities: kept }] };
  const spacing = (sorted[count - 1]! - sorted[0]!) / (MAX_STORED_PREFIXES - 1);
  for (const q of [0.5, 0.9, 0.99, 0.999]) {
    const got = prefixThresholdsFromScores(scores, q, 16)!.points[0]!;
    assert.equal(got.fittedOn, count);
    const exact = quantileValue(values, q);
    assert.ok(Math.abs(got.value - exact) <= spacing, `q ${q}: ${got.value} vs ${exact} (spacing ${spacing})`);
  }
});
