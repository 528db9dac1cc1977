/**
 * @module models/timing
 * The timing model (`train --model timing`): where a sequence's time goes, as a whole. Three features per sequence,
 * each ln(1 + µs):
 *
 * - `gap`: time outside system calls (from the first event's start to the last one's end, less the time inside calls);
 * - `span`: that whole time;
 * - `wait`: time inside calls (the sum of their latencies).
 *
 * Fitted on normal sequences: each feature's mean μ and standard deviation σ (at least `MIN_SPREAD`). A sequence's
 * surprise is S = ½ Σ z², z = (x − μ) / σ: the negative log-density of a diagonal Gaussian, less its constant.
 *
 * Per shape (`--shape-min n`, default 20): sequences that make different calls take different times — on the web
 * server a connection's first request carries the TLS handshake and waits ~350 ms for the client, the others ~2 ms —
 * and one Gaussian over both calls every first request novel (S ≈ 49 against ≈ 0.3), which puts the label-free
 * threshold (a quantile of normal validation) up there, above what a CPU hog does to a request. So each *shape*
 * (which calls, how many times each: `shapeKey`) made by at least n training sequences gets a Gaussian of its own; a
 * sequence of any other shape is measured against the pooled one (fitted on all); `--shape-min 0`: the pooled one
 * only. On the full web-server recording the label-free F1 rises (connection 0.02 → 0.20, cpu 0.02 → 0.20) and the
 * AUC a little; live, the share of requests alerted rises under a CPU hog (10 → 48 %, where one Gaussian stayed at
 * 1.5–1.7 %). The price: with best-F1 thresholds from labelled validation one Gaussian does a little better (on the
 * committed sample connection 0.91 against 0.87), because the pooled spreads, widened by the two shapes, weigh the
 * time between calls (what tells starvation from normal there) above the times in calls. The demo uses
 * `--shape-min 0`. Why a
 * separate kind: the language models average the surprise of every event, and on the web-server recording the
 * requests served beside a CPU hog or by a 25-worker pool differ only in where their time goes (time between calls
 * shrinks from a median 1.6 ms to 0.3–0.45 ms, MariaDB waits grow from 8 µs to ~1 ms) — three events of ~43 carry
 * it, so the mean dilutes it; one score per request does not. It sees nothing of which calls are made: it is meant as an
 * ensemble member beside a language model (`--model lm/ --model timing/`).
 *
 * As a `LanguageModel`: a sequence's timing is known when it ends, so every event's log-probability is 0 and the end
 * (or truncate) token carries −S · (T + 1), T events: its perplexity exp(mean surprise per token) is exp(S), whatever
 * the length. Its explanation has one field per feature (each one's ½ z², on the end token), its incremental scorer
 * keeps three running sums per open sequence. Requires latencies: paired events (`--raw` data has none).
 *
 * Updates (`syscall-anomaly update`): the folder keeps the moments (count, mean, m2) of the pooled Gaussian and of every
 * shape tracked, so more normal data is added where fitting stopped, as fitting on both at once would (`updated`).
 *
 * `--history k` (default 1): each request is scored with its connection's last k requests (the median of their
 * perplexities, `detect/history.ts`) wherever whole sequences are scored — the label-free threshold and the
 * stored normal scores included. On the web-server recording, with a Gaussian per shape and k = 5, connection F1
 * goes from 0.87 to 0.96, and its label-free F1 from 0.35 to 0.96.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Sequence } from '../../features/sequences/sequence.js';
import { Tokenizer } from '../../features/tokens/tokenizer.js';
import { N_SPECIAL } from '../../features/tokens/vocabulary.js';
import type { SyscallEvent } from '../../trace/event.js';
import type { LanguageModel, ModelKind, ModelSettings, SavedModel, SequenceFact, SettingValue, TrainingData } from '../language-model.js';
import { WholeSequenceScorer, wholeSequenceLogProbs, type IncrementalScorer } from '../stream.js';
import { arrayReader, decodeTensors, encodeTensors, type TensorArray } from '../tensor-file.js';

/** The features, in the order of the saved arrays. */
export const TIMING_FEATURES = ['gap', 'span', 'wait'] as const;
const FEATURE_WHAT: Record<(typeof TIMING_FEATURES)[number], string> = {
  gap: 'time between calls', span: 'time from first call to last return', wait: 'time inside calls',
};
/** The least σ a feature's z divides by (ln µs): a feature nearly constant on normal data would make any departure huge. */
export const MIN_SPREAD = 0.1;
/** `--shape-min` default: a shape needs this many training sequences for a Gaussian of its own (see the module header). */
export const DEFAULT_SHAPE_MIN = 20;
/**
 * At most this many distinct shapes are counted while fitting (memory stays bounded where nearly every sequence is a
 * shape of its own, e.g. whole threads); shapes first seen after that are fitted into the pooled Gaussian only.
 */
