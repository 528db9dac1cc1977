/**
 * @module detect/threshold
 * Label-free thresholds: fitted on the scores of normal (validation) data only. The alarm rule is
 * `score > threshold`, as in `metrics.ts`.
 */

/** A fitted threshold, as saved in a model manifest. */
export interface Threshold {
  method: 'quantile';
  /** The quantile of normal scores (e.g. 0.99 for a 1 % false-alarm rate on that data). */
  q: number;
  value: number;
  /** How many normal scores it was fitted on. */
  fittedOn: number;
}

/**
 * The empirical q-quantile of normal scores, chosen so that at most a fraction (1 − q) of them lie strictly above
 * it: the ⌈q·n⌉-th smallest score (−∞ for q = 0, so that everything alarms).
 */
export function quantileValue(normalScores: ArrayLike<number>, q: number): number {
  if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile must be in [0, 1], got ${q}`);
  const n = normalScores.length;
  if (n === 0) throw new RangeError('a threshold needs at least one normal score');
  const sorted = Float64Array.from(normalScores).sort();
  if (Number.isNaN(sorted[n - 1])) throw new RangeError('normal scores contain NaN');
  const k = Math.ceil(q * n - 1e-9);
  return k <= 0 ? -Infinity : sorted[k - 1];
}

/** A threshold at quantile q of normal scores. */
export function fitQuantileThreshold(normalScores: ArrayLike<number>, q: number): Threshold {
  return { method: 'quantile', q, value: quantileValue(normalScores, q), fittedOn: normalScores.length };
}

/** A threshold that raises false alarms on at most a fraction `far` of the given normal scores. */
export function thresholdForFalseAlarmRate(normalScores: ArrayLike<number>, far: number): Threshold {
  if (!(far >= 0 && far <= 1)) throw new RangeError(`false-alarm rate must be in [0, 1], got ${far}`);
  return fitQuantileThreshold(normalScores, 1 - far);
}

export function isAlarm(score: number, t: Threshold): boolean {
  return score > t.value;
}

export function thresholdFromJSON(j: unknown): Threshold {
  const t = j as Threshold;
  if (t?.method !== 'quantile' || typeof t.q !== 'number' || typeof t.fittedOn !== 'number') {
    throw new Error('threshold JSON: expected { method: "quantile", q, value, fittedOn }');
  }
  // JSON has no −∞: JSON.stringify writes null
  const value = t.value === null ? -Infinity : t.value;
  if (typeof value !== 'number') throw new Error('threshold JSON: value must be a number');
  return { method: 'quantile', q: t.q, value, fittedOn: t.fittedOn };
}
