/**
 * @module models/classifiers/classifiers.test
 * Classifiers on hand-checkable cases and on real ADFA-LD per-trace count vectors (held-out attack folders):
 * the histogram tree against an exact (unbinned) CART written here, forest/k-NN/NB/logistic/SVM against the
 * majority baseline, and the one-class detectors' ROC AUC trained on Training normals.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { sharedData } from '../../testing/paths.js';
import { readAdfaZip, adfaCountSet, type AdfaTrace } from '../../features/windows/adfa-testdata.js';
import { fromRows, takeLabels, takeRows, type Matrix } from '../../features/preprocess/matrix.js';
import { Log1pTransform, MinMaxScaler, RowFrequency } from '../../features/preprocess/scale.js';
import { Pipeline } from '../../features/preprocess/pipeline.js';
import { groupedStratifiedFolds, rocAuc } from '../../detect/classification.js';
import { scoreThreshold, type Classifier } from './classifier.js';
import { DecisionTree, RandomForest, treeConfig } from './tree.js';
import { KnnClassifier } from './knn.js';
import { GaussianNB, MultinomialNB } from './naive-bayes.js';
import { LogisticRegression, lbfgs } from './logistic.js';
import { SvmClassifier } from './svm.js';
import { IsolationForest } from './isolation-forest.js';
import { KnnDistanceDetector } from './knn-detector.js';
import { QuantileBinner } from './binning.js';

let traces: AdfaTrace[];
let Xtr: Matrix, ytr: Int32Array, Xte: Matrix, yte: Int32Array, all: Matrix;
before(async () => {
  traces = await readAdfaZip(sharedData('adfa-ld', 'ADFA-LD.zip'));
  const set = await adfaCountSet(traces);
  all = set.dense();
  const folds = groupedStratifiedFolds(set.labels, set.groups, 5, 3);
  const tr: number[] = [], te: number[] = [];
  folds.forEach((f, i) => (f === 0 ? te : tr).push(i));
  Xtr = takeRows(all, tr); ytr = takeLabels(set.labels, tr);
  Xte = takeRows(all, te); yte = takeLabels(set.labels, te);
});

const accuracy = (m: Classifier, X = Xte, y = yte) => { const p = m.predict(X); let ok = 0; p.forEach((v, i) => (ok += v === y[i] ? 1 : 0)); return ok / y.length; };
const majority = () => { const a = yte.filter((v) => v === 1).length / yte.length; return Math.max(a, 1 - a); };
const prepared = () => { const p = new Pipeline([new Log1pTransform(), new MinMaxScaler()]); const t = p.fit(Xtr, ytr); return { X: t.X, y: t.y, Xt: p.transform(Xte) }; };

/** Exact CART (gini, every midpoint threshold), the reference for the histogram tree. */
function exactTree(X: Matrix, y: Int32Array, rows: number[], depth: number): (x: Float64Array) => number {
  const ones = rows.filter((r) => y[r] === 1).length;
  const leaf = ones * 2 >= rows.length ? 1 : 0;
  if (depth === 0 || ones === 0 || ones === rows.length) return () => leaf;
  let best = { gain: 1e-12, f: -1, t: 0 };
  const n = rows.length, parent = (ones ** 2 + (n - ones) ** 2) / n;
  for (let f = 0; f < X.cols; f++) {
    const s = [...rows].sort((a, b) => X.data[a * X.cols + f] - X.data[b * X.cols + f]);
    let l1 = 0;
    for (let i = 0; i < n - 1; i++) {
      l1 += y[s[i]];
      const v = X.data[s[i] * X.cols + f], w = X.data[s[i + 1] * X.cols + f];
      if (v === w) continue;
      const nl = i + 1, nr = n - nl, r1 = ones - l1;
      const gain = (l1 ** 2 + (nl - l1) ** 2) / nl + (r1 ** 2 + (nr - r1) ** 2) / nr - parent;
      if (gain > best.gain) best = { gain, f, t: (v + w) / 2 };
    }
  }
  if (best.f < 0) return () => leaf;
  const { f, t } = best;
  const L = exactTree(X, y, rows.filter((r) => X.data[r * X.cols + f] <= t), depth - 1);
  const R = exactTree(X, y, rows.filter((r) => X.data[r * X.cols + f] > t), depth - 1);
  return (x) => (x[f] <= t ? L(x) : R(x));
}

