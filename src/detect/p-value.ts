/**
 * @module detect/p-value
 * How sure a verdict is: the conformal p-value of a sequence's score against the scores of the normal validation
 * sequences a model stored at train time (`manifest.normalScores`), (1 + #{normal scores ≥ it}) / (n + 1). If the
 * sequence behaves like those normal ones (is exchangeable with them), P(p ≤ α) ≤ α for every α: p = 0.004 says that
 * at most 0.4 % of normal sequences score this high. With n normal scores it cannot go below 1 / (n + 1) — "stranger
 * than every one of them". The reference is the stored sample (every k-th sequence beyond 2,000), not re-scored.
 * An ensemble's reference is its own scores on its members' paired validation sequences (`pairedScores`).
 */
import type { NormalScoreStats } from '../models/normal-scores.js';

/** p-values of a model's perplexities (one model's, or an ensemble's exp(score + C)), and how to say them; plain
 * functions (no `this`), so they can be handed on as they are. */
export interface PerplexityReference {
  pValue(perplexity: number): number;
  describe(p: number): string;
}

export class NormalReference {
  private readonly sorted: Float64Array;

  /** `scores`: the normal sequences' scores (NaN ones are left out); `what`: what they are, for people. */
  constructor(scores: ArrayLike<number>, readonly what: string) {
    this.sorted = Float64Array.from(Array.from(scores).filter((x) => !Number.isNaN(x))).sort();
    if (this.sorted.length === 0) throw new RangeError('a normal reference needs at least one score');
  }

  /** The reference of one model: its stored ln perplexities (query with ln perplexity: `pValueOfPerplexity`). */
  static ofModel(stats: NormalScoreStats): NormalReference {
    return new NormalReference(stats.scores, `${stats.scores.length} normal ${stats.on} sequences`);
  }

  get size(): number {
    return this.sorted.length;
  }

  /**
   * The p-value of a score on the reference's scale (higher = more anomalous); 1 for NaN. A normal score within
   * 1e-9 (relative) of it counts as a tie: the same sequence scored by a running sum (`watch`) and in one piece
   * (`score`) differs in the last bits, and a rank ensemble's scores tie often.
   */
  pValue(score: number): number {
    if (Number.isNaN(score)) return 1;
    const s = this.sorted;
    const below = Number.isFinite(score) ? score - 1e-9 * Math.max(1, Math.abs(score)) : score;
    let lo = 0;
    let hi = s.length;
    while (lo < hi) {
      const m = (lo + hi) >>> 1;
      if (s[m]! < below) lo = m + 1;
      else hi = m;
    }
    return (1 + s.length - lo) / (s.length + 1);
  }

  /** The p-value of a perplexity, for a reference of ln perplexities (`ofModel`). */
  pValueOfPerplexity(perplexity: number): number {
    return this.pValue(Math.log(perplexity));
  }

  /** p-values of perplexities mapped onto this reference's scale (default ln, as `ofModel`'s). */
  forPerplexity(toScore: (perplexity: number) => number = Math.log): PerplexityReference {
    return { pValue: (p) => this.pValue(toScore(p)), describe: (p) => this.describe(p) };
  }

  /** One phrase for people: `p = 0.0032 (above all 315 normal held-out sequences)`. */
  describe(p: number): string {
    const n = this.sorted.length;
    const above = Math.round((1 - p) * (n + 1)); // normal scores strictly below
    const share = above >= n ? `above all ${n}` : `above ${above} of ${n}`;
    return `p = ${p.toPrecision(2)} (${share} ${this.what.replace(/^\d+ /, '')})`;
  }
}
