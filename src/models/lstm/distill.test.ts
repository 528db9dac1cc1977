/**
 * @module models/lstm/distill.test
 * Distillation on real data (the committed web-server sample, request sequences): the teachers' per-position
 * distributions are proper (rows sum to 1) and agree with their own `logProbsMany` at the observed token (n-gram,
 * LSTM, Transformer, Longformer over several windows); a student trained with α = 0 is the ordinary LSTM (same
 * perplexities: the soft cross-entropy against one-hot targets is the hard one); a student trained with α = 0.7 on an
 * n-gram teacher ends closer to the teacher (lower KL divergence on validation requests) than the same LSTM trained
 * on hard labels. (The soft targets themselves: `../soft-targets.test.ts`.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openData } from '../../features/dataset.js';
import type { Sequence } from '../../features/sequences/sequence.js';
import { findModelKind, NGRAM_KIND, resolveSettings, type LanguageModel } from '../language-model.js';
import { projectData } from '../../testing/paths.js';
import { LSTM_KIND } from './adapter.js';
import { fitDistilledLstm } from './distill.js';
import { vocabularyMap } from '../soft-targets.js';
import { attentionKind } from '../transformer/adapter.js';

async function read(name: string, every: number): Promise<Sequence[]> {
  const path = projectData(`web-demo/${name}.jsonl.gz`);
  const out: Sequence[] = [];
  let i = 0;
  for await (const s of openData({ kind: 'trace', arg: path, path }, { segmentation: 'request', maxLength: 10_000, pairing: 'paired', lenient: false })) {
    if (i++ % every === 0) out.push(s);
  }
  return out;
}

const data = (async () => {
  const all = await read('normal', 4); // 750 requests
  return { train: all.slice(0, 600), valid: all.slice(600) };
})();

async function* iterate(seqs: readonly Sequence[]): AsyncGenerator<Sequence> {
  yield* seqs;
}

const lstmSettings = (over: Record<string, string>) => resolveSettings(findModelKind('lstm')!, new Map(Object.entries({
  fields: 'name,ret', hidden: '16', embed: '16', epochs: '3', patience: '0', batch: '4', chunk: '32', lr: '0.01', threads: '1', ...over,
})));

/** Rows of a teacher's distribution: each sums to 1; at the observed token it equals exp(logProbs). */
async function checkDistribution(model: LanguageModel, seqs: Sequence[], tol: number): Promise<void> {
  assert.ok(model.distributionMany, `${model.kind} gives distributions`);
  const rows = await model.distributionMany(seqs);
  const lps = await model.logProbsMany(seqs);
  const V = model.tokenizer.vocabulary('name').size;
  seqs.forEach((s, i) => {
    const names = model.tokenizer.encodeField(s, 'name');
    assert.equal(rows[i].length, (s.events.length + 1) * V);
    for (let t = 0; t < s.events.length + 1; t++) {
      let sum = 0;
      for (let v = 0; v < V; v++) sum += rows[i][t * V + v];
      assert.ok(Math.abs(sum - 1) < tol, `${model.kind} ${s.id} row ${t} sums to ${sum}`);
      const p = rows[i][t * V + names[t + 1]];
      assert.ok(Math.abs(Math.log(p) - lps[i][t]) < tol * 10, `${model.kind} ${s.id} token ${t}: ln ${p} vs ${lps[i][t]}`);
    }
  });
}

test('teacher distributions (n-gram, LSTM, Transformer, Longformer) are proper and agree with their log-probabilities', async () => {
  const { train, valid } = await data;
  const ngram = await NGRAM_KIND.fit({ train: () => iterate(train) }, { order: 3, minCount: 1 });
  await checkDistribution(ngram, valid.slice(0, 20), 1e-5);
  const lstm = await LSTM_KIND.fit({ train: () => iterate(train.slice(0, 200)), valid: () => iterate(valid) }, lstmSettings({ epochs: '1' }));
  try {
    await checkDistribution(lstm, valid.slice(0, 20), 1e-4);
  } finally {
    await lstm.release();
  }
  for (const kind of ['transformer', 'longformer'] as const) {
    // a window of 16 makes the Longformer's longer requests span several blocks (with the global start token)
    const settings = resolveSettings(findModelKind(kind)!, new Map(Object.entries({
      fields: 'name,ret', width: '16', heads: '2', ffn: '16', embed: '16', epochs: '1', batch: '4', chunk: '32', threads: '1',
      ...(kind === 'longformer' ? { window: '16' } : {}),
    })));
    const model = await attentionKind(kind).fit({ train: () => iterate(train.slice(0, 100)), valid: () => iterate(valid) }, settings);
    try {
      await checkDistribution(model, valid.slice(0, 20), 1e-4);
    } finally {
      await model.release();
    }
  }
});

