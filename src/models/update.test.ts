/**
 * @module models/update.test
 * Lifelong learning for the neural kinds. `transplantParams` copies every old parameter into the grown network at
 * the same indices and leaves the new rows and columns as they were; a parameter that does not fit is a RangeError.
 * On the committed web-server sample (request sequences, default settings): an LSTM or a Transformer (the Longformer
 * runs the same code) fitted on normal requests and updated with the io novelty's requests keeps its vocabulary ids
 * and grows by io's new calls, learns io (its perplexity falls several-fold), still tells opcache and socket apart
 * from normal, and forgets the old normal far less than the same update without the old model's soft targets (plain
 * fine-tuning, α = 0), measured on a second normal run it never saw.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { openData, parseDataArg } from '../features/dataset.js';
import type { Sequence } from '../features/sequences/sequence.js';
import { findModelKind, passesOver, resolveSettings, type LanguageModel, type TrainingData } from './language-model.js';
import { projectData } from '../testing/paths.js';
import { rocAuc } from '../detect/metrics.js';
import { LSTM_KIND, updateLstm, type LstmLanguageModel } from './lstm/adapter.js';
import { attentionKind, updateAttention, type AttentionLanguageModel } from './transformer/adapter.js';
import { transplantParams, UPDATE_ALPHA } from './update.js';

test('transplantParams: old values at the same indices, new rows and columns untouched, misfits refused', () => {
  const from = [{ name: 'emb', offset: 0, shape: [2, 3] }, { name: 'b', offset: 6, shape: [2] }];
  const to = [{ name: 'b', offset: 0, shape: [4] }, { name: 'emb', offset: 4, shape: [3, 4] }];
  const old = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
  const out = transplantParams(from, old, to, new Float32Array(16).fill(-1));
  assert.deepEqual([...out], [7, 8, -1, -1, /* emb row 0 */ 1, 2, 3, -1, /* row 1 */ 4, 5, 6, -1, /* row 2 */ -1, -1, -1, -1]);
  assert.throws(() => transplantParams(from, old, [{ name: 'b', offset: 0, shape: [4] }], new Float32Array(4)), /emb is not in the updated network/);
  assert.throws(() => transplantParams(from, old, [{ name: 'b', offset: 0, shape: [1] }, { name: 'emb', offset: 1, shape: [3, 4] }], new Float32Array(13)),
    /b \[2\] does not fit \[1\]/);
});

async function read(name: string, n: number): Promise<Sequence[]> {
  const out: Sequence[] = [];
  const reading = { segmentation: 'request', maxLength: 100_000, pairing: 'paired', lenient: false } as const;
  for await (const s of openData(parseDataArg(projectData('web-novelty', `${name}.jsonl.gz`)), reading)) {
    out.push(s);
    if (out.length === n) break;
  }
  return out;
}

/** Each sequence's mean surprise per predicted token (ln perplexity). */
async function lnPerplexities(model: LanguageModel, seqs: readonly Sequence[]): Promise<number[]> {
  return (await model.logProbsMany(seqs)).map((x) => -x.reduce((s, v) => s + v, 0) / x.length);
}

const mean = (x: readonly number[]): number => x.reduce((a, b) => a + b, 0) / x.length;

/** ROC AUC of `normal` (negatives) against `novel` (positives). */
const auc = (normal: readonly number[], novel: readonly number[]): number =>
  rocAuc([...normal, ...novel], [...normal.map(() => false), ...novel.map(() => true)]);

const sets = (async () => {
  const [normal, io, normal2, opcache, socket] = await Promise.all([
    read('normal', 1000), read('io', 400), read('normal2', 300), read('opcache', 200), read('socket', 200),
  ]);
  return { normal, io, normal2, opcache, socket };
})();

/**
 * Fits `kind` (default settings) on normal requests, updates it with io's (α = UPDATE_ALPHA, and α = 0: plain
 * fine-tuning) and checks what the module header says.
 */
async function checkUpdate(t: TestContext, kind: 'lstm' | 'transformer', update: (base: LanguageModel, data: TrainingData, alpha?: number) => Promise<LanguageModel>): Promise<void> {
  const { normal, io, normal2, opcache, socket } = await sets;
  const settings = resolveSettings(findModelKind(kind)!, new Map());
  const base = await (kind === 'lstm' ? LSTM_KIND : attentionKind(kind)).fit({ train: passesOver(normal) }, settings);
  const updated = await update(base, { train: passesOver(io) });
  const fineTuned = await update(base, { train: passesOver(io) }, 0);
  try {
    const oldNames = base.tokenizer.vocabulary('name');
    const newNames = updated.tokenizer.vocabulary('name');
    assert.ok(newNames.size > oldNames.size, `io brings new calls (${oldNames.size} → ${newNames.size} names)`);
    for (let id = 0; id < oldNames.size; id++) assert.equal(newNames.token(id), oldNames.token(id));

    const m = async (model: LanguageModel) => {
      const [i, n, o, s] = await Promise.all([io, normal2, opcache, socket].map((x) => lnPerplexities(model, x)));
      return { io: mean(i!), normal2: mean(n!), aucOpcache: auc(n!, o!), aucSocket: auc(n!, s!) };
    };
    const [before, after, plain] = [await m(base), await m(updated), await m(fineTuned)];
    const show = JSON.stringify({ before, after, plain });
    t.diagnostic(`${kind}: ${show}`);
    assert.ok(after.io < before.io / 4, `${kind}: io learned (α ${UPDATE_ALPHA}): ${show}`);
    assert.ok(after.normal2 < plain.normal2 / 2, `${kind}: the old normal forgotten far less than by fine-tuning: ${show}`);
    assert.ok(after.aucOpcache > 0.95 && after.aucSocket > 0.95, `${kind}: opcache and socket still stand out from normal: ${show}`);
  } finally {
    await Promise.all([base.release(), updated.release(), fineTuned.release()]);
  }
}

test('an updated LSTM learns the new normal and forgets the old far less than plain fine-tuning', (t) =>
  checkUpdate(t, 'lstm', (base, data, alpha) => updateLstm(base as LstmLanguageModel, data, alpha)));

test('so does an updated Transformer', (t) =>
  checkUpdate(t, 'transformer', (base, data, alpha) => updateAttention(base as AttentionLanguageModel, data, alpha)));
