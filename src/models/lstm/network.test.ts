/**
 * @module models/lstm/network.test
 * The scoring graph's fused recurrence (ONNX LSTM operator, weights re-laid out in the graph) against the unrolled
 * one that training differentiates, on the fixture's multi-field, 2-layer config with position codes: same
 * log-probabilities and final states from the same random weights, tokens and initial states.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { seededRandom } from '../../engine/graph.js';
import { Runner } from '../../engine/session.js';
import { FIXTURE_CONFIG as cfg } from './fixture.js';
import { lstmForwardGraph, lstmInitialParams } from './network.js';

test('fused (ONNX LSTM) and unrolled recurrences give the same scores and states', async () => {
  const B = 3;
  const T = 7;
  const L = cfg.layers;
  const H = cfg.hidden;
  const rand = seededRandom(3);
  const params = lstmInitialParams(cfg).map((x) => x + 0.05 * (rand() - 0.5)); // non-zero biases too
  const feeds: Record<string, ort.Tensor> = {
    h0: new ort.Tensor('float32', Float32Array.from({ length: L * B * H }, () => rand() - 0.5), [L, B, H]),
    c0: new ort.Tensor('float32', Float32Array.from({ length: L * B * H }, () => rand() - 0.5), [L, B, H]),
    pos: new ort.Tensor('int64', BigInt64Array.from({ length: B * T }, (_, i) => BigInt(100 + i)), [B, T]),
    targets: new ort.Tensor('int64', BigInt64Array.from({ length: B * T }, (_, i) => BigInt(i % 5 === 4 ? -1 : Math.floor(rand() * cfg.fields[0]!.vocab))), [B, T]),
  };
  for (const f of cfg.fields) {
    feeds[`tok_${f.name}`] = new ort.Tensor('int64', BigInt64Array.from({ length: B * T }, () => BigInt(Math.floor(rand() * f.vocab))), [B, T]);
  }
  const fused = new Runner(params, 1, () => lstmForwardGraph(cfg, B, T, 'fused'));
  const unrolled = new Runner(params, 1, () => lstmForwardGraph(cfg, B, T, 'unrolled'));
  const a = await fused.forward('k', feeds);
  const b = await unrolled.forward('k', feeds);
  for (const name of ['logp', 'h_out', 'c_out']) {
    const x = a[name]!;
    const y = b[name]!;
    assert.equal(x.length, y.length);
    let worst = 0;
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i]! - y[i]!));
    assert.ok(worst < 1e-5, `${name}: max difference ${worst}`);
  }
  // Positions without a target score 0; the others are log-probabilities.
  const logp = a['logp']!;
  for (let i = 0; i < B * T; i++) assert.ok(i % 5 === 4 ? logp[i] === 0 : logp[i]! < 0);
  await fused.release();
  await unrolled.release();
});
