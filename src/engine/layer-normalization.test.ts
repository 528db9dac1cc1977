/**
 * @module engine/layer-normalization.test
 * The fused `LayerNormalization` node (`Graph.layerNormalization`) and its gradient rule (which reads the node's Mean
 * and InvStdDev outputs). onnxruntime's CPU kernel keeps its statistics in float32 only, so the rule cannot be checked
 * against float64 finite differences directly; instead, in float32, its values and gradients (input, gain, bias,
 * through a non-linear loss) must equal those of the decomposed `Graph.layerNorm`, whose gradient
 * `autodiff.test.ts` checks in float64. A float64 graph gets the decomposed form.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { gradients } from './autodiff.js';
import { Graph, seededRandom, type FloatType } from './graph.js';

async function fusedAndPlain(float: FloatType, shape: number[]): Promise<Record<string, Float32Array | Float64Array>> {
  const C = shape[shape.length - 1]!;
  const g = new Graph(float);
  const x = g.input('x', float, shape);
  const gamma = g.input('gamma', float, [C]);
  const beta = g.input('beta', float, [C]);
  const w = g.input('w', float, shape);
  const fused = g.layerNormalization(x, gamma, beta);
  const plain = g.layerNorm(x, gamma, beta);
  const all = shape.map((_, i) => i);
  const gf = gradients(g, g.reduceSum(g.mul(g.tanh(fused), w), all, false), [x, gamma, beta]);
  const gp = gradients(g, g.reduceSum(g.mul(g.tanh(plain), w), all, false), [x, gamma, beta]);
  const outs: Record<string, typeof x> = { fused, plain };
  gf.forEach((v, i) => { outs[`gf${i}`] = v; });
  gp.forEach((v, i) => { outs[`gp${i}`] = v; });
  const session = await ort.InferenceSession.create(g.toModel(outs));
  const rand = seededRandom(4);
  const t = (dims: number[]): ort.Tensor => {
    const data = Float64Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => 2 * rand() - 1);
    return float === 'float64' ? new ort.Tensor('float64', data, dims) : new ort.Tensor('float32', Float32Array.from(data), dims);
  };
  const r = await session.run({ x: t(shape), gamma: t([C]), beta: t([C]), w: t(shape) });
  await session.release();
  return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v.data as Float32Array | Float64Array]));
}

test('fused layer normalisation: values and gradients equal the decomposed form (float32)', async (t) => {
  for (const shape of [[3, 5, 8], [64, 128]]) {
    const r = await fusedAndPlain('float32', shape);
    for (const [a, b] of [['fused', 'plain'], ['gf0', 'gp0'], ['gf1', 'gp1'], ['gf2', 'gp2']] as const) {
      const u = r[a]!;
      const v = r[b]!;
      let scale = 0;
      let worst = 0;
      for (let i = 0; i < u.length; i++) {
        scale = Math.max(scale, Math.abs(v[i]!));
        worst = Math.max(worst, Math.abs(u[i]! - v[i]!));
      }
      t.diagnostic(`[${shape.join(', ')}] ${a}: max difference ${worst.toExponential(2)} of ${scale.toExponential(2)}`);
      assert.ok(scale > 1e-3, `${a}: vacuous`);
      assert.ok(worst <= 2e-5 * scale, `${a} vs ${b}: ${worst} of ${scale}`);
    }
  }
});

test('a float64 graph gets the decomposed layer normalisation (exactly)', async () => {
  const r = await fusedAndPlain('float64', [2, 3, 4]);
  for (const [a, b] of [['fused', 'plain'], ['gf0', 'gp0']] as const) assert.deepEqual(Array.from(r[a]!), Array.from(r[b]!));
});
