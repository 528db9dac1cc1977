/**
 * @module models/lstm/lstm.test
 * The LSTM language model on structured synthetic traces (see ./fixture): it must beat a unigram baseline on
 * held-out perplexity; saving and loading must give identical log-probabilities; chunking and batching must not
 * change the scores; the same seed must give identical weights; early stopping must stop on a rising validation
 * loss and keep the best epoch; a training run killed after a checkpoint must resume from the checkpoint's step and
 * end with the very weights of an uninterrupted run; damaged or foreign checkpoints are reported as bad input.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isTraceError } from '../../trace/errors.js';
import { FIXTURE_CONFIG as config, synthetic, VOCAB } from './fixture.js';
import { fromTuples, LstmModel, type Sequence } from './lstm.js';

function unigramPerplexity(train: readonly Sequence[], test: readonly Sequence[]): number {
  const counts = new Array<number>(VOCAB).fill(1); // add-one smoothing
  for (const s of train) for (const id of Array.from(s[0]!)) counts[id]!++;
  const total = counts.reduce((a, b) => a + b, 0);
  let nll = 0;
  let n = 0;
  for (const s of test) for (const id of Array.from(s[0]!).slice(1)) { nll -= Math.log(counts[id]! / total); n++; }
  return Math.exp(nll / n);
}

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'lstm-test-'));
}

test('LSTM beats the unigram baseline on held-out perplexity; save/load, chunking and batching keep the scores', async () => {
  const train = synthetic(80, 1);
  const valid = synthetic(16, 2);
  const heldOut = synthetic(16, 3);
  const heard: number[] = [];
  const progress: number[] = [];
  const model = await LstmModel.fit(train, valid, config, {
    onEpoch: (r) => heard.push(r.epoch), onProgress: (p) => progress.push(p.totalSteps),
  });
  assert.deepEqual(heard, [1, 2, 3, 4]);
  assert.deepEqual(progress, progress.map((_, i) => i + 1));
  const unigram = unigramPerplexity(train, heldOut);
  const ppl = await model.perplexity(heldOut);
  // The noise floor: 10 % uniform substitutions leave roughly exp(H) ~ 1.7 of irreducible perplexity.
  assert.ok(ppl < 0.5 * unigram, `LSTM perplexity ${ppl} vs unigram ${unigram}`);
  assert.equal(model.history.length, config.epochs);
  assert.ok(model.history[config.epochs - 1]!.trainLoss < model.history[0]!.trainLoss);
  assert.ok(model.history.every((r) => r.tokensPerS > 0 && Math.abs(Math.exp(r.validLoss) - r.validPerplexity) < 1e-9));

  const seq = heldOut[0]!;
  const lp = await model.logProbs(seq);
  assert.equal(lp.length, seq[0]!.length - 1);
  assert.ok(lp.every((x) => x <= 0 && Number.isFinite(x)));

  // Batched scoring and a different chunk length (state carried across more chunk boundaries) agree.
  const many = await model.logProbsMany(heldOut.slice(0, 5));
  const rechunked = model.rechunked(5, 3);
  const viaShortChunks = await rechunked.logProbsMany(heldOut.slice(0, 5));
  for (let s = 0; s < 5; s++) {
    const one = await model.logProbs(heldOut[s]!);
    for (let i = 0; i < one.length; i++) {
      assert.ok(Math.abs(many[s]![i]! - one[i]!) < 1e-4, `batched ${many[s]![i]} vs ${one[i]} at ${s}:${i}`);
      assert.ok(Math.abs(viaShortChunks[s]![i]! - one[i]!) < 1e-4, `chunk 5 ${viaShortChunks[s]![i]} vs ${one[i]} at ${s}:${i}`);
    }
  }

  const dir = await tempDir();
  try {
    const files = await model.save(dir);
    assert.deepEqual(files.sort(), ['lstm.json', 'lstm.onnx', 'lstm.weights']);
    const weights = await readFile(join(dir, 'lstm.weights'));
    assert.equal(weights.subarray(0, 8).toString('latin1'), 'SAWEIGHT');
    const loaded = await LstmModel.load(dir);
    assert.deepEqual(Array.from(await loaded.logProbs(seq)), Array.from(lp));
    await loaded.release();
    // A damaged weights file is reported as bad input.
    await writeFile(join(dir, 'lstm.weights'), weights.subarray(0, weights.length - 4));
    await assert.rejects(LstmModel.load(dir), (e) => isTraceError(e));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  await rechunked.release();
  await model.release();
});

test('the same seed gives identical weights, another seed different ones', async () => {
  const train = synthetic(24, 7);
  const short = { ...config, epochs: 1 };
  const a = await LstmModel.fit(train, [], short);
  const b = await LstmModel.fit(train, [], short);
  const c = await LstmModel.fit(train, [], { ...short, seed: 6 });
  assert.deepEqual(a.params, b.params);
  assert.notDeepEqual(a.params, c.params);
  await Promise.all([a.release(), b.release(), c.release()]);
});

test('early stopping: a validation loss that rises stops the run after `patience` epochs and keeps the best epoch', async () => {
  // Training: always syscall 5; validation: always syscall 6. Learning the training data makes validation worse.
  const constant = (id: number, n: number): Sequence => fromTuples(Array.from({ length: n }, () => [id, id % 3, 1]), 3);
  const train = Array.from({ length: 16 }, () => constant(5, 40));
  const valid = Array.from({ length: 4 }, () => constant(6, 40));
  const model = await LstmModel.fit(train, valid, { ...config, epochs: 10, patience: 2, warmupSteps: 0 });
  const h = model.history;
  assert.equal(h.length, 3, `epochs run: ${h.map((r) => r.validLoss.toFixed(3)).join(' ')}`);
  assert.ok(h[1]!.validLoss > h[0]!.validLoss && h[2]!.validLoss > h[0]!.validLoss);
  // The returned weights are epoch 1's: its validation perplexity, not the last epoch's.
  const ppl = await model.perplexity(valid);
  assert.ok(Math.abs(Math.log(ppl) - h[0]!.validLoss) < 1e-4, `kept ${Math.log(ppl)} vs epoch 1 ${h[0]!.validLoss}`);
  await model.release();
});

test('a run killed after a checkpoint resumes from the saved step and ends with the weights of an unbroken run', async () => {
  const dir = await tempDir();
  const file = join(dir, 'run.ckpt');
  const script = join(dirname(fileURLToPath(import.meta.url)), 'fixture.js');
  try {
    const pauseAt = 13;
    const child = spawn(process.execPath, [script, file, String(pauseAt)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('paused')) resolve();
      });
      child.on('exit', () => reject(new Error(`child exited before pausing: ${out}`)));
    });
    assert.ok(existsSync(file), 'no checkpoint written before the kill');
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, sig) => resolve(sig)));
    child.kill('SIGKILL');
    assert.equal(await exited, 'SIGKILL');
    assert.ok(!out.includes('finished'));

    let resumedFrom = -1;
    const steps: number[] = [];
    const resumed = await LstmModel.fit(synthetic(80, 1), synthetic(16, 2), config, {
      checkpoint: { file, everySteps: 5 }, onResume: (s) => { resumedFrom = s; }, onProgress: (p) => steps.push(p.totalSteps),
    });
    // Checkpoints every 5 steps (and at epoch ends): the last one before step 13 is at 10, 11 or 12.
    assert.ok(resumedFrom >= 10 && resumedFrom < pauseAt, `resumed from step ${resumedFrom}`);
    assert.equal(steps[0], resumedFrom + 1);
    assert.equal(resumed.history.length, config.epochs);

    const unbroken = await LstmModel.fit(synthetic(80, 1), synthetic(16, 2), config);
    assert.deepEqual(resumed.params, unbroken.params);
    assert.deepEqual(resumed.history.map((r) => r.validLoss), unbroken.history.map((r) => r.validLoss));

    // A finished run's checkpoint gives the model back without training again.
    let again = 0;
    const reloaded = await LstmModel.fit(synthetic(80, 1), synthetic(16, 2), config, {
      checkpoint: { file, everySteps: 5 }, onProgress: () => { again++; },
    });
    assert.equal(again, 0);
    assert.deepEqual(reloaded.params, unbroken.params);

    // Another config, other data, or a damaged file: refused as bad input.
    await assert.rejects(LstmModel.fit(synthetic(80, 1), [], { ...config, hidden: 16 }, { checkpoint: { file, everySteps: 5 } }),
      (e) => isTraceError(e) && /another LSTM config/.test(e.reason));
    await assert.rejects(LstmModel.fit(synthetic(81, 1), [], config, { checkpoint: { file, everySteps: 5 } }),
      (e) => isTraceError(e) && /other training data/.test(e.reason));
    const bytes = await readFile(file);
    await writeFile(file, bytes.subarray(0, bytes.length - 3));
    await assert.rejects(LstmModel.fit(synthetic(80, 1), [], config, { checkpoint: { file, everySteps: 5 } }), (e) => isTraceError(e));
    bytes[0] = 0x41;
    await writeFile(file, bytes);
    await assert.rejects(LstmModel.fit(synthetic(80, 1), [], config, { checkpoint: { file, everySteps: 5 } }),
      (e) => isTraceError(e) && e.offset === 0);
    await Promise.all([resumed.release(), unbroken.release(), reloaded.release()]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('LSTM rejects ids outside a field vocabulary and bad settings', async () => {
  const bad = [fromTuples([[1, 0, 0], [VOCAB, 1, 0]], 3)];
  await assert.rejects(LstmModel.fit(bad, [], { ...config, epochs: 1 }), /outside \[0, 10\)/);
  const good = synthetic(2, 1);
  await assert.rejects(LstmModel.fit(good, [], { ...config, positionDim: 3 }), /positionDim must be even/);
  const sinFirst = { ...config, fields: [{ ...config.fields[0]!, encoding: 'sinusoidal' as const }, ...config.fields.slice(1)] };
  await assert.rejects(LstmModel.fit(good, [], sinFirst), /must be learned/);
});
