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
import { fingerprintIds, MAX_STORED_PREFIXES, type PrefixScores } from '../models/normal-scores.js';
import { quantileValue } from './threshold.js';
import { NormalReference } from './p-value.js';

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
  /**
   * The p-value of a prefix perplexity at a checkpoint length against the normal prefixes of that length the threshold
   * was fitted on (`detect/p-value.ts`); undefined at lengths without a fitted threshold.
   */
  pValueAt?: (length: number, perplexity: number) => number | undefined;
}

/** p-values per checkpoint length from the normal prefix perplexities each threshold was fitted on. */
function pValuesOf(fitted: readonly { length: number; perplexities: readonly number[] }[]): PrefixThresholds['pValueAt'] {
  const refs = new Map(fitted.map((f) => [f.length, new NormalReference(f.perplexities.map(Math.log), `${f.perplexities.length} normal prefixes`)]));
  return (length, perplexity) => refs.get(length)?.pValueOfPerplexity(perplexity);
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

/**
 * Prefix perplexities exp(−mean ln P, t ≤ L) of normal sequences at each length L of `lengths` (ascending), gathered
 * from their log-probabilities as a scoring pass produces them (`add`), so that the pass that scores whole sequences
 * (`train`'s threshold) need not be run again for the prefixes.
 */
export class PrefixCollector {
  readonly values: number[][];
  readonly ids: string[][];
  sequences = 0;

  constructor(readonly lengths: readonly number[]) {
    this.values = lengths.map(() => []);
    this.ids = lengths.map(() => []);
  }

  /** One sequence's `[T + 1]` log-probabilities (the last one the end token's). */
  readonly add = (seq: Sequence, lp: Float64Array): void => {
    this.sequences++;
    const T = lp.length - 1;
    let sum = 0;
    let k = 0;
    for (let t = 0; t < T && k < this.lengths.length; t++) {
      sum += lp[t]!;
      if (t + 1 === this.lengths[k]) {
        this.values[k]!.push(Math.exp(-sum / (t + 1)));
        this.ids[k]!.push(seq.id);
        k++;
      }
    }
  };

  /** What a model folder stores (`PrefixScores`): every stride-th value per length beyond `MAX_STORED_PREFIXES`. */
  stored(on: PrefixScores['on']): PrefixScores {
    const points = this.lengths.flatMap((length, k) => {
      const all = this.values[k]!;
      if (all.length === 0) return [];
      const stride = Math.max(1, Math.ceil(all.length / MAX_STORED_PREFIXES));
      const kept = all.filter((_, i) => i % stride === 0);
      return [{ length, count: all.length, stride, perplexities: kept, ids: fingerprintIds(this.ids[k]!.filter((_, i) => i % stride === 0)) }];
    });
    return { on, sequences: this.sequences, points };
  }
}

/** The lengths a model folder stores prefix scores at: 1, 2, 4, … up to `maxLength`. */
export function storedLengths(maxLength: number): number[] {
  return checkpoints(1, maxLength);
}

/** Scores `normal` with `model` into a collector over `lengths`. */
async function collectPrefixes(model: LiveModel, normal: AsyncIterable<Sequence>, lengths: readonly number[]): Promise<PrefixCollector> {
  const c = new PrefixCollector(lengths);
  for await (const batch of inBatches(normal)) {
    const lps = await model.logProbsMany(batch);
    lps.forEach((lp, j) => c.add(batch[j]!, lp));
  }
  return c;
}

function checkQuantile(q: number, minEvents: number): void {
  if (!(q > 0 && q <= 1)) throw new RangeError(`prefix quantile must be in (0, 1], got ${q}`);
  if (!Number.isSafeInteger(minEvents) || minEvents < 1) throw new RangeError(`minEvents must be a positive integer, got ${minEvents}`);
}

/**
 * Prefix thresholds from normal prefix perplexities gathered at checkpoint lengths (`values[k]` at `lengths[k]`) of
 * `sequences` normal sequences: the q-quantile at each length with at least {@link MIN_FIT} of them.
 */
export function prefixThresholdsOf(lengths: readonly number[], values: readonly (readonly number[])[], q: number,
  minEvents: number, sequences: number): PrefixThresholds {
  checkQuantile(q, minEvents);
  const fitted = lengths.flatMap((length, k) => (values[k]!.length >= MIN_FIT ? [{ length, perplexities: values[k]! }] : []));
  const points = fitted.map((f) => ({ length: f.length, value: quantileValue(f.perplexities, q), fittedOn: f.perplexities.length }));
  return { method: 'prefix-quantile', q, minEvents, points, sequences, pValueAt: pValuesOf(fitted) };
}

/** Fits prefix thresholds on normal sequences (scored with `logProbsMany`, a batch at a time). */
export async function calibratePrefixThresholds(model: LiveModel, normal: AsyncIterable<Sequence>, q: number,
  minEvents: number, maxLength: number): Promise<PrefixThresholds> {
  checkQuantile(q, minEvents);
  const lengths = checkpoints(minEvents, maxLength);
  const { sequences, values } = await collectPrefixes(model, normal, lengths);
  return prefixThresholdsOf(lengths, values, q, minEvents, sequences);
}

/** Scores normal sequences at lengths 1, 2, 4, … up to `maxLength` for a model folder (see {@link PrefixCollector}). */
export async function storedPrefixScores(model: LiveModel, normal: AsyncIterable<Sequence>, maxLength: number,
  on: PrefixScores['on']): Promise<PrefixScores> {
  return (await collectPrefixes(model, normal, storedLengths(maxLength))).stored(on);
}

/**
 * Prefix thresholds from stored scores for checkpoints minEvents · 2^k, or undefined when minEvents is no power of
 * two (its checkpoints were not stored). Equal to {@link calibratePrefixThresholds} on the same sequences as long as
 * no length had more than {@link MAX_STORED_PREFIXES} of them (beyond, the quantile of every stride-th one).
 */
export function prefixThresholdsFromScores(s: PrefixScores, q: number, minEvents: number): PrefixThresholds | undefined {
  checkQuantile(q, minEvents);
  if ((minEvents & (minEvents - 1)) !== 0) return undefined;
  const used = s.points.filter((p) => p.length >= minEvents && p.count >= MIN_FIT);
  const points = used.map((p) => ({ length: p.length, value: quantileValue(p.perplexities, q), fittedOn: p.count }));
  return { method: 'prefix-quantile', q, minEvents, points, sequences: s.sequences, pValueAt: pValuesOf(used) };
}
