/**
 * @module engine/session.test
 * The training loop end to end: one AdamW step (with clipping, decay and warm-up) against a hand computation on a
 * 2-parameter problem, a tiny classifier whose loss falls, and forward runs that use the trained flat parameters.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { Graph, seededRandom } from './graph.js';
import { learningRate, type AdamConfig, type Schedule } from './optim.js';
import { forwardModel, Runner, Trainer, trainingModel, type BuiltGraph } from './session.js';

test('AdamW steps match a hand computation on a 2-parameter problem (clipping, decay, warm-up)', async () => {
  const target = [1, -2];
  const weight = [1, 3];
  const adam: AdamConfig = { beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1, clipNorm: 5 };
  const schedule: Schedule = { lr: 0.1, warmupSteps: 2, decay: 'constant', totalSteps: 10, minFraction: 0 };
  const build = (): BuiltGraph => {
    const g = new Graph('float64');
    const w = g.param('w', [2], { kind: 'const', value: 0 }, true);
    const d = g.sub(w, g.const(target, [2]));
    const loss = g.reduceSum(g.mul(g.mul(d, d), g.const(weight, [2])), [0], false); // sum c_i (w_i - t_i)^2
    return trainingModel(g, loss, adam, {});
  };
  const start = Float64Array.from([3, 0.5]);
  const trainer = new Trainer(start, adam, schedule, 1, build);

  // Independent float64 reference.
  const w = [...start];
  const m = [0, 0];
  const v = [0, 0];
  for (let t = 1; t <= 3; t++) {
    const grad = w.map((x, i) => 2 * weight[i]! * (x - target[i]!));
    const lossRef = w.reduce((s, x, i) => s + weight[i]! * (x - target[i]!) ** 2, 0);
    const norm = Math.hypot(...grad);
    const clipped = norm > 5 ? grad.map((x) => (x * 5) / norm) : grad;
    const lr = t <= 2 ? (0.1 * t) / 2 : 0.1;
    for (let i = 0; i < 2; i++) {
      m[i] = 0.9 * m[i]! + 0.1 * clipped[i]!;
      v[i] = 0.99 * v[i]! + 0.01 * clipped[i]! ** 2;
      const mh = m[i]! / (1 - 0.9 ** t);
      const vh = v[i]! / (1 - 0.99 ** t);
      w[i] = w[i]! - lr * (mh / (Math.sqrt(vh) + 1e-8) + 0.1 * w[i]!);
    }
    const r = await trainer.step('only', {});
    assert.ok(Math.abs(r.loss - lossRef) <= 1e-12 * lossRef, `step ${t}: loss ${r.loss} vs ${lossRef}`);
    assert.ok(Math.abs(r.gradNorm - norm) <= 1e-12 * norm);
    assert.equal(r.lr, lr);
    for (let i = 0; i < 2; i++) {
      assert.ok(Math.abs(trainer.params[i]! - w[i]!) <= 1e-12 * Math.abs(w[i]!), `step ${t}: w${i} ${trainer.params[i]} vs ${w[i]}`);
    }
  }
  assert.equal(trainer.steps, 3);
  await trainer.release();
});

test('learning-rate schedule: warm-up, then cosine down to the floor', () => {
  const s: Schedule = { lr: 1, warmupSteps: 4, decay: 'cosine', totalSteps: 14, minFraction: 0.1 };
  assert.equal(learningRate(s, 0), 0.25);
  assert.equal(learningRate(s, 3), 1);
  assert.ok(Math.abs(learningRate(s, 9) - 0.55) < 1e-12);
  assert.ok(Math.abs(learningRate(s, 14) - 0.1) < 1e-12);
  assert.ok(Math.abs(learningRate(s, 99) - 0.1) < 1e-12);
});

test('a tiny MLP classifier trains in float32: loss falls, and the forward graph scores with the trained weights', async () => {
  // Two noisy Gaussian blobs in 4-D, labels 0/1; a 4-16-2 MLP with layerNorm.
  const rand = seededRandom(7);
  const nSamples = 64;
  const xs = new Float32Array(nSamples * 4);
  const ys = new BigInt64Array(nSamples);
  for (let i = 0; i < nSamples; i++) {
    const label = i % 2;
    ys[i] = BigInt(label);
    for (let j = 0; j < 4; j++) xs[i * 4 + j] = (label === 1 ? 0.8 : -0.8) * (j % 2 === 0 ? 1 : -1) + (rand() - 0.5) * 1.2;
  }
  const net = (g: Graph): { logits: ReturnType<Graph['input']>; x: ReturnType<Graph['input']> } => {
    const x = g.input('x', 'float32', [nSamples, 4]); // [N, 4]
    const w1 = g.param('w1', [4, 16], { kind: 'normal', std: 0.5 }, true);
    const b1 = g.param('b1', [16], { kind: 'const', value: 0 }, false);
    const gamma = g.param('gamma', [16], { kind: 'const', value: 1 }, false);
    const beta = g.param('beta', [16], { kind: 'const', value: 0 }, false);
    const w2 = g.param('w2', [16, 2], { kind: 'normal', std: 0.5 }, true);
    const h = g.relu(g.layerNorm(g.add(g.matmul(x, w1), b1), gamma, beta)); // [N, 16]
    return { logits: g.matmul(h, w2), x }; // [N, 2]
  };
  const adam: AdamConfig = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, clipNorm: 1 };
  const schedule: Schedule = { lr: 0.05, warmupSteps: 5, decay: 'cosine', totalSteps: 60, minFraction: 0.1 };
  let initial: Float32Array | null = null;
  const trainer = new Trainer(
    (() => { const g = new Graph('float32'); net(g); initial = Float32Array.from(g.initialParams(3)); return initial; })(),
    adam, schedule, 1,
    () => {
      const g = new Graph('float32');
      const { logits } = net(g);
      const y = g.input('y', 'int64', [nSamples]);
      return trainingModel(g, g.crossEntropy(logits, y, 0, -1), adam, {});
    });
  const feeds = { x: new ort.Tensor('float32', xs, [nSamples, 4]), y: new ort.Tensor('int64', ys, [nSamples]) };
  const losses: number[] = [];
  for (let i = 0; i < 60; i++) losses.push((await trainer.step('all', feeds)).loss);
  assert.ok(losses[0]! > 0.5, `initial loss ${losses[0]}`);
  assert.ok(losses[59]! < 0.2 * losses[0]!, `loss ${losses[0]} -> ${losses[59]}`);

  const runner = new Runner(trainer.params, 1, () => {
    const g = new Graph('float32');
    return forwardModel(g, { logp: g.logSoftmax(net(g).logits) });
  });
  const out = await runner.forward('all', { x: feeds.x });
  let correct = 0;
  for (let i = 0; i < nSamples; i++) if ((out['logp']![2 * i + 1]! > out['logp']![2 * i]! ? 1 : 0) === i % 2) correct++;
  assert.ok(correct >= 0.9 * nSamples, `accuracy ${correct}/${nSamples}`);
  // The untrained parameters do worse than the trained ones on the same forward graph.
  runner.params = initial!;
  const before = await runner.forward('all', { x: feeds.x });
  let nllBefore = 0;
  for (let i = 0; i < nSamples; i++) nllBefore -= before['logp']![2 * i + (i % 2)]!;
  assert.ok(nllBefore / nSamples > 2 * losses[59]!);

  // A frozen runner holds a copy of the weights it was given: the same outputs as fed weights, whatever happens to
  // the array afterwards, and it refuses new parameters.
  const trained = (trainer.params as Float32Array).slice();
  const frozen = new Runner(trained, 1, () => {
    const g = new Graph('float32');
    return forwardModel(g, { logp: g.logSoftmax(net(g).logits) });
  }, 'frozen');
  runner.params = trained;
  const fed = Float32Array.from((await runner.forward('all', { x: feeds.x }))['logp']!);
  trained.fill(0);
  const constant = (await frozen.forward('all', { x: feeds.x }))['logp']!;
  for (let i = 0; i < fed.length; i++) assert.ok(Math.abs(fed[i]! - constant[i]!) < 1e-6, `logp ${i}: fed ${fed[i]} frozen ${constant[i]}`);
  assert.ok(fed.some((x) => Math.abs(x - Math.log(0.5)) > 0.1), 'the trained weights give a non-uniform output');
  assert.throws(() => { frozen.params = initial!; }, /frozen runner/);
  await trainer.release();
  await runner.release();
  await frozen.release();
});