test('binning: ≤ 255 bins, bin b ⇔ x ≤ edge b, few distinct values get one bin each', () => {
  const b = new QuantileBinner(255);
  b.fit(all);
  const bins = b.transform(all);
  for (let f = 0; f < all.cols; f++) {
    assert.ok(b.edges[f].length <= 254);
    for (let r = 0; r < all.rows; r += 13) {
      const v = all.data[r * all.cols + f], bin = bins[f * all.rows + r];
      if (bin < b.edges[f].length) assert.ok(v <= b.edges[f][bin]);
      if (bin > 0) assert.ok(v > b.edges[f][bin - 1]);
    }
  }
  const small = new QuantileBinner(255);
  small.fit(fromRows([[1], [1], [5], [9]]));
  assert.deepEqual([...small.edges[0]], [3, 7]);
});

test('histogram tree of depth 6 is within 2 points of an exact CART of depth 6 on ADFA-LD', () => {
  const ours = new DecisionTree(treeConfig({ maxDepth: 6 }));
  ours.fit(Xtr, ytr);
  const ref = exactTree(Xtr, ytr, [...Array(Xtr.rows).keys()], 6);
  let ok = 0;
  for (let r = 0; r < Xte.rows; r++) ok += ref(Xte.data.subarray(r * Xte.cols, (r + 1) * Xte.cols)) === yte[r] ? 1 : 0;
  const refAcc = ok / Xte.rows, ourAcc = accuracy(ours);
  assert.ok(Math.abs(ourAcc - refAcc) <= 0.02, `ours ${ourAcc} vs exact ${refAcc}`);
  assert.ok(ourAcc > majority());
});

test('random forest beats a single tree and the majority baseline on held-out attack folders; importances sum to 1', () => {
  const tree = new DecisionTree();
  tree.fit(Xtr, ytr);
  const forest = new RandomForest(60, treeConfig({ maxFeatures: 'sqrt' }), 1);
  forest.fit(Xtr, ytr);
  const fa = accuracy(forest);
  assert.ok(fa >= accuracy(tree) - 0.005, `forest ${fa} tree ${accuracy(tree)}`);
  assert.ok(fa > majority() + 0.05);
  const imp = forest.featureImportances();
  assert.ok(Math.abs(imp.reduce((a, b) => a + b, 0) - 1) < 1e-9);
  const P = forest.predictProba(Xte);
  for (let r = 0; r < P.rows; r++) assert.ok(Math.abs(P.data[2 * r] + P.data[2 * r + 1] - 1) < 1e-9);
});

test('k-NN: hand case, and above the majority baseline on ADFA-LD', () => {
  const knn = new KnnClassifier(3);
  knn.fit(fromRows([[0, 0], [0, 1], [1, 0], [10, 10], [10, 11]]), Int32Array.from([4, 4, 4, 9, 9]));
  assert.deepEqual([...knn.predict(fromRows([[0.2, 0.2], [9, 9]]))], [4, 9]);
  assert.deepEqual([...knn.predictProba(fromRows([[9, 9]])).data].map((v) => +v.toFixed(6)), [0.333333, 0.666667]);
  const p = prepared();
  const m = new KnnClassifier(5);
  m.fit(p.X, p.y);
  assert.ok(accuracy(m, p.Xt) > majority());
});

test('multinomial NB equals the hand formula; Gaussian NB separates two Gaussians', () => {
  // class 0 word totals [3, 1] → with α = 1: p = [4/6, 2/6]; class 1 totals [0, 4] → [1/6, 5/6]; priors 1/2
  const nb = new MultinomialNB(1);
  nb.fit(fromRows([[2, 1], [1, 0], [0, 4], [0, 0]]), Int32Array.from([0, 0, 1, 1]));
  const L = nb.logLikelihood(fromRows([[1, 2]]));
  assert.ok(Math.abs(L.data[0] - (Math.log(0.5) + Math.log(4 / 6) + 2 * Math.log(2 / 6))) < 1e-12);
  assert.ok(Math.abs(L.data[1] - (Math.log(0.5) + Math.log(1 / 6) + 2 * Math.log(5 / 6))) < 1e-12);
  assert.throws(() => nb.fit(fromRows([[-1, 0]]), Int32Array.from([0])), RangeError);
  const g = new GaussianNB();
  g.fit(fromRows([[0], [1], [2], [10], [11], [12]]), Int32Array.from([0, 0, 0, 1, 1, 1]));
  assert.deepEqual([...g.predict(fromRows([[1.5], [9]]))], [0, 1]);
  const m = new MultinomialNB();
  m.fit(Xtr, ytr);
  assert.ok(accuracy(m) > 0.75);
});