export const MAX_SHAPES_TRACKED = 50_000;
const TIMING_FILE = 'timing.bin';
const NO_DURATIONS = 'timing: no training event has a duration (the data records none: ADFA-LD traces, or entries without their exits)';

/** Which calls a sequence makes and how often each, as one key: `name×count` sorted by name, space-separated. */
export function shapeKey(calls: ReadonlyMap<string, number>): string {
  return [...calls].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([n, c]) => `${n}×${c}`).join(' ');
}

/**
 * Running sums of one sequence: its earliest start and latest end (ns, relative to its first event's start: events of
 * a linked worker may come slightly out of order), time inside calls (ns), and how often it made each call.
 */
class Span {
  first: bigint | undefined;
  start = 0;
  end = 0;
  inside = 0;
  readonly calls = new Map<string, number>();

  add(ev: SyscallEvent): void {
    const lat = ev.latency ?? 0;
    if (this.first === undefined) this.first = ev.ts;
    const s = Number(ev.ts - this.first);
    if (s < this.start) this.start = s;
    if (s + lat > this.end) this.end = s + lat;
    this.inside += lat;
    this.calls.set(ev.name, (this.calls.get(ev.name) ?? 0) + 1);
  }

  /** The features: ln(1 + µs) of gap, span, wait (the gap is 0 where calls of several threads overlap). */
  features(): [number, number, number] {
    const us = (ns: number) => Math.log1p(Math.max(0, ns) / 1000);
    const span = this.end - this.start;
    return [us(span - this.inside), us(span), us(this.inside)];
  }

  static of(seq: Sequence): Span {
    const s = new Span();
    for (const ev of seq.events) s.add(ev);
    return s;
  }
}

/**
 * A diagonal Gaussian over the features: mean and σ (floored at `MIN_SPREAD`) per feature, from `count` sequences
 * (∞: unknown, a file written before shapes).
 */
export interface TimingGaussian {
  mean: Float64Array;
  std: Float64Array;
  count: number;
}

/** A shape's Gaussian, with the shape: how often its sequences make each call. */
export interface ShapeGaussian extends TimingGaussian {
  calls: ReadonlyMap<string, number>;
}

/**
 * Welford's running mean and spread of the features: the count, the mean and the sum of squared deviations (m2). A
 * saved model keeps them, so that an update (`updated`) goes on adding exactly where fitting stopped.
 */
class FeatureMoments {
  constructor(
    readonly mean = new Float64Array(TIMING_FEATURES.length),
    readonly m2 = new Float64Array(TIMING_FEATURES.length),
    public count = 0,
  ) {}

  copy(): FeatureMoments {
    return new FeatureMoments(this.mean.slice(), this.m2.slice(), this.count);
  }

  add(x: readonly number[]): void {
    this.count++;
    x.forEach((v, j) => {
      const d = v - this.mean[j]!;
      this.mean[j]! += d / this.count;
      this.m2[j]! += d * (v - this.mean[j]!);
    });
  }

  gaussian(): TimingGaussian {
    return { mean: this.mean.slice(), std: Float64Array.from(this.m2, (v) => Math.max(Math.sqrt(v / this.count), MIN_SPREAD)), count: this.count };
  }
}

/** What fitting learned, before it becomes Gaussians: the pooled moments and those of every shape tracked. */
interface TimingMoments {
  pooled: FeatureMoments;
  shapes: Map<string, { m: FeatureMoments; calls: ReadonlyMap<string, number> }>;
}

/**
 * Adds a pass over `seqs` to `moments` (pooled, and per shape unless `shapeMin` is 0; at most `MAX_SHAPES_TRACKED`
 * shapes, the first seen); returns how many events carried a duration.
 */
