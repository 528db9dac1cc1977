/**
 * @module models/classifiers/binning
 * Quantile binning of features into ≤ 255 bins (one byte per value) for histogram-based trees. Bin b of feature f
 * holds values in (edges[b−1], edges[b]]; the last bin holds values > the last edge. A split "bin ≤ b" is therefore
 * the raw test "x ≤ edges[b]", so fitted trees predict on raw values.
 */
import type { Matrix } from '../../features/preprocess/matrix.js';

export class QuantileBinner {
  /** Per feature, ascending edges (≤ maxBins − 1). */
  edges: Float64Array[] = [];

  constructor(readonly maxBins = 255) {
    if (!Number.isInteger(maxBins) || maxBins < 2 || maxBins > 256) throw new RangeError(`binning: maxBins must be in [2, 256], got ${maxBins}`);
  }

  /** Learns edges: midpoints between distinct values when there are few, else distinct quantiles. */
  fit(X: Matrix): void {
    const n = X.rows, d = X.cols;
    const col = new Float64Array(n);
    this.edges = [];
    for (let f = 0; f < d; f++) {
      for (let r = 0; r < n; r++) col[r] = X.data[r * d + f];
      col.sort();
      const distinct: number[] = [];
      for (let r = 0; r < n; r++) if (r === 0 || col[r] !== col[r - 1]) distinct.push(col[r]);
      const e: number[] = [];
      if (distinct.length <= this.maxBins) {
        for (let i = 0; i + 1 < distinct.length; i++) e.push((distinct[i] + distinct[i + 1]) / 2);
      } else {
        for (let i = 1; i < this.maxBins; i++) {
          const q = col[Math.min(n - 1, Math.floor((i * n) / this.maxBins))];
          if (q < distinct[distinct.length - 1] && (e.length === 0 || q > e[e.length - 1])) e.push(q);
        }
      }
      this.edges.push(Float64Array.from(e));
    }
  }

  /** Bins of X, feature-major (column f at [f·n, (f+1)·n)). // [d, n] */
  transform(X: Matrix): Uint8Array {
    const n = X.rows, d = X.cols;
    if (d !== this.edges.length) throw new RangeError(`binning: fitted on ${this.edges.length} columns, got ${d}`);
    const out = new Uint8Array(n * d);
    for (let f = 0; f < d; f++) {
      const e = this.edges[f];
      for (let r = 0; r < n; r++) {
        const v = X.data[r * d + f];
        let lo = 0, hi = e.length; // first edge ≥ v
        while (lo < hi) {
          const mid = (lo + hi) >> 1;
          if (e[mid] < v) lo = mid + 1;
          else hi = mid;
        }
        out[f * n + r] = lo;
      }
    }
    return out;
  }

  /** The raw threshold of split "bin ≤ b" on feature f. */
  threshold(f: number, b: number): number {
    return this.edges[f][b];
  }
}
