/**
 * @module engine/autodiff.test
 * Every op's gradient against float64 central finite differences (see engine/gradcheck), run through onnxruntime in
 * double precision, including broadcasting, fan-out, parameters sliced from the flat buffer, and the composite
 * layerNorm / crossEntropy / softCrossEntropy.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { gradients } from './autodiff.js';
import { gradCheck, gradCheckTests, type CheckInput, type GradCheckCase } from './gradcheck.js';
import { Graph, seededRandom } from './graph.js';
import { createSession } from './session.js';

const TOL = 1e-6;
const n = (...shape: number[]): CheckInput => ({ shape, draw: 'normal' });
const pos = (...shape: number[]): CheckInput => ({ shape, draw: 'positive' });
const away = (...shape: number[]): CheckInput => ({ shape, draw: 'awayFromZero' });

const cases: GradCheckCase[] = [
  ['add (broadcast [2,3] + [3])', [n(2, 3), n(3)], (g, [a, b]) => g.add(a!, b!)],
  ['add (broadcast [2,1,3] + [4,1])', [n(2, 1, 3), n(4, 1)], (g, [a, b]) => g.add(a!, b!)],
  ['sub (broadcast [3] - [2,3])', [n(3), n(2, 3)], (g, [a, b]) => g.sub(a!, b!)],
  ['mul (broadcast [2,3] * [2,1])', [n(2, 3), n(2, 1)], (g, [a, b]) => g.mul(a!, b!)],
  ['mul (fan-out x * x)', [n(2, 3)], (g, [a]) => g.mul(a!, a!)],
  ['div (broadcast [2,3] / [3])', [n(2, 3), pos(3)], (g, [a, b]) => g.div(a!, b!)],
  ['neg', [n(2, 3)], (g, [a]) => g.neg(a!)],
  ['identity', [n(4)], (g, [a]) => g.identity(a!)],
  ['tanh', [n(2, 3)], (g, [a]) => g.tanh(a!)],
  ['sigmoid', [n(2, 3)], (g, [a]) => g.sigmoid(a!)],
  ['relu', [away(2, 3)], (g, [a]) => g.relu(a!)],
  ['exp', [n(2, 3)], (g, [a]) => g.exp(a!)],
  ['log', [pos(2, 3)], (g, [a]) => g.log(a!)],
  ['sqrt', [pos(2, 3)], (g, [a]) => g.sqrt(a!)],
  ['sin', [n(2, 3)], (g, [a]) => g.sin(a!)],
  ['cos', [n(2, 3)], (g, [a]) => g.cos(a!)],
  ['pow (x^3)', [n(2, 3)], (g, [a]) => g.pow(a!, 3)],
  ['pow (x^-0.5)', [pos(2, 3)], (g, [a]) => g.pow(a!, -0.5)],
  ['softmax (last axis)', [n(2, 4)], (g, [a]) => g.softmax(a!)],
  ['softmax (axis 0)', [n(3, 2)], (g, [a]) => g.softmax(a!, 0)],
  ['logSoftmax', [n(2, 5)], (g, [a]) => g.logSoftmax(a!)],
  ['matmul [2,3] @ [3,4]', [n(2, 3), n(3, 4)], (g, [a, b]) => g.matmul(a!, b!)],
  ['matmul [2,3,4] @ [4,2] (shared weight)', [n(2, 3, 4), n(4, 2)], (g, [a, b]) => g.matmul(a!, b!)],
  ['matmul [2,3,4] @ [2,4,2] (batched)', [n(2, 3, 4), n(2, 4, 2)], (g, [a, b]) => g.matmul(a!, b!)],
  ['matmul [2,1,2,3] @ [3,3,2] (broadcast batch)', [n(2, 1, 2, 3), n(3, 3, 2)], (g, [a, b]) => g.matmul(a!, b!)],
  ['gather (embedding, repeated ids)', [n(5, 3)],
    (g, [e]) => g.gather(e!, g.const([0, 2, 2, 4, 0, 2], [2, 3], 'int64'))],
  ['reshape', [n(2, 6)], (g, [a]) => g.tanh(g.reshape(a!, [3, -1]))],
  ['transpose [2,0,1]', [n(2, 3, 4)], (g, [a]) => g.transpose(a!, [2, 0, 1])],
  ['concat (axis 1)', [n(2, 3), n(2, 2)], (g, [a, b]) => g.concat([a!, b!], 1)],
  ['slice (axis 1, 1:3)', [n(2, 4)], (g, [a]) => g.slice(a!, 1, 1, 3)],
  ['split (one piece unused)', [n(2, 5)], (g, [a]) => {
    const [p, , r] = g.split(a!, -1, [2, 1, 2]);
    return g.mul(p!, r!);
  }],
  ['reduceSum (axes [0,2])', [n(2, 3, 2)], (g, [a]) => g.reduceSum(a!, [0, 2], false)],
  ['reduceMean (keepdims)', [n(2, 3)], (g, [a]) => g.reduceMean(a!, [-1], true)],
  ['expand [3,1] -> [2,3,4]', [n(3, 1)], (g, [a]) => g.expand(a!, [2, 3, 4])],
  ['where (broadcast branch)', [n(2, 3), n(3)],
    (g, [a, b]) => g.where(g.const([1, 0, 1, 0, 0, 1], [2, 3], 'bool'), a!, b!)],
  ['layerNorm', [n(2, 3, 4), n(4), n(4)], (g, [x, s, b]) => g.layerNorm(x!, s!, b!)],
  ['crossEntropy (smoothing 0.1, one ignored target)', [n(4, 5)],
    (g, [l]) => g.crossEntropy(l!, g.const([1, 4, -1, 0], [4], 'int64'), 0.1, -1)],
  ['crossEntropy (no smoothing)', [n(3, 4)],
    (g, [l]) => g.crossEntropy(l!, g.const([3, 0, 3], [3], 'int64'), 0, -1)],
  ['softCrossEntropy (teacher distributions, one masked row)', [n(3, 4)],
    (g, [l]) => g.softCrossEntropy(l!, g.const([0.7, 0.1, 0.1, 0.1, 0.25, 0.25, 0.25, 0.25, 0.05, 0.05, 0.3, 0.6], [3, 4]), g.const([1, 0, 1], [3]))],
  ['softCrossEntropy with a logits path (x @ W)', [n(2, 3), n(3, 4)],
    (g, [x, w]) => g.softCrossEntropy(g.matmul(x!, w!), g.const([0.1, 0.2, 0.3, 0.4, 0.9, 0.05, 0.05, 0], [2, 4]), g.const([1, 1], [2]))],
  ['a chain: tanh(x @ W + b) with W, b parameters of the flat buffer', [n(3, 4)], (g, [x]) => {
    const w = g.param('w', [4, 2], { kind: 'normal', std: 1 }, true);
    const b = g.param('b', [2], { kind: 'const', value: 0.3 }, false);
    return g.tanh(g.add(g.matmul(x!, w), b));
  }],
];

gradCheckTests(cases, TOL);

test('gradCheck reports a wrong gradient (the check can fail)', async () => {
  // Max is deliberately non-differentiable in autodiff (gradient 0), while max(x, -10) = x has derivative 1.
  const r = await gradCheck([{ shape: [3], draw: 'normal' }], (g, [x]) => g.max(x!, g.scalar(-10)));
  assert.ok(r.maxGrad > 0.1);
  assert.ok(r.relError > 0.5, `expected a mismatch, got ${r.relError}`);
});

test('embedding (Gather) gradient with many repeated ids is exact on 2 threads (ScatterElements add)', async () => {
  // ScatterND with reduction=add was seen to lose updates on 2 threads; this checks the rule we use at scale.
  const V = 50;
  const D = 16;
  const N = 4096;
  const rand = seededRandom(11);
  const ids = Array.from({ length: N }, () => Math.floor(rand() * V));
  const g = new Graph('float64');
  const table = g.input('table', 'float64', [V, D]);
  const weights = g.input('w', 'float64', [N, D]);
  const rows = g.gather(table, g.const(ids, [N], 'int64')); // [N, D]
  const loss = g.reduceSum(g.mul(rows, weights), [0, 1], false); // d loss / d table[v] = sum of w rows with id v
  const [grad] = gradients(g, loss, [table]);
  const session = await createSession(g.toModel({ grad: grad! }), 2);
  const w = Float64Array.from({ length: N * D }, () => rand() - 0.5);
  for (let rep = 0; rep < 5; rep++) {
    const out = (await session.run({
      table: new ort.Tensor('float64', new Float64Array(V * D), [V, D]), w: new ort.Tensor('float64', w, [N, D]),
    }))['grad']!.data as Float64Array;
    const expected = new Float64Array(V * D);
    ids.forEach((id, n) => { for (let d = 0; d < D; d++) expected[id * D + d]! += w[n * D + d]!; });
    for (let i = 0; i < V * D; i++) assert.ok(Math.abs(out[i]! - expected[i]!) < 1e-9, `entry ${i}: ${out[i]} vs ${expected[i]}`);
  }
  await session.release();
});
