/**
 * @module engine/weights.test
 * The flat-weights file: float32 values round-trip exactly; a wrong magic, version or length is a TraceError.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isTraceError } from '../trace/errors.js';
import { decodeWeights, encodeWeights } from './weights.js';

test('weights round-trip and reject damaged files', () => {
  const values = Float32Array.from([0, -1.5, 3.25e-8, 1e30, Math.fround(Math.PI)]);
  const bytes = encodeWeights(values);
  assert.equal(bytes.length, 16 + 4 * values.length);
  assert.deepEqual(decodeWeights(bytes, 'w'), values);

  const badMagic = bytes.slice();
  badMagic[0] = 0x58;
  assert.throws(() => decodeWeights(badMagic, 'w'), (e) => isTraceError(e) && e.offset === 0);
  const badVersion = bytes.slice();
  badVersion[8] = 2;
  assert.throws(() => decodeWeights(badVersion, 'w'), (e) => isTraceError(e) && /version 2/.test(e.reason));
  assert.throws(() => decodeWeights(bytes.subarray(0, bytes.length - 1), 'w'), (e) => isTraceError(e) && e.offset === 12);
});