/** Mean KL(teacher ‖ model) per predicted token over `seqs` (nats). */
async function kl(teacher: LanguageModel, model: LanguageModel, seqs: Sequence[]): Promise<number> {
  const a = await teacher.distributionMany!(seqs);
  const b = await model.distributionMany!(seqs);
  const map = vocabularyMap(model.tokenizer.vocabulary('name'), teacher.tokenizer.vocabulary('name'));
  const V = map.length;
  const Vt = teacher.tokenizer.vocabulary('name').size;
  let sum = 0;
  let n = 0;
  a.forEach((rows, i) => {
    for (let t = 0; t < rows.length / Vt; t++, n++) {
      for (let v = 5; v < V; v++) {
        const p = rows[t * Vt + map[v]];
        if (p > 0) sum += p * Math.log(p / Math.max(b[i][t * V + v], 1e-12));
      }
    }
  });
  return sum / n;
}

test('distillation: α = 0 is ordinary training; α = 0.7 brings the student closer to its teacher', async () => {
  const { train, valid } = await data;
  const trainData = { train: () => iterate(train), valid: () => iterate(valid) };
  const teacher = await NGRAM_KIND.fit({ train: () => iterate(train) }, { order: 3, minCount: 1 });
  const hard = await LSTM_KIND.fit(trainData, lstmSettings({}));
  const zero = (await fitDistilledLstm(trainData, lstmSettings({}), teacher, 0)).model;
  const soft = await fitDistilledLstm(trainData, lstmSettings({}), teacher, 0.7);
  try {
    assert.deepEqual(zero.tokenizer.toJSON(), hard.tokenizer.toJSON());
    const [a, b] = [await hard.logProbsMany(valid), await zero.logProbsMany(valid)];
    let worst = 0;
    a.forEach((x, i) => x.forEach((v, t) => { worst = Math.max(worst, Math.abs(v - b[i][t])); }));
    assert.ok(worst < 2e-3, `α = 0 student differs from the hard-label LSTM by ${worst} nats`);
    assert.equal(soft.info.alpha, 0.7);
    assert.equal(soft.info.tokens, train.reduce((n, s) => n + s.events.length + 1, 0));
    const [klHard, klSoft] = [await kl(teacher, hard, valid), await kl(teacher, soft.model, valid)];
    assert.ok(klSoft < klHard, `KL(teacher ‖ distilled) ${klSoft} should be below KL(teacher ‖ hard-label) ${klHard}`);
    await assert.rejects(fitDistilledLstm(trainData, lstmSettings({ checkpoint: '/tmp/x.ckpt' }), teacher, 0.5), /--checkpoint cannot be combined/);
    // a teacher predicting name + size teaches a student that predicts the same unit, and only such a student
    const sized = await NGRAM_KIND.fit({ train: () => iterate(train) }, { order: 3, minCount: 1, predict: 'name,size' });
    await assert.rejects(fitDistilledLstm(trainData, lstmSettings({}), sized, 0.7), /predicts 'name\|size', the student 'name': give the student --predict name,size/);
    const student = await fitDistilledLstm(trainData, lstmSettings({ predict: 'name,size' }), sized, 0.7);
    assert.equal(student.model.tokenizer.jointName, 'name|size');
    assert.equal(student.info.tokens, soft.info.tokens);
    await student.model.release();
  } finally {
    await hard.release();
    await zero.release();
    await soft.model.release();
  }
});
