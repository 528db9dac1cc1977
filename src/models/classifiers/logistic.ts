/**
 * @module models/classifiers/logistic
 * Multinomial (softmax) logistic regression with L2 penalty, trained by L-BFGS on the full batch. Objective, as
 * scikit-learn's LogisticRegression(C): C · Σ_i cross-entropy_i + ½‖W‖² (the intercepts are not penalised).
 */
import { matrix, type Matrix } from '../../features/preprocess/matrix.js';
import { argmaxClasses, checkFitInput, checkPredictInput, encodeLabels, type Classifier } from './classifier.js';

export class LogisticRegression implements Classifier {
  readonly name = 'logistic';
  private W?: Float64Array; // [K, d + 1], last column = intercept
  private cls?: Int32Array;
  private cols?: number;
  /** Iterations the last fit ran and whether it met `tol`. */
  iterations = 0;
  converged = false;

  constructor(
    /** Inverse regularisation strength (> 0). */
    readonly C = 1,
    /** L-BFGS iterations at most. */
    readonly maxIter = 100,
    /** Stop when the largest gradient component (of the objective divided by n) falls below this. */
    readonly tol = 1e-4,
  ) {
    if (!(C > 0)) throw new RangeError(`logistic: C must be > 0, got ${C}`);
    if (!Number.isInteger(maxIter) || maxIter < 1) throw new RangeError('logistic: maxIter must be an integer ≥ 1');
  }

  fit(X: Matrix, y: Int32Array): void {
    checkFitInput(this.name, X, y);
    const { classes, codes } = encodeLabels(y);
    const K = classes.length, d = X.cols, n = X.rows, p = d + 1;
    this.cls = classes;
    this.cols = d;
    if (K === 1) { this.W = new Float64Array(p); return; }
    const Z = new Float64Array(n * K);
    // f(w) = (C Σ CE + ½‖W‖²) / n, gradient in g
    const evaluate = (w: Float64Array, g: Float64Array): number => {
      g.fill(0);
      let loss = 0;
      for (let i = 0; i < n; i++) {
        let mx = -Infinity;
        for (let k = 0; k < K; k++) {
          let z = w[k * p + d];
          for (let j = 0; j < d; j++) z += w[k * p + j] * X.data[i * d + j];
          Z[i * K + k] = z;
          if (z > mx) mx = z;
        }
        let s = 0;
        for (let k = 0; k < K; k++) s += Math.exp(Z[i * K + k] - mx);
        const lse = mx + Math.log(s);
        loss += lse - Z[i * K + codes[i]];
        for (let k = 0; k < K; k++) {
          const e = (Math.exp(Z[i * K + k] - lse) - (k === codes[i] ? 1 : 0)) * this.C;
          if (e === 0) continue;
          for (let j = 0; j < d; j++) g[k * p + j] += e * X.data[i * d + j];
          g[k * p + d] += e;
        }
      }
      let reg = 0;
      for (let k = 0; k < K; k++) for (let j = 0; j < d; j++) { reg += w[k * p + j] ** 2; g[k * p + j] += w[k * p + j]; }
      for (let i = 0; i < g.length; i++) g[i] /= n;
      return (this.C * loss + 0.5 * reg) / n;
    };
    const r = lbfgs(evaluate, new Float64Array(K * p), this.maxIter, this.tol, 10);
    this.W = r.x;
    this.iterations = r.iterations;
    this.converged = r.converged;
  }

  predictProba(X: Matrix): Matrix {
    checkPredictInput(this.name, X, this.cols);
    const K = this.cls!.length, d = X.cols, p = d + 1;
    const out = matrix(X.rows, K);
    if (K === 1) { out.data.fill(1); return out; }
    for (let i = 0; i < X.rows; i++) {
      let mx = -Infinity;
      for (let k = 0; k < K; k++) {
        let z = this.W![k * p + d];
        for (let j = 0; j < d; j++) z += this.W![k * p + j] * X.data[i * d + j];
        out.data[i * K + k] = z;
        if (z > mx) mx = z;
      }
      let s = 0;
      for (let k = 0; k < K; k++) s += (out.data[i * K + k] = Math.exp(out.data[i * K + k] - mx));
      for (let k = 0; k < K; k++) out.data[i * K + k] /= s;
    }
    return out;
  }

