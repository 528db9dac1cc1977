/**
 * @module detect/live-thresholds
 * Thresholds for running sequences. The perplexity of a short prefix is much noisier than that of a whole sequence,
 * so each checkpoint length L (`minEvents`, 2·`minEvents`, 4·`minEvents`, …) gets its own threshold: the q-quantile
 * of the prefix perplexities exp(−mean ln P(e_t | e_<t), t ≤ L) of normal sequences at least L events long. A
 * checkpoint with fewer than `MIN_FIT` such sequences gets none (the sequence threshold applies there).
 */
import type { Sequence } from '../features/sequences/sequence.js';
import { inBatches, type LanguageModel } from '../models/language-model.js';
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

/** Fits prefix thresholds on normal sequences (scored with `logProbsMany`, a batch at a time). */
export async function calibratePrefixThresholds(model: LanguageModel, normal: AsyncIterable<Sequence>, q: number,
  minEvents: number, maxLength: number): Promise<PrefixThresholds> {
  if (!(q > 0 && q <= 1)) throw new RangeError(`prefix quantile must be in (0, 1], got ${q}`);
  if (!Number.isSafeInteger(minEvents) || minEvents < 1) throw new RangeError(`minEvents must be a positive integer, got ${minEvents}`);
  const lengths = checkpoints(minEvents, maxLength);
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
  const points = lengths.flatMap((length, k) => values[k]!.length >= MIN_FIT
    ? [{ length, value: quantileValue(values[k]!, q), fittedOn: values[k]!.length }] : []);
  return { method: 'prefix-quantile', q, minEvents, points, sequences };
}
