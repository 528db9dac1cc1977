/**
 * @module models/classifiers/knn-detector
 * One-class nearest-neighbour detector: the anomaly score of a row is its mean squared Euclidean distance to its
 * k nearest training (normal) rows. Higher = more anomalous. Pick the threshold with `scoreThreshold`.
 */
import type { Matrix } from '../../features/preprocess/matrix.js';
import type { OneClassModel } from './classifier.js';

export class KnnDistanceDetector implements OneClassModel {
  readonly name = 'knn-distance';
  private X?: Matrix;

  constructor(readonly k = 1) {
    if (!Number.isInteger(k) || k < 1) throw new RangeError(`knn-distance: k must be an integer ≥ 1, got ${k}`);
  }

  fit(X: Matrix): void {
    if (X.rows < this.k) throw new RangeError(`knn-distance: needs at least k = ${this.k} rows`);
    this.X = { rows: X.rows, cols: X.cols, data: X.data.slice() };
  }

  score(Q: Matrix): Float64Array {
    const T = this.X;
    if (!T) throw new Error('knn-distance: score before fit');
    if (Q.cols !== T.cols) throw new RangeError(`knn-distance: trained on ${T.cols} columns, got ${Q.cols}`);
    const d = T.cols, k = this.k, out = new Float64Array(Q.rows), best = new Float64Array(k);
    for (let q = 0; q < Q.rows; q++) {
      best.fill(Infinity);
      for (let r = 0; r < T.rows; r++) {
        let s = 0;
        for (let c = 0; c < d && s < best[k - 1]; c++) { const t = Q.data[q * d + c] - T.data[r * d + c]; s += t * t; }
        if (s < best[k - 1]) {
          let j = k - 1;
          while (j > 0 && best[j - 1] > s) { best[j] = best[j - 1]; j--; }
          best[j] = s;
        }
      }
      let m = 0;
      for (let j = 0; j < k; j++) m += best[j];
      out[q] = m / k;
    }
    return out;
  }
}
