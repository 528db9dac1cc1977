/**
 * @module models/classifiers/bench
 * Timing of the histogram tree and random forest on a 10,000 × 300 matrix shaped like syscall window counts
 * (a few dominant syscalls, a long tail of rare ones, mostly zeros; two classes differing in a handful of columns).
 * Not a test: run `node dist/models/classifiers/bench.js` and read the seconds.
 */
import { matrix, rng, type Matrix } from '../../features/preprocess/matrix.js';
import { DecisionTree, RandomForest, treeConfig } from './tree.js';

/** Synthetic-but-realistic window counts: Zipf-like popularity, Poisson-ish counts, class 1 shifts 10 columns. */
export function syntheticWindows(rows: number, cols: number, seed: number): { X: Matrix; y: Int32Array } {
  const rand = rng(seed);
  const X = matrix(rows, cols);
  const y = new Int32Array(rows);
  const rate = Float64Array.from({ length: cols }, (_, j) => 10_000 / ((j + 1) ** 1.3) / 8);
  for (let r = 0; r < rows; r++) {
    y[r] = rand() < 0.3 ? 1 : 0;
    for (let j = 0; j < cols; j++) {
      let lam = rate[j] * (0.5 + rand());
      if (y[r] === 1 && j % 30 === 7) lam *= 1.6;
      if (rand() < 0.5 && j > 20) continue; // many syscalls absent from a window
      // normal approximation of Poisson(lam), rounded, ≥ 0
      const u = Math.max(1e-12, rand()), v = rand();
      const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
      X.data[r * cols + j] = Math.max(0, Math.round(lam + Math.sqrt(lam) * z));
    }
  }
  return { X, y };
}

/** Fits a tree and a 100-tree forest on 10k × 300 and returns seconds and training accuracy. */
export function benchTrees(): { treeSeconds: number; forestSeconds: number; treeNodes: number; forestTrainAccuracy: number } {
  const { X, y } = syntheticWindows(10_000, 300, 1);
  let t = performance.now();
  const tree = new DecisionTree();
  tree.fit(X, y);
  const treeSeconds = (performance.now() - t) / 1000;
  t = performance.now();
  const forest = new RandomForest(100, treeConfig({ maxFeatures: 'sqrt' }), 1);
  forest.fit(X, y);
  const forestSeconds = (performance.now() - t) / 1000;
  const p = forest.predict(X);
  let ok = 0;
  p.forEach((v, i) => (ok += v === y[i] ? 1 : 0));
  return { treeSeconds, forestSeconds, treeNodes: tree.nodes, forestTrainAccuracy: ok / y.length };
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const r = benchTrees();
  console.log(`10,000 × 300: tree fit ${r.treeSeconds.toFixed(2)} s (${r.treeNodes} nodes), forest (100 trees) fit ${r.forestSeconds.toFixed(2)} s, forest train accuracy ${r.forestTrainAccuracy.toFixed(4)}`);
}