async function accumulate(seqs: AsyncIterable<Sequence>, moments: TimingMoments, shapeMin: number): Promise<number> {
  let timed = 0;
  for await (const seq of seqs) {
    if (seq.events.length === 0) continue;
    const span = Span.of(seq);
    for (const ev of seq.events) if (ev.latency !== undefined) timed++;
    const x = span.features();
    moments.pooled.add(x);
    if (shapeMin === 0) continue;
    const key = shapeKey(span.calls);
    let shape = moments.shapes.get(key);
    if (!shape && moments.shapes.size < MAX_SHAPES_TRACKED) moments.shapes.set(key, (shape = { m: new FeatureMoments(), calls: span.calls }));
    shape?.m.add(x);
  }
  return timed;
}

/** The model of `moments`: the pooled Gaussian and one per shape made by at least `shapeMin` sequences. */
function modelOf(tokenizer: Tokenizer, moments: TimingMoments, settings: ModelSettings): TimingModel {
  const shapeMin = shapeMinOf(settings);
  const shapes = new Map([...moments.shapes].filter(([, { m }]) => m.count >= shapeMin).map(([k, { m, calls }]) => [k, { ...m.gaussian(), calls }] as const));
  return new TimingModel(tokenizer, moments.pooled.gaussian(), shapes, settings, moments);
}

const shapeMinOf = (settings: ModelSettings): number => Number(settings['shapeMin'] ?? DEFAULT_SHAPE_MIN);

/** The Gaussian a sequence is measured against, and the words that say which it is. */
interface Reference {
  g: TimingGaussian;
  against: string;
}

export class TimingModel implements LanguageModel {
  readonly kind = 'timing';
  /** Every event scores 0 and the end token carries the whole surprise: running sequences cannot alert. */
  readonly sequenceLevel = true;

  /**
   * `pooled`: fitted on every training sequence; `shapes`: one per shape (`shapeKey`) made by at least `--shape-min`
   * training sequences. A sequence is measured against its shape's Gaussian, or the pooled one when its shape has none.
   */
  constructor(readonly tokenizer: Tokenizer, readonly pooled: TimingGaussian, readonly shapes: ReadonlyMap<string, ShapeGaussian>, readonly settings: ModelSettings,
    /** The moments these came from (absent in folders written before updates: 2026-11-23), for `updated`. */
    private readonly moments?: TimingMoments) {}

  /**
   * This model with more normal training data (lifelong learning, `syscall-anomaly update`): the moments go on from
   * where fitting stopped — the same numbers as fitting on the old and new data at once — and the vocabulary of
   * call names grows. Two passes over `data.train`.
   */
  async updated(data: TrainingData): Promise<TimingModel> {
    if (this.moments === undefined) throw new RangeError('this timing model was saved without its moments (before updates were possible): train it again');
    const tokenizer = await this.tokenizer.extendStream(data.train());
    const moments: TimingMoments = {
      pooled: this.moments.pooled.copy(),
      shapes: new Map([...this.moments.shapes].map(([k, { m, calls }]) => [k, { m: m.copy(), calls }])),
    };
    const timed = await accumulate(data.train(), moments, shapeMinOf(this.settings));
    if (timed === 0 && moments.pooled.count > this.moments.pooled.count) throw new RangeError(NO_DURATIONS);
    return modelOf(tokenizer, moments, this.settings);
  }

  /** `--history k`: requests are scored with their connection's last k (`detect/history.ts`); folders from before: 1. */
  get history(): number {
    return Number(this.settings['history'] ?? 1);
  }

  /** The Gaussian a sequence that made `calls` is measured against: its shape's, else the pooled one. */
  private gaussianFor(calls: ReadonlyMap<string, number>): TimingGaussian {
    return (this.shapes.size > 0 ? this.shapes.get(shapeKey(calls)) : undefined) ?? this.pooled;
  }

  /** That Gaussian, and the words that say which it is (for explanations). */
  private reference(calls: ReadonlyMap<string, number>): Reference {
    const n = (k: number) => k.toLocaleString('en-US');
    const g = this.gaussianFor(calls);
    if (g !== this.pooled) return { g, against: `the ${n(g.count)} training sequences that make the same calls as many times` };
    const all = Number.isFinite(g.count) ? `all ${n(g.count)} training sequences` : 'all training sequences';
    return { g, against: this.shapes.size > 0 ? `${all} (too few make the same calls for a Gaussian of their own)` : all };
  }

  /** ½ z² per feature. */
  private static halfSquares(x: readonly number[], g: TimingGaussian): number[] {
    return x.map((v, j) => 0.5 * ((v - g.mean[j]!) / g.std[j]!) ** 2);
  }

