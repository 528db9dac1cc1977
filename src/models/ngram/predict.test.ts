/**
 * @module models/ngram/predict.test
 * The n-gram's `--predict` setting on the committed web-server sample (`data/web-novelty`): predicting the joint
 * `name|size` token separates plain-HTTP requests (the `ssl` novelty: a 57-byte request read where HTTPS reads a
 * 79-byte TLS record) from normal HTTPS ones, which the name alone cannot; the joint model's surprises are reported
 * under the joint field; a model folder round-trips the setting and the scores bit for bit; bad lists are refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openData } from '../../features/dataset.js';
import type { Sequence } from '../../features/sequences/sequence.js';
import { rocAuc } from '../../detect/metrics.js';
import { projectData } from '../../testing/paths.js';
import { loadModelFolder, saveModelFolder, type ManifestInput } from '../folder.js';
import { findModelKind, NGRAM_KIND, NgramLanguageModel, resolveSettings, type ModelSettings } from '../language-model.js';
import { parsePredict } from './scorer.js';

async function requests(set: string): Promise<Sequence[]> {
  const src = openData({ kind: 'trace', arg: set, path: projectData('web-novelty', `${set}.jsonl.gz`) },
    { segmentation: 'request', maxLength: 10_000, pairing: 'paired', lenient: false });
  const out: Sequence[] = [];
  for await (const s of src) out.push(s);
  return out;
}

function settings(predict?: string): ModelSettings {
  const given = new Map([['order', '4']]);
  if (predict !== undefined) given.set('predict', predict);
  return resolveSettings(findModelKind('ngram')!, given);
}

async function fit(train: readonly Sequence[], s: ModelSettings): Promise<NgramLanguageModel> {
  const m = await NGRAM_KIND.fit({ train: async function* () { yield* train; } }, s);
  assert.ok(m instanceof NgramLanguageModel);
  return m;
}

function manifestInput(n: number): ManifestInput {
  const data = { data: 'x', format: 'jsonl', sequences: n, events: 0, truncated: 0, droppedByCap: 0, lost: 0, skipped: 0, unassigned: 0 };
  return {
    segmentation: { kind: 'request', maxLength: 10_000 },
    thresholds: { labelFree: { method: 'quantile', q: 0.99, value: 2, fittedOn: n, on: 'held-out' } },
    training: { date: new Date().toISOString(), seconds: 0, train: data, fitSequences: n, heldOut: 0 },
    input: { pairing: 'paired', formats: ['jsonl'] },
  };
}

test('--predict name,size finds plain HTTP among HTTPS requests; the name alone cannot; folder round trip', async () => {
  const normal = await requests('normal');
  const plain = (await requests('ssl')).slice(0, 300);
  const train = normal.slice(0, 1500);
  const test = normal.slice(-300);
  const labels = [...test.map(() => false), ...plain.map(() => true)];
  const auc = (m: NgramLanguageModel) => rocAuc([...test, ...plain].map((s) => m.perplexity(s)), labels);

  const byName = await fit(train, settings());
  assert.equal(byName.settings.predict, 'name', 'the default predicts the name');
  const joint = await fit(train, settings('name,size'));
  const aName = auc(byName);
  const aJoint = auc(joint);
  assert.ok(aName < 0.7, `name only: AUC ${aName}`);
  assert.ok(aJoint > 0.95, `name,size: AUC ${aJoint}`);
  assert.deepEqual(Object.keys(joint.fieldSurprise(plain[0]!)), ['name|size']);
  assert.deepEqual(Object.keys(byName.fieldSurprise(plain[0]!)), ['name']);
  assert.equal(joint.describe().predict, 'name,size');
  assert.equal(byName.describe().predict, undefined, "the default's summary is as before");
  // the next-token distribution (a distillation teacher's) is over the joint vocabulary, and agrees with logProbs
  const [dist] = await joint.distributionMany([plain[0]!]);
  const V = joint.scorer.model.vocabSize;
  const ids = joint.scorer.encode(plain[0]!);
  const lp = joint.logProbs(plain[0]!);
  assert.equal(dist!.length, lp.length * V);
  for (let t = 0; t < lp.length; t++) {
    const row = dist!.subarray(t * V, (t + 1) * V);
    assert.ok(Math.abs(row.reduce((a, x) => a + x, 0) - 1) < 1e-4, `row ${t} sums to 1`);
    assert.ok(Math.abs(Math.log(row[ids[t + 1]!]!) - lp[t]!) < 1e-5, `row ${t}: the observed token's probability`);
  }

  const root = await mkdtemp(join(tmpdir(), 'sa-predict-'));
  try {
    const dir = join(root, 'model');
    await saveModelFolder(dir, joint, manifestInput(train.length));
    const { manifest, model: back } = await loadModelFolder(dir);
    assert.equal(manifest.settings.predict, 'name,size');
    assert.deepEqual(manifest.fields, ['name', 'size']);
    assert.ok(back instanceof NgramLanguageModel);
    for (const s of plain.slice(0, 20)) assert.deepEqual(back.logProbs(s), joint.logProbs(s));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('--predict: name first, known fields, none twice', () => {
  assert.deepEqual(parsePredict('name'), ['name']);
  assert.deepEqual(parsePredict('name, lat,size'), ['name', 'lat', 'size']);
  assert.throws(() => parsePredict('lat,name'), /must start with name/);
  assert.throws(() => parsePredict('name,bogus'), /unknown field 'bogus'/);
  assert.throws(() => parsePredict('name,lat,lat'), /given twice/);
  assert.throws(() => resolveSettings(findModelKind('ngram')!, new Map([['predict', 'size']])), /must start with name/);
});
