/**
 * @module models/stream.test
 * Conformance of every incremental scorer (`models/stream.ts`) with full scoring: each model kind of `MODEL_KINDS`
 * that offers `incremental()` is fitted on a small real sample (requests of the committed web-server trace) with the
 * small settings of `SMALL_SETTINGS`, and real sequences — some cut at the length cap, so that they end with the
 * truncate token — are opened, pushed and closed in a seeded random interleaving, in batches of several sizes; every
 * per-token log-probability must equal `logProbsMany`'s within 1e-5. A kind must have a row in `SMALL_SETTINGS`
 * (a new kind's author adds one); `VARIANT_SETTINGS` adds settings under which a kind scores differently (the n-gram
 * predicting joint `name|lat|size` tokens; the neural kinds reading and predicting such a joint unit). An ensemble
 * (`detect/ensemble-stream.ts`) obeys the same contract, and its perplexity maps onto the z ensemble score.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seededRandom } from '../engine/graph.js';
import { openData } from '../features/dataset.js';
import type { Sequence } from '../features/sequences/sequence.js';
import { projectData } from '../testing/paths.js';
import { combineScores, Normaliser } from '../detect/ensemble.js';
import { EnsembleLiveModel } from '../detect/ensemble-stream.js';
import { MODEL_KINDS, perplexityMany, perplexityOf, resolveSettings, type LanguageModel, type ModelSettings, type SettingValue } from './language-model.js';
import { normalStats } from './normal-scores.js';
import type { StreamHandle } from './stream.js';

/** Small, fast settings per model kind (only keys the kind knows; the rest take their defaults). */
export const SMALL_SETTINGS: Record<string, Record<string, SettingValue>> = {
  ngram: { order: 4 },
  lstm: { embed: 8, hidden: 16, layers: 2, chunk: 8, batch: 8, epochs: 1, threads: 1, positionDim: 4, patience: 0 },
  // Spans shorter than the longest test sequences (42 tokens), so that sliding attention is exercised.
  transformer: { embed: 8, positionDim: 4, width: 16, layers: 2, heads: 2, ffn: 32, context: 16, chunk: 16, batch: 8, epochs: 1, threads: 1, patience: 0 },
  longformer: { embed: 8, positionDim: 4, width: 16, layers: 2, heads: 2, ffn: 32, window: 8, chunk: 16, batch: 8, epochs: 1, threads: 1, patience: 0 },
  timing: {},
  profile: {},
};

/** Further settings of a kind checked too, where they change what its incremental scorer does. */
export const VARIANT_SETTINGS: readonly { kind: string; label: string; settings: Record<string, SettingValue> }[] = [
  { kind: 'ngram', label: 'ngram --predict name,lat,size', settings: { order: 4, predict: 'name,lat,size' } },
  // The neural kinds read and predict the joint unit first, then the other fields each on its own.
  { kind: 'lstm', label: 'lstm --predict name,lat,size', settings: { ...SMALL_SETTINGS.lstm, predict: 'name,lat,size' } },
  { kind: 'transformer', label: 'transformer --predict name,size', settings: { ...SMALL_SETTINGS.transformer, predict: 'name,size' } },
  { kind: 'longformer', label: 'longformer --predict name,lat', settings: { ...SMALL_SETTINGS.longformer, predict: 'name,lat' } },
  { kind: 'timing', label: 'timing --shape-min 2', settings: { shapeMin: 2 } },
];

const TOLERANCE = 1e-5;

async function sample(): Promise<{ train: Sequence[]; test: Sequence[] }> {
  const src = openData({ kind: 'trace', arg: 'normal', path: projectData('web-demo', 'normal.jsonl.gz') },
    { segmentation: 'request', maxLength: 40, pairing: 'paired', lenient: false });
  const all: Sequence[] = [];
  for await (const s of src) {
    all.push(s);
    if (all.length === 160) break;
  }
  return { train: all.slice(0, 120), test: all.slice(120) };
}

function settingsFor(kind: string, small = SMALL_SETTINGS[kind]): ModelSettings {
  const entry = MODEL_KINDS.find((k) => k.kind === kind)!;
  assert.ok(small, `model kind '${kind}' has no row in SMALL_SETTINGS (src/models/stream.test.ts): add its small settings`);
  return resolveSettings(entry, new Map(Object.entries(small).map(([k, v]) => [k, String(v)])));
}

/** Scores `seqs` incrementally, interleaved at random with at most `inFlight` open and pushes of ≤ `batch` sequences. */
async function incrementally(model: Pick<LanguageModel, 'incremental'>, seqs: readonly Sequence[], batch: number, inFlight: number, seed: number): Promise<Float64Array[]> {
  const sc = model.incremental!();
  const rand = seededRandom(seed);
  const out = seqs.map((s) => new Float64Array(s.events.length + 1));
  const open: { i: number; h: StreamHandle; t: number }[] = [];
  let next = 0;
  try {
    while (next < seqs.length || open.length > 0) {
      while (open.length < inFlight && next < seqs.length) open.push({ i: next++, h: sc.open(), t: 0 });
      assert.equal(sc.openCount, open.length);
      // A push: up to `batch` distinct open sequences with events left, in random order.
      const ready = open.filter((o) => o.t < seqs[o.i]!.events.length).sort(() => rand() - 0.5).slice(0, 1 + Math.floor(rand() * batch));
      if (ready.length > 0) {
        const lp = await sc.push(ready.map((o) => o.h), ready.map((o) => seqs[o.i]!.events[o.t]!));
        assert.equal(lp.length, ready.length);
        ready.forEach((o, k) => { out[o.i]![o.t++] = lp[k]!; });
      }
      // Close some of the finished ones together.
      const done = open.filter((o) => o.t === seqs[o.i]!.events.length && rand() < 0.7);
      if (done.length > 0) {
        const lp = await sc.close(done.map((o) => o.h), done.map((o) => seqs[o.i]!.truncated === true));
        done.forEach((o, k) => { out[o.i]![o.t] = lp[k]!; open.splice(open.indexOf(o), 1); });
      }
    }
    // drop frees a sequence without scoring it.
    const h = sc.open();
    assert.equal(sc.openCount, 1);
    sc.drop(h);
    assert.equal(sc.openCount, 0);
    await assert.rejects(sc.push([h], [seqs[0]!.events[0]!]), /not open/);
  } finally {
    await sc.release();
  }
  return out;
}

