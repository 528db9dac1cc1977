/**
 * @module detect/ensemble
 * Ensembles of sequence scorers: each member's perplexities are put on a common scale with statistics of that
 * member's scores on NORMAL validation sequences (stored in its model folder at train time), then averaged.
 *
 * - `z`: (ln perplexity − mean) / std, mean and std of ln perplexity over the normal validation sequences (std at
 *   least `MIN_SPREAD`).
 * - `rank`: the empirical CDF of ln perplexity over the normal validation sequences (mid-rank for ties), in [0, 1]:
 *   0.99 means "above 99 % of normal validation sequences". Robust to heavy tails. Beyond the stored normal scores
 *   it does not saturate: above the largest (of n) it is 1 − (0.5 / n) · exp(−(x − max) / std), below the smallest
 *   (0.5 / n) · exp(−(min − x) / std) — continuous with the mid-ranks at the ends and still increasing, so sequences
 *   stranger than every normal one keep their order (a saturated rank cost all detection at 1 % false alarms on
 *   ADFA-LD, where that many normal validation traces lie beyond the held-out ones).
 *
 * The label-free threshold of an ensemble is the q-quantile of the ensemble's own scores on the normal validation
 * sequences when every member scored the same ones (the stored scores are kept in data order with a fingerprint of
 * the sequence ids, so they can be paired); otherwise the mean of the members' own thresholds on the common scale
 * (an approximation, said so in its name). Higher = more anomalous everywhere, alarms are `score > threshold`.
 */
import type { NormalScoreStats } from '../models/normal-scores.js';
import { quantileValue } from './threshold.js';

export type { NormalScoreStats } from '../models/normal-scores.js';

export type Combine = 'z' | 'rank';
export const COMBINES: readonly Combine[] = ['z', 'rank'];

/**
 * The least spread a member's z normalisation divides by, in nats per token: a member whose normal validation scores
 * are (nearly) all equal — an n-gram that predicts every normal request exactly, σ ~ 1e-15 — would otherwise turn
 * any departure, however small, into a score that drowns the other members. On the web-server demo the floor moves
 * the offline figures little (ensemble mean F1 0.905 → 0.904) and is what lets the ensemble see the live CPU phase
 * its LSTM member sees (`experiments/web-novelty/LIVE-ensemble.md`).
 */
export const MIN_SPREAD = 0.05;

/** The spread a member's scores are divided by: its σ of ln perplexity on normal validation, at least {@link MIN_SPREAD}. */
export function spreadOf(stats: NormalScoreStats): number {
  return Math.max(stats.std, MIN_SPREAD);
}

/**
 * Each member's weight in a z ensemble's per-token view, 1 / (σ_m · M): Σ_m weight_m · ln PPL_m is the z ensemble
 * score plus Σ_m weight_m · μ_m (`detect/ensemble-stream.ts` scores with it, `explain` splits a verdict with it).
 */
export function memberWeights(stats: readonly NormalScoreStats[]): number[] {
  return stats.map((s) => 1 / (spreadOf(s) * stats.length));
}

/** Puts one model's perplexities on the common scale. */
export class Normaliser {
  private readonly sorted: Float64Array;

  constructor(readonly stats: NormalScoreStats, readonly combine: Combine) {
    this.sorted = Float64Array.from(stats.scores).sort();
  }

  /** The normalised score of a perplexity. */
  of(perplexity: number): number {
    const x = Math.log(perplexity);
    if (this.combine === 'z') return (x - this.stats.mean) / spreadOf(this.stats);
    if (Number.isNaN(x)) return Number.NaN;
    const s = this.sorted;
    let lo = 0;
    let hi = s.length;
    while (lo < hi) {
      const m = (lo + hi) >>> 1;
      if (s[m] < x) lo = m + 1;
      else hi = m;
    }
    const below = lo;
    hi = s.length;
    while (lo < hi) {
      const m = (lo + hi) >>> 1;
      if (s[m] <= x) lo = m + 1;
      else hi = m;
    }
    const n = s.length;
    const scale = spreadOf(this.stats);
    if (below === n) return x === Infinity ? 1 : 1 - (0.5 / n) * Math.exp(-(x - s[n - 1]) / scale);
    if (lo === 0) return (0.5 / n) * Math.exp(-(s[0] - x) / scale);
    return (below + (lo - below) / 2) / n;
  }
}

/**
 * The ensemble score of each sequence: the mean of the members' normalised scores (`perplexities[m][i]`: member
 * m's perplexity of sequence i).
 */
export function combineScores(normalisers: readonly Normaliser[], perplexities: readonly ArrayLike<number>[]): Float64Array {
  if (normalisers.length === 0 || normalisers.length !== perplexities.length) {
    throw new RangeError(`${normalisers.length} normalisers for ${perplexities.length} members`);
  }
  const n = perplexities[0].length;
  for (const p of perplexities) if (p.length !== n) throw new RangeError('every member must score the same sequences');
  const out = new Float64Array(n);
  for (let m = 0; m < normalisers.length; m++) {
    const p = perplexities[m];
    for (let i = 0; i < n; i++) out[i] += normalisers[m].of(p[i]);
  }
  for (let i = 0; i < n; i++) out[i] /= normalisers.length;
  return out;
}

export interface EnsembleThreshold {
  name: string;
  value: number;
  /** Whether it was fitted on the members' paired validation scores (false: the approximation). */
  paired: boolean;
}

/**
 * The ensemble's own scores on the normal validation sequences, when every member stored scores of the same ones (same
 * id fingerprint and count); undefined otherwise.
 */
export function pairedScores(normalisers: readonly Normaliser[]): Float64Array | undefined {
  const first = normalisers[0].stats;
  if (!normalisers.every((n) => n.stats.ids === first.ids && n.stats.scores.length === first.scores.length)) return undefined;
  return combineScores(normalisers, normalisers.map((n) => n.stats.scores.map((x) => Math.exp(x))));
}

/**
 * The ensemble's label-free threshold: the q-quantile of its scores on the normal validation sequences when all
 * members stored scores of the same sequences, else the mean of the members' thresholds (perplexities) normalised.
 */
export function ensembleThreshold(normalisers: readonly Normaliser[], q: number, memberThresholds: readonly number[]): EnsembleThreshold {
  const first = normalisers[0].stats;
  const scores = pairedScores(normalisers);
  if (scores) {
    return {
      name: `quantile ${q} of the ensemble's scores on ${first.scores.length} normal ${first.on} sequences`,
      value: quantileValue(scores, q), paired: true,
    };
  }
  let s = 0;
  normalisers.forEach((n, i) => { s += n.of(memberThresholds[i]); });
  return { name: "mean of the members' own thresholds (members validated on different sequences: approximate)", value: s / normalisers.length, paired: false };
}
