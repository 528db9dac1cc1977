/**
 * @module detect/live-thresholds
 * Thresholds for running sequences. The perplexity of a short prefix is much noisier than that of a whole sequence,
 * so each checkpoint length L (`minEvents`, 2·`minEvents`, 4·`minEvents`, …) gets its own threshold: the q-quantile
 * of the prefix perplexities exp(−mean ln P(e_t | e_<t), t ≤ L) of normal sequences at least L events long. A
 * checkpoint with fewer than `MIN_FIT` such sequences gets none (the sequence threshold applies there).
 */
import type { Sequence } from '../features/sequences/sequence.js';
import { inBatches } from '../models/language-model.js';
import type { LiveModel } from './live.js';
import { MAX_STORED_PREFIXES, type PrefixScores } from '../models/normal-scores.js';
import { quantileValue } from './threshold.js';

/** Fewest normal prefixes a checkpoint threshold is fitted on. */
export const MIN_FIT = 20;

export interface PrefixThresholds {
  method: 'prefix-quantile';
  q: number;
  minEvents: number;
  /** One per calibrated checkpoint length, ascending. */
  points: { length: number; value: number; fittedOn: number }[];
  /** Normal sequences they were fitted on. */
  sequences: number;
}

/** The calibrated threshold for prefix length `n`, if `n` is a calibrated checkpoint. */
export function prefixThresholdAt(p: PrefixThresholds, n: number): number | undefined {
  for (const pt of p.points) if (pt.length === n) return pt.value;
  return undefined;
}

/** The checkpoint lengths up to `maxLength`: minEvents · 2^k. */
export function checkpoints(minEvents: number, maxLength: number): number[] {
  const out: number[] = [];
  for (let l = minEvents; l <= maxLength; l *= 2) out.push(l);
  return out;
}

/** Prefix perplexities exp(−mean ln P, t ≤ L) of normal sequences at each length L of `lengths` (ascending). */
async function prefixPerplexities(model: LiveModel, normal: AsyncIterable<Sequence>, lengths: readonly number[]):
  Promise<{ sequences: number; values: number[][] }> {
  const values: number[][] = lengths.map(() => []);
  let sequences = 0;
  for await (const batch of inBatches(normal)) {
    const lps = await model.logProbsMany(batch);
    for (const lp of lps) {
      sequences++;
      const T = lp.length - 1; // events; the last value is the end token
      let sum = 0;
      let k = 0;
      for (let t = 0; t < T && k < lengths.length; t++) {
        sum += lp[t]!;
        if (t + 1 === lengths[k]) {
          values[k]!.push(Math.exp(-sum / (t + 1)));
          k++;
        }
      }
    }
  }
  return { sequences, values };
}

function checkQuantile(q: number, minEvents: number): void {
  if (!(q > 0 && q <= 1)) throw new RangeError(`prefix quantile must be in (0, 1], got ${q}`);
  if (!Number.isSafeInteger(minEvents) || minEvents < 1) throw new RangeError(`minEvents must be a positive integer, got ${minEvents}`);
}

/** Fits prefix thresholds on normal sequences (scored with `logProbsMany`, a batch at a time). */
export async function calibratePrefixThresholds(model: LiveModel, normal: AsyncIterable<Sequence>, q: number,
  minEvents: number, maxLength: number): Promise<PrefixThresholds> {
  checkQuantile(q, minEvents);
  const lengths = checkpoints(minEvents, maxLength);
  const { sequences, values } = await prefixPerplexities(model, normal, lengths);
  const points = lengths.flatMap((length, k) => values[k]!.length >= MIN_FIT
    ? [{ length, value: quantileValue(values[k]!, q), fittedOn: values[k]!.length }] : []);
  return { method: 'prefix-quantile', q, minEvents, points, sequences };
}

/** Scores normal sequences at lengths 1, 2, 4, … up to `maxLength` for a model folder. */
export async function storedPrefixScores(model: LiveModel, normal: AsyncIterable<Sequence>, maxLength: number,
  on: PrefixScores['on']): Promise<PrefixScores> {
  const lengths = checkpoints(1, maxLength);
  const { sequences, values } = await prefixPerplexities(model, normal, lengths);
  const points = lengths.flatMap((length, k) => {
    const all = Float64Array.from(values[k]!).sort();
    const n = all.length;
    if (n === 0) return [];
    const m = Math.min(n, MAX_STORED_PREFIXES);
    const kept = Array.from({ length: m }, (_, i) => all[m === 1 ? n - 1 : Math.round((i * (n - 1)) / (m - 1))]!);
    return [{ length, count: n, perplexities: kept }];
  });
  return { on, sequences, points };
}

/**
 * Prefix thresholds from stored scores for checkpoints minEvents · 2^k, or undefined when minEvents is no power of
 * two (its checkpoints were not stored). Equal to {@link calibratePrefixThresholds} on the same sequences as long as
 * no length kept more than {@link MAX_STORED_PREFIXES} of them.
 */
export function prefixThresholdsFromScores(s: PrefixScores, q: number, minEvents: number): PrefixThresholds | undefined {
  checkQuantile(q, minEvents);
  if ((minEvents & (minEvents - 1)) !== 0) return undefined;
  const points = s.points.filter((p) => p.length >= minEvents && p.count >= MIN_FIT)
    .map((p) => ({ length: p.length, value: storedQuantile(p.perplexities, p.count, q), fittedOn: p.count }));
  return { method: 'prefix-quantile', q, minEvents, points, sequences: s.sequences };
}

/** The q-quantile of `count` values from `kept`, their sorted evenly spaced order statistics (all of them when equal). */
function storedQuantile(kept: readonly number[], count: number, q: number): number {
  if (kept.length === count) return quantileValue(kept, q);
  const k = Math.ceil(q * count - 1e-9); // the k-th smallest of all, as quantileValue picks it
  if (k <= 0) return -Infinity;
  return kept[Math.round(((k - 1) * (kept.length - 1)) / (count - 1))]!;
}
