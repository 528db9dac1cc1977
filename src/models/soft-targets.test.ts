/**
 * @module models/soft-targets.test
 * Soft targets: vocabularies are mapped by name, rows are α · teacher (renormalised) + (1 − α) · one-hot; beyond
 * their memory budget they go to a temporary file (without a name while it is used) and read back the same rows.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Vocabulary } from '../features/tokens/vocabulary.js';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { seededRandom } from '../engine/graph.js';
import { softTargets, teacherTargets, vocabularyMap } from './soft-targets.js';
import { SoftTargets } from './training.js';

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

test('beyond the memory budget soft targets go to a temporary file and read back the same rows; nothing is left behind', async () => {
  const rand = seededRandom(7);
  const Vt = 9;
  const map = Int32Array.from({ length: Vt }, (_, v) => v); // the same vocabulary on both sides
  const lengths = [5, 1, 12, 3, 40, 2];
  const encoded = lengths.map((n) => [Int32Array.from({ length: n + 2 }, (_, i) => (i === 0 ? 2 : i === n + 1 ? 3 : 5 + Math.floor(rand() * 4)))]);
  const train = lengths.map((_, i) => ({ id: `s${i}`, events: [] }));
  const dist = async (seqs: readonly { id: string }[]) => seqs.map((s) => {
    const n = lengths[Number(s.id.slice(1))]! + 1;
    return Float32Array.from({ length: n * Vt }, () => rand()); // unnormalised: softTargets renormalises
  });
  const before = new Set(readdirSync(tmpdir()).filter((f) => f.startsWith('syscall-anomaly-soft-')));
  const kept = await teacherTargets(dist, train, encoded, map, Vt, 0.7, Infinity);
  const spilled = await teacherTargets(dist, train, encoded, map, Vt, 0.7, 200); // 200 bytes: past the second sequence
  assert.ok(!kept.soft.spilled && spilled.soft.spilled);
  const left = readdirSync(tmpdir()).filter((f) => f.startsWith('syscall-anomaly-soft-') && !before.has(f));
  assert.deepEqual(left, [], 'the file has no name while it is used');
  // the two teachers drew different random rows: compare each store with the softTargets of what it was given
  for (const soft of [kept.soft, spilled.soft]) {
    assert.equal(soft.count, lengths.length);
    lengths.forEach((n, i) => {
      assert.equal(soft.rowsOf(i), n + 1);
      const all = new Float32Array((n + 1) * Vt);
      soft.copyRows(i, 0, n + 1, all, 0);
      for (let r = 0; r <= n; r++) {
        const sum = all.subarray(r * Vt, (r + 1) * Vt).reduce((a, b) => a + b, 0);
        assert.ok(Math.abs(sum - 1) < 1e-5, `sequence ${i} row ${r} sums to ${sum}`);
      }
      if (n >= 3) { // a run of rows in the middle equals the same rows of the whole
        const mid = new Float32Array(2 * Vt + 3);
        soft.copyRows(i, 1, 2, mid, 0);
        assert.deepEqual(Array.from(mid.subarray(0, 2 * Vt)), Array.from(all.subarray(Vt, 3 * Vt)));
      }
    });
    assert.throws(() => soft.copyRows(0, 4, 3, new Float32Array(100), 0), /rows 4…6 of sequence 0's 6/);
    soft.release();
  }
  // the same teacher rows, stored both ways, read back the same
  const rows = await dist(train);
  const a = SoftTargets.of(rows, Vt);
  const b = new SoftTargets(Vt, 0);
  rows.forEach((r) => b.add(r));
  lengths.forEach((n, i) => {
    const x = new Float32Array((n + 1) * Vt);
    const y = new Float32Array((n + 1) * Vt);
    a.copyRows(i, 0, n + 1, x, 0);
    b.copyRows(i, 0, n + 1, y, 0);
    assert.deepEqual(y, x);
  });
  b.release();
});
