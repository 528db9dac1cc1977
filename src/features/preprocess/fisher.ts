/**
 * @module features/preprocess/fisher
 * Fisher score feature ranking and top-k selection. For feature j with class sizes n_c, class means μ_cj, class
 * variances σ²_cj (population) and overall mean μ_j:
 *   F_j = Σ_c n_c (μ_cj − μ_j)² / Σ_c n_c σ²_cj
 * A feature with zero within-class variance scores +∞ if its class means differ, 0 if they do not.
 */
import { takeCols, type Matrix } from './matrix.js';
import { needCols, needFitted, type Stage } from './stage.js';

/** Fisher score of every column. // X: [n, d], y: [n] → [d] */
export function fisherScores(X: Matrix, y: Int32Array): Float64Array {
  if (y.length !== X.rows) throw new RangeError(`fisher: ${X.rows} rows but ${y.length} labels`);
  const classes = [...new Set(y)].sort((a, b) => a - b);
  const ci = new Map(classes.map((c, i) => [c, i]));
  const k = classes.length;
  const d = X.cols;
  const n = new Float64Array(k);
  const sum = new Float64Array(k * d);
  const sq = new Float64Array(k * d);
  for (let r = 0; r < X.rows; r++) {
    const c = ci.get(y[r])!;
    n[c]++;
    for (let j = 0; j < d; j++) {
      const v = X.data[r * d + j];
      sum[c * d + j] += v;
      sq[c * d + j] += v * v;
    }
  }
  const out = new Float64Array(d);
  for (let j = 0; j < d; j++) {
    let tot = 0;
    for (let c = 0; c < k; c++) tot += sum[c * d + j];
    const mu = tot / Math.max(1, X.rows);
    let num = 0;
    let den = 0;
    for (let c = 0; c < k; c++) {
      if (n[c] === 0) continue;
      const m = sum[c * d + j] / n[c];
      const v = Math.max(0, sq[c * d + j] / n[c] - m * m);
      num += n[c] * (m - mu) ** 2;
      den += n[c] * v;
    }
    const scale = Math.max(1e-300, mu * mu);
    if (den <= 1e-12 * scale) out[j] = num <= 1e-12 * scale ? 0 : Infinity;
    else out[j] = num / den;
  }
  return out;
}

/** Ranks features by Fisher score on train and keeps the top `k` (ties: lower column first). */
export class FisherSelector implements Stage {
  readonly kind = 'fisher';
  readonly settings: Readonly<{ k: number }>;
  private scores?: Float64Array;
  private order?: Int32Array;

  constructor(k: number) {
    if (!Number.isInteger(k) || k < 1) throw new RangeError(`fisher: k must be an integer ≥ 1, got ${k}`);
    this.settings = Object.freeze({ k });
  }

  get fitted(): boolean {
    return this.scores !== undefined;
  }

  fit(X: Matrix, y: Int32Array): void {
    const s = fisherScores(X, y);
    const order = Int32Array.from(s.keys()).sort((a, b) => (s[b] - s[a]) || (a - b));
    this.scores = s;
    this.order = order;
  }

  /** Kept columns, best first. */
  selected(): Int32Array {
    needFitted(this);
    return this.order!.slice(0, Math.min(this.settings.k, this.order!.length));
  }

  /** Every input column ranked, best first, with its name and score. */
  ranking(names: readonly string[]): { name: string; column: number; score: number }[] {
    needFitted(this);
    return [...this.order!].map((c) => ({ name: names[c] ?? `#${c}`, column: c, score: this.scores![c] }));
  }

  transform(X: Matrix): Matrix {
    needFitted(this);
    needCols(this, X, this.scores!.length);
    return takeCols(X, this.selected());
  }

  outputNames(names: readonly string[]): string[] {
    return [...this.selected()].map((c) => names[c] ?? `#${c}`);
  }

  state(): unknown {
    return this.scores && { scores: [...this.scores].map((v) => (Number.isFinite(v) ? v : 'inf')), order: [...this.order!] };
  }

  restore(s: { scores: (number | 'inf')[]; order: number[] }): void {
    this.scores = Float64Array.from(s.scores.map((v) => (v === 'inf' ? Infinity : v)));
    this.order = Int32Array.from(s.order);
  }
}