const ROWS = [
  ...MODEL_KINDS.map((entry) => ({ entry, label: entry.kind, small: SMALL_SETTINGS[entry.kind] })),
  ...VARIANT_SETTINGS.map((v) => ({ entry: MODEL_KINDS.find((k) => k.kind === v.kind)!, label: v.label, small: v.settings })),
];

for (const { entry, label, small } of ROWS) {
  test(`incremental scoring equals full scoring: ${label}`, async (t) => {
    const kind = await entry.implementation();
    const { train, test: seqs } = await sample();
    assert.ok(seqs.some((s) => s.truncated) && seqs.some((s) => !s.truncated), 'the sample has cut and whole sequences');
    const model = await kind.fit({ train: async function* () { yield* train; } }, settingsFor(entry.kind, small));
    try {
      // the predicted unit is what was asked for (the name alone by default)
      assert.equal(model.tokenizer.jointName, String(small?.predict ?? 'name').replaceAll(',', '|'));
      if (!model.incremental) {
        t.skip(`model kind '${entry.kind}' offers no incremental scorer`);
        return;
      }
      const full = await model.logProbsMany(seqs);
      for (const [batch, inFlight, seed] of [[1, 1, 1], [3, 5, 2], [7, 16, 3], [64, 40, 4]] as const) {
        const inc = await incrementally(model, seqs, batch, inFlight, seed);
        for (let i = 0; i < seqs.length; i++) {
          assert.equal(inc[i]!.length, full[i]!.length);
          for (let t2 = 0; t2 < full[i]!.length; t2++) {
            const d = Math.abs(inc[i]![t2]! - full[i]![t2]!);
            assert.ok(d <= TOLERANCE, `${entry.kind}, batch ${batch}, ${inFlight} in flight: ${seqs[i]!.id} token ${t2}: ` +
              `${inc[i]![t2]} incrementally vs ${full[i]![t2]} in full`);
          }
        }
      }
    } finally {
      await model.release();
    }
  });
}

test('an ensemble scores incrementally as in full, and its perplexity maps onto the z ensemble score', async () => {
  const { train, test: seqs } = await sample();
  const members: LanguageModel[] = [];
  try {
    for (const kind of ['ngram', 'lstm']) {
      const entry = MODEL_KINDS.find((k) => k.kind === kind)!;
      members.push(await (await entry.implementation()).fit({ train: async function* () { yield* train; } }, settingsFor(kind)));
    }
    const stats = await Promise.all(members.map(async (m) => normalStats(train.map((x) => x.id), await perplexityMany(m, train), 'validation')));
    const ensemble = new EnsembleLiveModel(members.map((model, i) => ({ model, stats: stats[i]!, label: ['ngram', 'lstm'][i]! })));
    const full = await ensemble.logProbsMany(seqs);
    // Its explanation (one field per member, σ-nats) adds up, token by token, to its per-token surprise.
    const surprise = await ensemble.fieldSurpriseMany(seqs);
    surprise.forEach((fields, i) => {
      assert.deepEqual(Object.keys(fields), ['ngram', 'lstm']);
      for (let t = 0; t < full[i]!.length; t++) {
        const sum = fields['ngram']![t]! + fields['lstm']![t]!;
        assert.ok(Math.abs(sum + full[i]![t]!) <= 1e-9 * Math.max(1, Math.abs(sum)), `${seqs[i]!.id} token ${t}: ${sum} vs ${-full[i]![t]!}`);
      }
    });
    const inc = await incrementally(ensemble, seqs, 7, 16, 5);
    for (let i = 0; i < seqs.length; i++) {
      for (let t = 0; t < full[i]!.length; t++) assert.ok(Math.abs(inc[i]![t]! - full[i]![t]!) <= TOLERANCE, `${seqs[i]!.id} token ${t}`);
    }
    const ppl = await Promise.all(members.map((m) => perplexityMany(m, seqs)));
    const z = combineScores(stats.map((st) => new Normaliser(st, 'z')), ppl);
    full.forEach((lp, i) => {
      const score = ensemble.scoreOf(perplexityOf(lp));
      assert.ok(Math.abs(score - z[i]!) <= 1e-9 * Math.max(1, Math.abs(z[i]!)), `${seqs[i]!.id}: ${score} vs the z ensemble score ${z[i]}`);
    });
  } finally {
    for (const m of members) await m.release();
  }
});
