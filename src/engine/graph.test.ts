/**
 * @module engine/graph.test
 * Shape inference of the builder (broadcasting, matmul, gather, split, reduce, reshape with -1), its refusals, the
 * parameter layout in the flat buffer, and pruning in toModel (an output's graph runs without unrelated inputs' ops).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { broadcastShape, Graph } from './graph.js';

test('shape inference for the builder ops', () => {
  const g = new Graph('float32');
  const x = g.input('x', 'float32', [2, 3, 4]); // [B, T, C]
  const w = g.param('w', [4, 5], { kind: 'normal', std: 1 }, true);
  const b = g.param('b', [5], { kind: 'const', value: 0 }, false);
  assert.deepEqual(g.add(g.matmul(x, w), b).shape, [2, 3, 5]);
  assert.deepEqual(g.matmul(g.input('a', 'float32', [7, 1, 3, 4]), g.input('c', 'float32', [6, 4, 2])).shape, [7, 6, 3, 2]);
  assert.deepEqual(g.gather(g.input('e', 'float32', [10, 8]), g.input('i', 'int64', [2, 3])).shape, [2, 3, 8]);
  assert.deepEqual(g.split(x, -1, [1, 3]).map((v) => v.shape), [[2, 3, 1], [2, 3, 3]]);
  assert.deepEqual(g.reduceSum(x, [0, -1], false).shape, [3]);
  assert.deepEqual(g.reduceMean(x, [1], true).shape, [2, 1, 4]);
  assert.deepEqual(g.reshape(x, [-1, 4]).shape, [6, 4]);
  assert.deepEqual(g.transpose(x, [2, 0, 1]).shape, [4, 2, 3]);
  assert.deepEqual(g.concat([x, x], 1).shape, [2, 6, 4]);
  assert.deepEqual(g.slice(x, 2, 1, 3).shape, [2, 3, 2]);
  assert.deepEqual(g.crossEntropy(g.input('l', 'float32', [6, 9]), g.input('t', 'int64', [6]), 0.1, -1).shape, []);
  assert.deepEqual(broadcastShape([2, 1, 3], [4, 1]), [2, 4, 3]);
  assert.equal(g.params[1]!.offset, 20);
  assert.equal(g.paramCount, 25);

  assert.throws(() => g.add(x, g.input('bad', 'float32', [3, 3])), /broadcast/);
  assert.throws(() => g.matmul(x, g.input('m', 'float32', [5, 2])), /matmul/);
  assert.throws(() => g.reshape(x, [5, -1]), /reshape/);
  assert.throws(() => g.slice(x, 1, 2, 5), /slice/);
  assert.throws(() => g.param('w', [1], { kind: 'const', value: 0 }, false), /twice/);
});

test('toModel prunes to the requested outputs and feeds params by flat slices', async () => {
  const g = new Graph('float32');
  const x = g.input('x', 'float32', [2]);
  const unused = g.input('unused', 'float32', [3]);
  const p = g.param('p', [2], { kind: 'const', value: 0 }, false);
  const q = g.param('q', [2], { kind: 'const', value: 0 }, false);
  g.exp(g.mul(unused, unused)); // not needed by the output below
  const y = g.add(g.mul(x, p), q); // [2]
  const s = await ort.InferenceSession.create(g.toModel({ y }));
  assert.deepEqual(s.inputNames.slice().sort(), ['params', 'unused', 'x']);
  const out = await s.run({
    params: new ort.Tensor('float32', Float32Array.from([2, 3, 10, 20]), [4]),
    x: new ort.Tensor('float32', Float32Array.from([1, -1]), [2]),
    unused: new ort.Tensor('float32', new Float32Array(3), [3]),
  });
  assert.deepEqual(Array.from(out['y']!.data as Float32Array), [12, 17]);
  await s.release();
});
