/**
 * @module models/classifiers/classifier
 * The one interface every window classifier follows, the one-class (unlabelled) interface, and shared helpers.
 * Labels are any int32 class ids; `classes()` lists them in the order of `predictProba` columns.
 */
import type { Matrix } from '../../features/preprocess/matrix.js';

export interface Classifier {
  /** Short display name, e.g. 'svm-rbf', 'forest'. */
  readonly name: string;
  /** Trains on rows `X` with labels `y`. // X: [n, d], y: [n] */
  fit(X: Matrix, y: Int32Array): void;
  /** Predicted class id per row. // [n] */
  predict(X: Matrix): Int32Array;
  /** Class probabilities, columns in `classes()` order. // [n, classes] */
  predictProba?(X: Matrix): Matrix;
  /** Class ids seen in training, ascending. */
  classes(): Int32Array;
  /** Frees memory held outside the JS heap (libsvm); a no-op for the others. */
  dispose?(): void;
}

/** A model trained on normal rows only; `score` is higher for more anomalous rows. */
export interface OneClassModel {
  readonly name: string;
  fit(X: Matrix): void;
  /** // [n] */
  score(X: Matrix): Float64Array;
}

/** Sorted distinct classes of `y` and each row's position in that list. */
export function encodeLabels(y: Int32Array): { classes: Int32Array; codes: Int32Array } {
  const classes = Int32Array.from(new Set(y)).sort();
  const pos = new Map<number, number>();
  classes.forEach((c, i) => pos.set(c, i));
  const codes = new Int32Array(y.length);
  for (let i = 0; i < y.length; i++) codes[i] = pos.get(y[i])!;
  return { classes, codes };
}

export function checkFitInput(name: string, X: Matrix, y: Int32Array): void {
  if (X.rows === 0) throw new RangeError(`${name}: no training rows`);
  if (y.length !== X.rows) throw new RangeError(`${name}: ${X.rows} rows but ${y.length} labels`);
  for (let i = 0; i < X.data.length; i++) {
    if (!Number.isFinite(X.data[i])) throw new RangeError(`${name}: non-finite value at row ${Math.floor(i / X.cols)}, column ${i % X.cols}`);
  }
}

export function checkPredictInput(name: string, X: Matrix, cols: number | undefined): void {
  if (cols === undefined) throw new Error(`${name}: predict before fit`);
  if (X.cols !== cols) throw new RangeError(`${name}: trained on ${cols} columns, got ${X.cols}`);
}

/** Row-wise argmax of a probability matrix, mapped to class ids. */
export function argmaxClasses(P: Matrix, classes: Int32Array): Int32Array {
  const out = new Int32Array(P.rows);
  for (let r = 0; r < P.rows; r++) {
    let best = 0;
    for (let c = 1; c < P.cols; c++) if (P.data[r * P.cols + c] > P.data[r * P.cols + best]) best = c;
    out[r] = classes[best];
  }
  return out;
}

/**
 * The alert threshold for a one-class model: the `quantile` (e.g. 0.99) of anomaly scores on normal validation rows,
 * so that about 1 − quantile of normal rows raise an alert. Linear interpolation between order statistics.
 */
export function scoreThreshold(normalScores: ArrayLike<number>, quantile: number): number {
  if (!(quantile >= 0 && quantile <= 1)) throw new RangeError(`quantile must be in [0, 1], got ${quantile}`);
  if (normalScores.length === 0) throw new RangeError('scoreThreshold: no scores');
  const s = Float64Array.from(normalScores).sort();
  const pos = quantile * (s.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(s.length - 1, lo + 1);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}
