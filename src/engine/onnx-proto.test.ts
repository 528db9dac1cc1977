/**
 * @module engine/onnx-proto.test
 * The hand-written ModelProto writer produces bytes onnxruntime loads and runs: an attribute of each kind we use,
 * a float initializer, negative int64 attributes, and float/double/int64 inputs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { encodeModel } from './onnx-proto.js';

test('a hand-encoded model runs in onnxruntime and computes the expected values', async () => {
  const bytes = encodeModel({
    name: 't',
    nodes: [
      { opType: 'Add', inputs: ['x', 'w'], outputs: ['s'], attrs: {}, name: 'n0', domain: '' },
      // Transpose with perm [1, 0]: [2, 3] -> [3, 2]
      { opType: 'Transpose', inputs: ['s'], outputs: ['y'], attrs: { perm: { kind: 'ints', value: [1, 0] } }, name: 'n1', domain: '' },
      // Gather along axis -1 (negative int attribute) from the double input.
      { opType: 'Gather', inputs: ['d', 'i'], outputs: ['z'], attrs: { axis: { kind: 'int', value: -1 } }, name: 'n2', domain: '' },
      { opType: 'LeakyRelu', inputs: ['x'], outputs: ['l'], attrs: { alpha: { kind: 'float', value: 0.5 } }, name: 'n3', domain: '' },
    ],
    initializers: [{ name: 'w', dtype: 'float32', dims: [3], data: [10, 20, 30] }],
    inputs: [
      { name: 'x', dtype: 'float32', shape: [2, 3] },
      { name: 'd', dtype: 'float64', shape: [2, 4] },
      { name: 'i', dtype: 'int64', shape: [2] },
    ],
    outputs: [
      { name: 'y', dtype: 'float32', shape: [3, 2] },
      { name: 'z', dtype: 'float64', shape: [2, 2] },
      { name: 'l', dtype: 'float32', shape: [2, 3] },
    ],
  });
  const s = await ort.InferenceSession.create(bytes);
  const out = await s.run({
    x: new ort.Tensor('float32', Float32Array.from([1, 2, 3, -4, -5, -6]), [2, 3]),
    d: new ort.Tensor('float64', Float64Array.from([0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5]), [2, 4]),
    i: new ort.Tensor('int64', BigInt64Array.from([3n, 0n]), [2]),
  });
  assert.deepEqual(Array.from(out.y!.data as Float32Array), [11, 6, 22, 15, 33, 24]);
  assert.deepEqual(out.y!.dims, [3, 2]);
  assert.deepEqual(Array.from(out.z!.data as Float64Array), [3.5, 0.5, 7.5, 4.5]);
  assert.deepEqual(Array.from(out.l!.data as Float32Array), [1, 2, 3, -2, -2.5, -3]);
  await s.release();
});
