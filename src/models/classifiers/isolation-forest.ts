/**
 * @module models/classifiers/isolation-forest
 * Isolation forest (Liu, Ting & Zhou, 2008) for users without labels: trained on normal windows only; the anomaly
 * score s(x) = 2^(−E[h(x)] / c(ψ)) is in (0, 1], higher = more anomalous. Pick the alert threshold with
 * `scoreThreshold` on scores of normal validation windows.
 */
import { rng, type Matrix } from '../../features/preprocess/matrix.js';
import type { OneClassModel } from './classifier.js';

/** Average path length of an unsuccessful BST search among n points. */
function cFactor(n: number): number {
  if (n <= 1) return 0;
  if (n === 2) return 1;
  return 2 * (Math.log(n - 1) + 0.5772156649015329) - (2 * (n - 1)) / n;
}

interface ITree {
  feature: Int32Array; // −1 at leaves
  threshold: Float64Array;
  left: Int32Array;
  right: Int32Array;
  size: Int32Array; // rows reaching a leaf
}

export class IsolationForest implements OneClassModel {
  readonly name = 'isolation-forest';
  private trees: ITree[] = [];
  private psi = 0;
  private cols?: number;

  constructor(
    readonly nTrees = 100,
    /** Rows per tree (ψ), at most the training size. */
    readonly sampleSize = 256,
    readonly seed = 0,
  ) {
    if (!Number.isInteger(nTrees) || nTrees < 1) throw new RangeError('isolation forest: nTrees must be an integer ≥ 1');
    if (!Number.isInteger(sampleSize) || sampleSize < 2) throw new RangeError('isolation forest: sampleSize must be an integer ≥ 2');
  }

  fit(X: Matrix): void {
    if (X.rows < 2) throw new RangeError('isolation forest: needs at least 2 rows');
    const rand = rng(this.seed);
    const psi = Math.min(this.sampleSize, X.rows);
    const maxDepth = Math.ceil(Math.log2(psi));
    const d = X.cols;
    this.trees = [];
    for (let t = 0; t < this.nTrees; t++) {
      // sample ψ distinct rows (partial Fisher–Yates over all rows)
      const all = Int32Array.from({ length: X.rows }, (_, i) => i);
      for (let i = 0; i < psi; i++) {
        const j = i + Math.floor(rand() * (X.rows - i));
        const tmp = all[i]; all[i] = all[j]; all[j] = tmp;
      }
      const idx = all.subarray(0, psi);
      const feature: number[] = [], threshold: number[] = [], left: number[] = [], right: number[] = [], size: number[] = [];
      const node = () => { feature.push(-1); threshold.push(0); left.push(-1); right.push(-1); size.push(0); return feature.length - 1; };
      const stack = [{ lo: 0, hi: psi, depth: 0, id: node() }];
      while (stack.length) {
        const { lo, hi, depth, id } = stack.pop()!;
        size[id] = hi - lo;
        if (hi - lo <= 1 || depth >= maxDepth) continue;
        // a random feature that varies here (a few tries), split uniformly between its min and max
        let f = -1, mn = 0, mx = 0;
        for (let tries = 0; tries < 16 && f < 0; tries++) {
          const c = Math.floor(rand() * d);
          mn = Infinity; mx = -Infinity;
          for (let i = lo; i < hi; i++) { const v = X.data[idx[i] * d + c]; if (v < mn) mn = v; if (v > mx) mx = v; }
          if (mx > mn) f = c;
        }
        if (f < 0) continue;
        const thr = mn + rand() * (mx - mn);
        let i = lo, j = hi - 1;
        while (i <= j) {
          if (X.data[idx[i] * d + f] < thr) i++;
          else { const tmp = idx[i]; idx[i] = idx[j]; idx[j] = tmp; j--; }
        }
        if (i === lo || i === hi) continue;
        feature[id] = f; threshold[id] = thr;
        const l = node(), r = node();
        left[id] = l; right[id] = r;
        stack.push({ lo, hi: i, depth: depth + 1, id: l }, { lo: i, hi, depth: depth + 1, id: r });
      }
      this.trees.push({ feature: Int32Array.from(feature), threshold: Float64Array.from(threshold), left: Int32Array.from(left),
        right: Int32Array.from(right), size: Int32Array.from(size) });
    }
    this.psi = psi;
    this.cols = d;
  }

  score(X: Matrix): Float64Array {
    if (this.cols === undefined) throw new Error('isolation forest: score before fit');
    if (X.cols !== this.cols) throw new RangeError(`isolation forest: trained on ${this.cols} columns, got ${X.cols}`);
    const d = X.cols, out = new Float64Array(X.rows), c = cFactor(this.psi);
    for (let r = 0; r < X.rows; r++) {
      let h = 0;
      for (const t of this.trees) {
        let nd = 0, depth = 0;
        while (t.feature[nd] >= 0) { nd = X.data[r * d + t.feature[nd]] < t.threshold[nd] ? t.left[nd] : t.right[nd]; depth++; }
        h += depth + cFactor(t.size[nd]);
      }
      out[r] = Math.pow(2, -(h / this.trees.length) / c);
    }
    return out;
  }
}
