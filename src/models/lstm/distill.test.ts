/**
 * @module models/lstm/distill.test
 * Distillation on real data (the committed web-server sample, request sequences): the teachers' per-position
 * distributions are proper (rows sum to 1) and agree with their own `logProbsMany` at the observed token (n-gram
 * and LSTM); soft targets map vocabularies by name and mix α · teacher + (1 − α) · one-hot, and soft targets that
 * would take more than `SOFT_TARGET_BYTES` are refused before the teacher runs; a student trained with α = 0 is the
 * ordinary LSTM (same perplexities: the soft cross-entropy against one-hot targets is the hard one); a student
 * trained with α = 0.7 on an n-gram teacher ends closer to the teacher (lower KL divergence on validation requests)
 * than the same LSTM trained on hard labels.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openData } from '../../features/dataset.js';
import type { Sequence } from '../../features/sequences/sequence.js';
import { Vocabulary } from '../../features/tokens/vocabulary.js';
import { findModelKind, NGRAM_KIND, resolveSettings, type LanguageModel } from '../language-model.js';
import { projectData } from '../../testing/paths.js';
import { LSTM_KIND } from './adapter.js';
import { distributionsOf, fitDistilledLstm, SOFT_TARGET_BYTES, softTargets, teacherTargets, vocabularyMap } from './distill.js';

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
  const dist = distributionsOf(model)!;
  assert.ok(dist, `${model.kind} gives distributions`);
  const rows = await dist(seqs);
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

test('soft targets: vocabularies mapped by name, α · teacher (renormalised) + (1 − α) · one-hot', () => {
  const student = Vocabulary.fit(new Map([['read', 5], ['write', 3], ['openat', 1]]), 1); // ids 5 read, 6 write, 7 openat
  const teacher = Vocabulary.fit(new Map([['write', 9], ['read', 4]]), 1); // ids 5 write, 6 read; openat → <unk> (1)
  const map = vocabularyMap(student, teacher);
  assert.deepEqual(Array.from(map), [0, 1, 2, 3, 4, 6, 5, 1]);
  const Vt = teacher.size; // 7
  const row = new Float32Array(Vt);
  row[3] = 0.1; row[5] = 0.5; row[6] = 0.3; row[1] = 0.1; // </s>, write, read, <unk>
  const names = Int32Array.of(2, 5, 3); // <s> read </s>: predicted tokens read, </s>
  const q = softTargets(Float32Array.from([...row, ...row]), Vt, map, names, 0.6);
  const V = student.size;
  assert.equal(q.length, 2 * V);
  // mapped mass: <unk> 0.1 twice (student <unk> and openat), </s> 0.1, read 0.3, write 0.5 → sum 1.1
  const k = 0.6 / 1.1;
  const expect0 = [0, 0.1 * k, 0, 0.1 * k, 0, 0.3 * k + 0.4, 0.5 * k, 0.1 * k];
  expect0.forEach((x, v) => assert.ok(Math.abs(q[v] - x) < 1e-6, `token ${v}: ${q[v]} vs ${x}`));
  assert.ok(Math.abs(q[V + 3] - (0.1 * k + 0.4)) < 1e-6, 'second row: the one-hot is on </s>');
  for (let t = 0; t < 2; t++) assert.ok(Math.abs(q.subarray(t * V, (t + 1) * V).reduce((a, b) => a + b, 0) - 1) < 1e-6);
  assert.throws(() => softTargets(new Float32Array(Vt), Vt, map, names, 0.5), /teacher gave 1 rows for 2 predicted tokens/);
});

test('soft targets that would not fit in memory are refused before the teacher runs', async () => {
  const names = 1 << 20;
  const tokens = Math.ceil(SOFT_TARGET_BYTES / (names * 4)) + 2; // one sequence just past the limit
  const encoded = [[new Int32Array(tokens)]];
  let calls = 0;
  const dist = async () => { calls++; return []; };
  await assert.rejects(teacherTargets(dist, [{ id: 'x', events: [] }], encoded, new Int32Array(names), 10, 0.7),
    /would take 2\.0 GiB .*give fewer or shorter sequences/);
  assert.equal(calls, 0);
});

test('teacher distributions (n-gram, LSTM) are proper and agree with their log-probabilities', async () => {
  const { train, valid } = await data;
  const ngram = await NGRAM_KIND.fit({ train: () => iterate(train) }, { order: 3, minCount: 1 });
  await checkDistribution(ngram, valid.slice(0, 20), 1e-5);
  const lstm = await LSTM_KIND.fit({ train: () => iterate(train.slice(0, 200)), valid: () => iterate(valid) }, lstmSettings({ epochs: '1' }));
  try {
    await checkDistribution(lstm, valid.slice(0, 20), 1e-4);
  } finally {
    await lstm.release();
  }
});

/** Mean KL(teacher ‖ model) per predicted token over `seqs` (nats). */
async function kl(teacher: LanguageModel, model: LanguageModel, seqs: Sequence[]): Promise<number> {
  const a = await distributionsOf(teacher)!(seqs);
  const b = await distributionsOf(model)!(seqs);
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