test('L-BFGS finds the minimum of a convex quadratic; logistic regression fits ADFA-LD above the baseline', () => {
  const target = [3, -2, 0.5];
  const r = lbfgs((x, g) => { let f = 0; x.forEach((v, i) => { const w = (i + 1) * (v - target[i]); f += w * (v - target[i]); g[i] = 2 * w; }); return f; },
    new Float64Array(3), 100, 1e-10, 5);
  r.x.forEach((v, i) => assert.ok(Math.abs(v - target[i]) < 1e-6));
  const p = prepared();
  const lr = new LogisticRegression(1, 200);
  lr.fit(p.X, p.y);
  assert.ok(accuracy(lr, p.Xt) > majority());
  const three = new LogisticRegression(10, 200);
  three.fit(fromRows([[0, 0], [0, 1], [5, 5], [5, 6], [10, 0], [10, 1]]), Int32Array.from([0, 0, 1, 1, 2, 2]));
  assert.deepEqual([...three.predict(fromRows([[0, 0.5], [5, 5.5], [10, 0.5]]))], [0, 1, 2]);
});

test('SVM (libsvm-js wasm): XOR with RBF, 3 classes linear, ADFA-LD above baseline; no process-exit handler left', async () => {
  const before = process.listenerCount('unhandledRejection');
  const rbf = await SvmClassifier.create('rbf', 10, 1);
  assert.equal(process.listenerCount('unhandledRejection'), before);
  rbf.fit(fromRows([[0, 0], [1, 1], [0, 1], [1, 0]]), Int32Array.from([0, 0, 1, 1]));
  assert.deepEqual([...rbf.predict(fromRows([[0, 0], [1, 1], [0, 1], [1, 0]]))], [0, 0, 1, 1]);
  rbf.dispose();
  const lin = await SvmClassifier.create('linear', 1);
  lin.fit(fromRows([[0, 0], [0, 1], [5, 5], [5, 6], [10, 0], [10, 1]]), Int32Array.from([3, 3, 7, 7, 8, 8]));
  assert.deepEqual([...lin.predict(fromRows([[0, 0.5], [5, 5.5], [10, 0.5]]))], [3, 7, 8]);
  lin.dispose();
  const p = prepared();
  const svm = await SvmClassifier.create('rbf');
  svm.fit(p.X, p.y);
  assert.ok(accuracy(svm, p.Xt) > majority() + 0.05);
  svm.dispose();
});

test('one-class on ADFA-LD (fit on Training normals, score Validation normals vs attacks): ROC AUC and threshold', () => {
  const trainRows = traces.flatMap((t, i) => (t.split === 'Training' ? [i] : []));
  const testRows = traces.flatMap((t, i) => (t.split !== 'Training' ? [i] : []));
  const attack = testRows.map((i) => traces[i].split === 'Attack');
  const hell = new RowFrequency(true);
  const A = hell.transform(takeRows(all, trainRows)), B = hell.transform(takeRows(all, testRows));
  const knn = new KnnDistanceDetector(1);
  knn.fit(A);
  const s = knn.score(B);
  const aucKnn = rocAuc(s, attack);
  const iso = new IsolationForest(100, 256, 1);
  iso.fit(A);
  const aucIso = rocAuc(iso.score(B), attack);
  console.log(`one-class ROC AUC on ADFA-LD count vectors: knn-distance ${aucKnn.toFixed(4)}, isolation forest ${aucIso.toFixed(4)}`);
  assert.ok(aucKnn > 0.7, `knn-distance AUC ${aucKnn}`);
  const normal = [...s].filter((_, i) => !attack[i]);
  const thr = scoreThreshold(normal, 0.95);
  const far = normal.filter((v) => v > thr).length / normal.length;
  assert.ok(far <= 0.05 + 1 / normal.length && far > 0.03, `false-alarm rate ${far}`);
  assert.equal(scoreThreshold([1, 2, 3, 4, 5], 0.5), 3);
  assert.equal(scoreThreshold([1, 2], 0.25), 1.25);
});