  predict(X: Matrix): Int32Array {
    return argmaxClasses(this.predictProba(X), this.cls!);
  }

  classes(): Int32Array {
    if (!this.cls) throw new Error('logistic: not fitted');
    return this.cls;
  }
}

/** Limited-memory BFGS with a backtracking (Armijo) line search. Minimises f; `fg(x, g)` returns f and fills g. */
export function lbfgs(
  fg: (x: Float64Array, g: Float64Array) => number, x0: Float64Array, maxIter: number, tol: number, memory: number,
): { x: Float64Array; f: number; iterations: number; converged: boolean } {
  const n = x0.length;
  let x = x0.slice();
  let g = new Float64Array(n);
  let f = fg(x, g);
  const S: Float64Array[] = [], Y: Float64Array[] = [], R: number[] = [];
  const dir = new Float64Array(n), alpha = new Float64Array(memory);
  const dot = (a: Float64Array, b: Float64Array) => { let s = 0; for (let i = 0; i < n; i++) s += a[i] * b[i]; return s; };
  const maxAbs = (a: Float64Array) => { let m = 0; for (let i = 0; i < n; i++) m = Math.max(m, Math.abs(a[i])); return m; };
  let it = 0;
  for (; it < maxIter; it++) {
    if (maxAbs(g) < tol) return { x, f, iterations: it, converged: true };
    // two-loop recursion: dir = −H g
    for (let i = 0; i < n; i++) dir[i] = -g[i];
    for (let k = S.length - 1; k >= 0; k--) {
      alpha[k] = R[k] * dot(S[k], dir);
      for (let i = 0; i < n; i++) dir[i] -= alpha[k] * Y[k][i];
    }
    if (S.length) {
      const last = S.length - 1;
      const gamma = dot(S[last], Y[last]) / dot(Y[last], Y[last]);
      for (let i = 0; i < n; i++) dir[i] *= gamma;
    } else {
      const s = 1 / Math.max(1, Math.sqrt(dot(g, g)));
      for (let i = 0; i < n; i++) dir[i] *= s;
    }
    for (let k = 0; k < S.length; k++) {
      const b = R[k] * dot(Y[k], dir);
      for (let i = 0; i < n; i++) dir[i] += S[k][i] * (alpha[k] - b);
    }
    let slope = dot(g, dir);
    if (slope >= 0) { // not a descent direction: reset memory, use steepest descent
      S.length = 0; Y.length = 0; R.length = 0;
      for (let i = 0; i < n; i++) dir[i] = -g[i];
      slope = -dot(g, g);
    }
    let step = 1;
    const xn = new Float64Array(n), gn = new Float64Array(n);
    let fn = 0;
    for (let ls = 0; ; ls++) {
      for (let i = 0; i < n; i++) xn[i] = x[i] + step * dir[i];
      fn = fg(xn, gn);
      if (fn <= f + 1e-4 * step * slope || ls >= 40) break;
      step *= 0.5;
    }
    if (!(fn <= f)) return { x, f, iterations: it, converged: false };
    const s = new Float64Array(n), yv = new Float64Array(n);
    for (let i = 0; i < n; i++) { s[i] = xn[i] - x[i]; yv[i] = gn[i] - g[i]; }
    const sy = dot(s, yv);
    if (sy > 1e-12) {
      S.push(s); Y.push(yv); R.push(1 / sy);
      if (S.length > memory) { S.shift(); Y.shift(); R.shift(); }
    }
    const fOld = f;
    x = xn; g = gn; f = fn;
    if (Math.abs(fOld - f) <= 1e-12 * Math.max(1, Math.abs(f))) return { x, f, iterations: it + 1, converged: maxAbs(g) < tol };
  }
  return { x, f, iterations: it, converged: maxAbs(g) < tol };
}
