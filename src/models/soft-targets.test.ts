/**
 * @module models/soft-targets.test
 * Soft targets: vocabularies are mapped by name, rows are α · teacher (renormalised) + (1 − α) · one-hot, and soft
 * targets that would take more than `SOFT_TARGET_BYTES` are refused before the teacher runs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Vocabulary } from '../features/tokens/vocabulary.js';
import { SOFT_TARGET_BYTES, softTargets, teacherTargets, vocabularyMap } from './soft-targets.js';

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
