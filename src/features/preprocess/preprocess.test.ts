/**
 * @module features/preprocess/preprocess.test
 * Property tests: statistics come from training rows only, balancing equalises classes, the Fisher score matches a
 * hand computation, pipelines survive a JSON round trip.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { classCounts, fromRows, matrix, type Matrix } from './matrix.js';
import { L2RowNormalizer, Log1pTransform, MinMaxScaler, StandardScaler } from './scale.js';
import { ClassBalancer } from './balance.js';
import { FisherSelector, fisherScores } from './fisher.js';
import { Pipeline } from './pipeline.js';

const rowsArb = (cols: number, min: number, max: number) =>
  fc.array(fc.array(fc.integer({ min, max }), { minLength: cols, maxLength: cols }), { minLength: 2, maxLength: 30 });

test('min-max: test rows are scaled with the training min/max, whatever the test rows are', () => {
  fc.assert(fc.property(rowsArb(4, 0, 1000), rowsArb(4, -500, 3000), (tr, te) => {
    const s = new MinMaxScaler();
    s.fit(fromRows(tr));
    const out = s.transform(fromRows(te));
    for (let c = 0; c < 4; c++) {
      const col = tr.map((r) => r[c]);
      const mn = Math.min(...col), mx = Math.max(...col);
      te.forEach((r, i) => {
        const want = mx === mn ? r[c] - mn : (r[c] - mn) / (mx - mn);
        assert.ok(Math.abs(out.data[i * 4 + c] - want) < 1e-12);
      });
    }
    // one test row alone gives the same result as inside the batch: nothing is learned from test data
    const one = s.transform(fromRows([te[0]]));
    assert.deepEqual([...one.data], [...out.data.subarray(0, 4)]);
    const tr2 = s.transform(fromRows(tr));
    assert.ok([...tr2.data].every((v) => v >= 0 && v <= 1));
  }));
});

test('z-score: train columns get mean 0 / std 1; test uses the training mean and std', () => {
  fc.assert(fc.property(rowsArb(3, -100, 100), rowsArb(3, -1000, 1000), (tr, te) => {
    const s = new StandardScaler();
    s.fit(fromRows(tr));
    const t = s.transform(fromRows(tr));
    const o = s.transform(fromRows(te));
    for (let c = 0; c < 3; c++) {
      const col = tr.map((r) => r[c]);
      const mean = col.reduce((a, b) => a + b, 0) / col.length;
      const sd = Math.sqrt(col.reduce((a, b) => a + (b - mean) ** 2, 0) / col.length);
      const z = [...Array(tr.length).keys()].map((i) => t.data[i * 3 + c]);
      const zm = z.reduce((a, b) => a + b, 0) / z.length;
      assert.ok(Math.abs(zm) < 1e-9);
      if (sd > 0) assert.ok(Math.abs(Math.sqrt(z.reduce((a, b) => a + (b - zm) ** 2, 0) / z.length) - 1) < 1e-9);
      te.forEach((r, i) => assert.ok(Math.abs(o.data[i * 3 + c] - (sd > 0 ? (r[c] - mean) / sd : r[c] - mean)) < 1e-9));
    }
  }));
});

test('L2 rows have norm 1 (or stay 0); log1p is element-wise; transform before fit throws', () => {
  const X = fromRows([[3, 4], [0, 0], [1, 0]]);
  assert.deepEqual([...new L2RowNormalizer().transform(X).data], [0.6, 0.8, 0, 0, 1, 0]);
  assert.deepEqual([...new Log1pTransform().transform(X).data], [3, 4, 0, 0, 1, 0].map(Math.log1p));
  assert.throws(() => new MinMaxScaler().transform(X), /before fit/);
  assert.throws(() => new Log1pTransform().transform(fromRows([[-1]])), RangeError);
});

test('undersampling gives every class the size of the smallest; oversampling of the largest; rows keep their labels', () => {
  fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 80 }), fc.integer(), (labels, seed) => {
    const y = Int32Array.from(labels);
    // row i holds [i, label] so that each output row can be traced back
    const X = fromRows(labels.map((c, i) => [i, c]));
    const counts = [...classCounts(y).values()];
    for (const mode of ['undersample', 'oversample'] as const) {
      const out = new ClassBalancer(mode, seed).resample(X, y);
      const want = mode === 'undersample' ? Math.min(...counts) : Math.max(...counts);
      for (const n of classCounts(out.y).values()) assert.equal(n, want);
      assert.equal(classCounts(out.y).size, counts.length);
      for (let r = 0; r < out.X.rows; r++) {
        const src = out.X.data[r * 2];
        assert.equal(out.X.data[r * 2 + 1], out.y[r]);
        assert.equal(y[src], out.y[r]);
      }
      if (mode === 'undersample') assert.equal(new Set(Array.from({ length: out.X.rows }, (_, r) => out.X.data[r * 2])).size, out.X.rows);
    }
  }));
  const a = new ClassBalancer('undersample', 7).resample(fromRows([[1], [2], [3], [4], [5]]), Int32Array.from([0, 0, 0, 1, 1]));
  const b = new ClassBalancer('undersample', 7).resample(fromRows([[1], [2], [3], [4], [5]]), Int32Array.from([0, 0, 0, 1, 1]));
  assert.deepEqual(a, b, 'same seed, same sample');
});

test('Fisher score equals the hand computation on a tiny case', () => {
  // feature 0: class 0 {1, 2}, class 1 {3, 4}: μ=2.5, μ0=1.5, μ1=3.5 → num = 2·1 + 2·1 = 4; σ² = 0.25 each → den = 1 → 4
  // feature 1: {5, 5} vs {6, 6}: no within-class spread, means differ → +∞
  // feature 2: {1, 3} vs {1, 3}: same means → 0
  // feature 3: {0, 2} vs {1, 5}: μ=2, μ0=1, μ1=3 → num = 2·1 + 2·1 = 4; σ0²=1, σ1²=4 → den = 2 + 8 = 10 → 0.4
  const X = fromRows([[1, 5, 1, 0], [2, 5, 3, 2], [3, 6, 1, 1], [4, 6, 3, 5]]);
  const y = Int32Array.from([0, 0, 1, 1]);
  const s = fisherScores(X, y);
  assert.equal(s[0], 4);
  assert.equal(s[1], Infinity);
  assert.equal(s[2], 0);
  assert.ok(Math.abs(s[3] - 0.4) < 1e-12);
  const f = new FisherSelector(2);
  f.fit(X, y);
  assert.deepEqual([...f.selected()], [1, 0]);
  assert.deepEqual(f.ranking(['a', 'b', 'c', 'd']).map((r) => r.name), ['b', 'a', 'd', 'c']);
  assert.deepEqual([...f.transform(X).data], [5, 1, 5, 2, 6, 3, 6, 4]);
  assert.deepEqual(f.outputNames(['a', 'b', 'c', 'd']), ['b', 'a']);
});

test('Fisher score is invariant to shifting and scaling a feature, and ranks an informative column first', () => {
  fc.assert(fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 1 }), fc.integer({ min: -5, max: 5 })), { minLength: 6, maxLength: 40 }),
    fc.double({ min: 0.5, max: 20, noNaN: true }), fc.double({ min: -100, max: 100, noNaN: true }), (pts, a, b) => {
      const y = Int32Array.from(pts.map((p) => p[0]));
      // each class needs some spread in the noise column, else both columns separate perfectly (+∞)
      fc.pre([0, 1].every((c) => new Set(pts.filter((p) => p[0] === c).map((p) => p[1])).size >= 2));
      const X = fromRows(pts.map(([c, noise]) => [noise, c * 10 + noise * 0.01, a * noise + b]));
      const s = fisherScores(X, y);
      if (Number.isFinite(s[0])) assert.ok(Math.abs(s[0] - s[2]) <= 1e-6 * Math.max(1, s[0]));
      assert.ok(s[1] > s[0]);
    }));
});

test('pipeline: fit on train only, JSON round trip transforms identically, balance never touches test rows', () => {
  const tr: Matrix = fromRows([[1, 10, 0], [2, 20, 5], [3, 30, 0], [10, 5, 1], [12, 4, 1]]);
  const y = Int32Array.from([0, 0, 0, 1, 1]);
  const p = new Pipeline([new ClassBalancer('undersample', 1), new Log1pTransform(), new StandardScaler(), new FisherSelector(2)]);
  const fitted = p.fit(tr, y);
  assert.equal(fitted.X.rows, 4);
  assert.equal(fitted.X.cols, 2);
  const te = fromRows([[5, 5, 5], [0, 0, 0], [100, 100, 100]]);
  const a = p.transform(te);
  assert.equal(a.rows, 3);
  const q = Pipeline.fromJSON(JSON.parse(JSON.stringify(p.toJSON())));
  assert.deepEqual([...q.transform(te).data], [...a.data]);
  assert.deepEqual(q.outputNames(['x', 'y', 'z']), p.outputNames(['x', 'y', 'z']));
  assert.ok(p.fisher());
  assert.equal(matrix(0, 3).rows, 0);
});