  /** The surprise S of a sequence's running sums (nats, up to the Gaussian's constant): its perplexity is exp(S). */
  surpriseOf(span: Span): number {
    return TimingModel.halfSquares(span.features(), this.gaussianFor(span.calls)).reduce((a, b) => a + b, 0);
  }

  /** The sequence's surprise S. */
  surprise(seq: Sequence): number {
    return this.surpriseOf(Span.of(seq));
  }

  async logProbsMany(seqs: readonly Sequence[]): Promise<Float64Array[]> {
    return wholeSequenceLogProbs(seqs, (seq) => this.surprise(seq));
  }

  async fieldSurpriseMany(seqs: readonly Sequence[]): Promise<Record<string, Float64Array>[]> {
    return seqs.map((seq) => {
      const T = seq.events.length;
      const span = Span.of(seq);
      const h = TimingModel.halfSquares(span.features(), this.gaussianFor(span.calls));
      const out: Record<string, Float64Array> = {};
      TIMING_FEATURES.forEach((f, j) => {
        out[f] = new Float64Array(T + 1); // [T + 1]
        out[f]![T] = h[j]! * (T + 1);
      });
      return out;
    });
  }

  /** Event by event: running sums per open sequence; every event scores 0, the end token the whole surprise. */
  incremental(): IncrementalScorer {
    return new WholeSequenceScorer(() => new Span(), (span, ev) => span.add(ev), (span) => this.surpriseOf(span), (span) => this.factsOf(span));
  }

  /**
   * Each feature of the sequence in µs beside the normal one (exp of the fitted mean of ln(1 + µs), less 1), from the
   * Gaussian it is measured against (`against` says which).
   */
  sequenceFacts(seq: Sequence): SequenceFact[] {
    return this.factsOf(Span.of(seq));
  }

  /** `sequenceFacts` of a sequence's running sums (also of an open one, for live alerts). */
  factsOf(span: Span): SequenceFact[] {
    const x = span.features();
    const { g, against } = this.reference(span.calls);
    return TIMING_FEATURES.map((f, j) => {
      const z = (x[j]! - g.mean[j]!) / g.std[j]!;
      return { name: f, what: FEATURE_WHAT[f], value: Math.expm1(x[j]!), normal: Math.expm1(g.mean[j]!), unit: 'µs', z, surprise: 0.5 * z * z, against };
    });
  }

  async save(dir: string): Promise<string[]> {
    // Shapes as sparse rows over the name vocabulary: row k's (name id, count) pairs end at shapeEnds[k]. With the
    // moments, every shape tracked is a row (those made by fewer than --shape-min sequences too, for updates), and
    // m2 / shapeM2 hold the sums of squared deviations.
    const rows: ShapeGaussian[] = this.moments ? [...this.moments.shapes.values()].map(({ m, calls }) => ({ ...m.gaussian(), calls })) : [...this.shapes.values()];
    const names = this.tokenizer.vocabulary('name');
    const ids: number[] = [];
    const counts: number[] = [];
    const ends: number[] = [];
    const feats = (pick: (g: TimingGaussian) => Float64Array) => Float64Array.from(rows.flatMap((g) => [...pick(g)]));
    for (const { calls } of rows) {
      for (const [name, c] of calls) {
        ids.push(names.id(name));
        counts.push(c);
      }
      ends.push(ids.length);
    }
    const moments: [string, TensorArray][] = this.moments
      ? [['m2', this.moments.pooled.m2], ['shapeM2', Float64Array.from([...this.moments.shapes.values()].flatMap(({ m }) => [...m.m2]))]]
      : [];
    await writeFile(join(dir, TIMING_FILE), encodeTensors(new Map<string, TensorArray>([
      ['mean', this.pooled.mean], ['std', this.pooled.std], ['count', Int32Array.of(Number.isFinite(this.pooled.count) ? this.pooled.count : 0)], // 0: unknown
      ['shapeIds', Int32Array.from(ids)], ['shapeCounts', Int32Array.from(counts)], ['shapeEnds', Int32Array.from(ends)],
      ['shapeSequences', Int32Array.from(rows.map((g) => g.count))],
      ['shapeMean', feats((g) => g.mean)], ['shapeStd', feats((g) => g.std)],
      ...moments,
    ])));
    return [TIMING_FILE];
  }

  describe(): Record<string, SettingValue> {
    const us = (x: number) => Math.round(Math.expm1(x));
    const d: Record<string, SettingValue> = {};
    TIMING_FEATURES.forEach((f, j) => { d[`${f} (typical µs)`] = us(this.pooled.mean[j]!); });
    d['shapes with a Gaussian of their own'] = this.shapes.size;
    return d;
  }

