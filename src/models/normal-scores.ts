/**
 * @module models/normal-scores
 * What a model folder stores about its model's scores on NORMAL validation sequences (or the training sequences held
 * out for the threshold), so that models can be combined later (`detect/ensemble.ts`) without the validation data:
 * mean and standard deviation of ln perplexity, and the ln perplexities themselves in data order (every k-th beyond
 * `MAX_STORED_SCORES`) with a fingerprint of the sequence ids, so that members scored on the same sequences can be
 * paired; and, for models that score incrementally, the prefix perplexities of the same sequences per length (what
 * `watch`'s per-length thresholds are quantiles of).
 */

/** At most this many normal validation scores are stored per model (every k-th sequence in data order beyond it). */
export const MAX_STORED_SCORES = 2000;

/** A model's scores on normal validation sequences, as stored in its manifest. */
export interface NormalScoreStats {
  /** The score these are statistics of. */
  score: 'log-perplexity';
  /** Where the normal sequences came from (`--valid` data, or training sequences held out). */
  on: 'validation' | 'held-out';
  /** Normal sequences scored (all of them; `scores` may hold a subsample). */
  count: number;
  /** Mean and (population) standard deviation of ln perplexity over all `count` sequences (finite ones). */
  mean: number;
  std: number;
  /** ln perplexity of every `stride`-th normal sequence, in data order (at most MAX_STORED_SCORES). */
  scores: number[];
  stride: number;
  /** FNV-1a fingerprint of the ids of the sequences in `scores`, in order: equal fingerprints = the same sequences. */
  ids: string;
}

/** FNV-1a (32 bit) over strings, hex. */
export function fingerprintIds(ids: readonly string[]): string {
  let h = 0x811c9dc5;
  for (const id of ids) {
    for (let i = 0; i < id.length; i++) {
      h ^= id.charCodeAt(i);
      h = Math.imul(h, 0x01000193) >>> 0;
    }
    h ^= 0x1f;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return `${ids.length}:${h.toString(16).padStart(8, '0')}`;
}

/** Statistics of normal validation perplexities (`ids[i]` is the id of the sequence with perplexity `ppl[i]`). */
export function normalStats(ids: readonly string[], ppl: ArrayLike<number>, on: NormalScoreStats['on'],
  cap: number = MAX_STORED_SCORES): NormalScoreStats {
  if (ids.length !== ppl.length) throw new RangeError(`${ids.length} ids but ${ppl.length} perplexities`);
  if (ppl.length === 0) throw new RangeError('normal score statistics need at least one sequence');
  let n = 0;
  let sum = 0;
  let sq = 0;
  for (let i = 0; i < ppl.length; i++) {
    const x = Math.log(ppl[i]);
    if (!Number.isFinite(x)) continue;
    n++;
    sum += x;
    sq += x * x;
  }
  const mean = n > 0 ? sum / n : 0;
  const std = n > 0 ? Math.sqrt(Math.max(0, sq / n - mean * mean)) : 0;
  const stride = Math.max(1, Math.ceil(ppl.length / cap));
  const scores: number[] = [];
  const kept: string[] = [];
  for (let i = 0; i < ppl.length; i += stride) {
    scores.push(Math.log(ppl[i]));
    kept.push(ids[i]);
  }
  return { score: 'log-perplexity', on, count: ppl.length, mean, std, scores, stride, ids: fingerprintIds(kept) };
}

/** Checks a stats object read from JSON; returns a reason when it is malformed. */
export function checkNormalStats(s: unknown): string | undefined {
  const o = s as Partial<NormalScoreStats> | null;
  if (o === null || typeof o !== 'object') return 'not an object';
  if (o.score !== 'log-perplexity') return `score must be "log-perplexity", got ${JSON.stringify(o.score)}`;
  if (o.on !== 'validation' && o.on !== 'held-out') return `on must be "validation" or "held-out"`;
  for (const k of ['count', 'mean', 'std', 'stride'] as const) if (typeof o[k] !== 'number') return `${k} is not a number`;
  if (!(o.std! >= 0)) return 'std is negative';
  if (!Array.isArray(o.scores) || o.scores.length === 0) return 'scores is not a non-empty array';
  // JSON writes ±∞ as null: the reader turns null into +∞ (a normal sequence the model found impossible)
  if (o.scores.some((x: unknown) => x !== null && typeof x !== 'number')) return 'scores holds a non-number';
  if (typeof o.ids !== 'string') return 'ids is not a string';
  return undefined;
}

/** Most prefix perplexities a model folder keeps per length (every k-th sequence in data order beyond it). */
export const MAX_STORED_PREFIXES = 1000;

/**
 * What `train` stores in a model folder so that `watch` and `serve` need no normal data to set prefix thresholds
 * (`detect/live-thresholds.ts`): the prefix perplexities of the normal validation (or held-out) sequences at every
 * power-of-two length, in data order — of every `stride`-th sequence at least that long, at most
 * {@link MAX_STORED_PREFIXES} — with a fingerprint of their ids, so that the members of an ensemble trained on the
 * same normal data can be paired per sequence (`detect/ensemble-stream.ts`).
 */
export interface PrefixScores {
  on: 'validation' | 'held-out';
  sequences: number;
  points: { length: number; count: number; stride: number; perplexities: number[]; ids: string }[];
}

/** Checks stored prefix scores read from JSON (where +∞ is written null); returns a reason when malformed. */
export function checkPrefixScores(s: unknown): string | undefined {
  const o = s as Partial<PrefixScores> | null;
  if (o === null || typeof o !== 'object') return 'not an object';
  if (o.on !== 'validation' && o.on !== 'held-out') return 'on must be "validation" or "held-out"';
  if (typeof o.sequences !== 'number') return 'sequences is not a number';
  if (!Array.isArray(o.points)) return 'points is not an array';
  for (const p of o.points as unknown[]) {
    const x = p as Partial<PrefixScores['points'][number]> | null;
    if (x === null || typeof x !== 'object' || !Number.isSafeInteger(x.length) || !Number.isSafeInteger(x.count) || !Number.isSafeInteger(x.stride)) {
      return 'a point lacks its length, count or stride';
    }
    if (typeof x.ids !== 'string') return `the point at length ${x.length} has no ids fingerprint`;
    if (!Array.isArray(x.perplexities) || x.perplexities.length === 0 || x.perplexities.some((v: unknown) => v !== null && typeof v !== 'number')) {
      return `the point at length ${x.length} has no list of numbers`;
    }
  }
  return undefined;
}