  async release(): Promise<void> {}

  static async load(dir: string, saved: SavedModel): Promise<TimingModel> {
    const file = join(dir, TIMING_FILE);
    const arrays = decodeTensors(await readFile(file), file);
    const { bad, get } = arrayReader(file, arrays, 'timing model');
    const F = TIMING_FEATURES.length;
    const check = (g: TimingGaussian) => {
      if (![...g.mean, ...g.std].every(Number.isFinite) || g.std.some((s) => s < MIN_SPREAD) || !(g.count > 0)) {
        throw bad('non-finite mean, a spread below the floor, or no sequences');
      }
      return g;
    };
    const tokenizer = Tokenizer.fromJSON(saved.tokenizer);
    const mean = get('mean', Float64Array, F);
    const std = get('std', Float64Array, F);
    // Files written before shapes (2026-11-23) hold the pooled mean and spread only.
    if (!arrays.has('count') && !arrays.has('shapeEnds')) return new TimingModel(tokenizer, check({ mean, std, count: Infinity }), new Map(), saved.settings);
    const pooled = check({ mean, std, count: get('count', Int32Array, 1)[0]! || Infinity });
    const ends = get('shapeEnds', Int32Array);
    const K = ends.length;
    const ids = get('shapeIds', Int32Array);
    const counts = get('shapeCounts', Int32Array, ids.length);
    const sequences = get('shapeSequences', Int32Array, K);
    const means = get('shapeMean', Float64Array, K * F);
    const stds = get('shapeStd', Float64Array, K * F);
    const names = tokenizer.vocabulary('name');
    const rows = new Map<string, ShapeGaussian>();
    let from = 0;
    for (let k = 0; k < K; k++) {
      const to = ends[k]!;
      if (to < from || to > ids.length) throw bad(`shape ${k} ends at ${to}, outside ${from}..${ids.length}`);
      const calls = new Map<string, number>();
      for (let i = from; i < to; i++) {
        if (!(ids[i]! >= N_SPECIAL && ids[i]! < names.size) || !(counts[i]! > 0)) throw bad(`shape ${k}: name id ${ids[i]} or count ${counts[i]} out of range`);
        calls.set(names.token(ids[i]!), counts[i]!);
      }
      const g = check({ mean: means.slice(k * F, (k + 1) * F), std: stds.slice(k * F, (k + 1) * F), count: sequences[k]! });
      rows.set(shapeKey(calls), { ...g, calls });
      from = to;
    }
    // Rows made by fewer than --shape-min sequences are kept for updates only (files written before: none).
    const shapeMin = shapeMinOf(saved.settings);
    const shapes = new Map([...rows].filter(([, g]) => g.count >= shapeMin));
    if (!arrays.has('m2')) return new TimingModel(tokenizer, pooled, shapes, saved.settings);
    const m2 = get('m2', Float64Array, F);
    const shapeM2 = get('shapeM2', Float64Array, K * F);
    if (![...m2, ...shapeM2].every((v) => Number.isFinite(v) && v >= 0)) throw bad('a sum of squared deviations is negative or not finite');
    const moments: TimingMoments = {
      pooled: new FeatureMoments(mean.slice(), m2.slice(), pooled.count),
      shapes: new Map([...rows].map(([key, g], k) => [key, { m: new FeatureMoments(g.mean.slice(), shapeM2.slice(k * F, (k + 1) * F), g.count), calls: g.calls }])),
    };
    return new TimingModel(tokenizer, pooled, shapes, saved.settings, moments);
  }
}

export const TIMING_KIND: ModelKind = {
  kind: 'timing',
  async fit(data: TrainingData, settings: ModelSettings): Promise<LanguageModel> {
    // Two passes: the calls seen (the vocabulary the model folder records), then the features' moments, pooled and per shape.
    const tokenizer = await new Tokenizer(['name'], 1).fitStream(data.train());
    const moments: TimingMoments = { pooled: new FeatureMoments(), shapes: new Map() };
    const timed = await accumulate(data.train(), moments, shapeMinOf(settings));
    if (moments.pooled.count === 0) throw new RangeError('timing: no training sequence has events');
    if (timed === 0) throw new RangeError(NO_DURATIONS);
    return modelOf(tokenizer, moments, settings);
  },
  load: (dir, saved) => TimingModel.load(dir, saved),
};
