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
 * surprise is S = ½ Σ z², z = (x − μ) / σ: the negative log-density of a diagonal Gaussian, less its constant. Why a
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
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Sequence } from '../../features/sequences/sequence.js';
import { Tokenizer } from '../../features/tokens/tokenizer.js';
import { TraceError } from '../../trace/errors.js';
import type { SyscallEvent } from '../../trace/event.js';
import type { LanguageModel, ModelKind, ModelSettings, SavedModel, SequenceFact, SettingValue, TrainingData } from '../language-model.js';
import { grownArray, SlotPool, type IncrementalScorer, type StreamHandle } from '../stream.js';
import { decodeTensors, encodeTensors } from '../tensor-file.js';

/** The features, in the order of the saved arrays. */
export const TIMING_FEATURES = ['gap', 'span', 'wait'] as const;
const FEATURE_WHAT: Record<(typeof TIMING_FEATURES)[number], string> = {
  gap: 'time between calls', span: 'time from first call to last return', wait: 'time inside calls',
};
/** The least σ a feature's z divides by (ln µs): a feature nearly constant on normal data would make any departure huge. */
export const MIN_SPREAD = 0.1;
const TIMING_FILE = 'timing.bin';

/**
 * Running sums of one sequence: its earliest start and latest end (ns, relative to its first event's start: events of
 * a linked worker may come slightly out of order), time inside calls (ns).
 */
class Span {
  first: bigint | undefined;
  start = 0;
  end = 0;
  inside = 0;

  add(ev: SyscallEvent): void {
    const lat = ev.latency ?? 0;
    if (this.first === undefined) this.first = ev.ts;
    const s = Number(ev.ts - this.first);
    if (s < this.start) this.start = s;
    if (s + lat > this.end) this.end = s + lat;
    this.inside += lat;
  }

  /** The features: ln(1 + µs) of gap, span, wait (the gap is 0 where calls of several threads overlap). */
  features(): [number, number, number] {
    const us = (ns: number) => Math.log1p(Math.max(0, ns) / 1000);
    const span = this.end - this.start;
    return [us(span - this.inside), us(span), us(this.inside)];
  }
}

function featuresOf(seq: Sequence): [number, number, number] {
  const s = new Span();
  for (const ev of seq.events) s.add(ev);
  return s.features();
}

export class TimingModel implements LanguageModel {
  readonly kind = 'timing';

  /** `mean`, `std`: per feature (`TIMING_FEATURES` order), std already floored at `MIN_SPREAD`. */
  constructor(readonly tokenizer: Tokenizer, readonly mean: Float64Array, readonly std: Float64Array, readonly settings: ModelSettings) {}

  /** ½ z² per feature. */
  private halfSquares(x: readonly number[]): number[] {
    return x.map((v, j) => 0.5 * ((v - this.mean[j]!) / this.std[j]!) ** 2);
  }

  /** The surprise S of a sequence's features (nats, up to the Gaussian's constant): its perplexity is exp(S). */
  surpriseOf(x: readonly number[]): number {
    return this.halfSquares(x).reduce((a, b) => a + b, 0);
  }

  /** The sequence's surprise S. */
  surprise(seq: Sequence): number {
    return this.surpriseOf(featuresOf(seq));
  }

  /** The end token's log-probability for `events` events and surprise S. */
  static endLogProb(events: number, s: number): number {
    return -s * (events + 1);
  }

  async logProbsMany(seqs: readonly Sequence[]): Promise<Float64Array[]> {
    return seqs.map((seq) => {
      const out = new Float64Array(seq.events.length + 1); // [T + 1]
      out[seq.events.length] = TimingModel.endLogProb(seq.events.length, this.surprise(seq));
      return out;
    });
  }

  async fieldSurpriseMany(seqs: readonly Sequence[]): Promise<Record<string, Float64Array>[]> {
    return seqs.map((seq) => {
      const T = seq.events.length;
      const h = this.halfSquares(featuresOf(seq));
      const out: Record<string, Float64Array> = {};
      TIMING_FEATURES.forEach((f, j) => {
        out[f] = new Float64Array(T + 1); // [T + 1]
        out[f]![T] = h[j]! * (T + 1);
      });
      return out;
    });
  }

  incremental(): IncrementalScorer {
    return new TimingIncrementalScorer(this);
  }

  /** Each feature of the sequence in µs beside the normal one (exp of the fitted mean of ln(1 + µs), less 1). */
  sequenceFacts(seq: Sequence): SequenceFact[] {
    const x = featuresOf(seq);
    return TIMING_FEATURES.map((f, j) => {
      const z = (x[j]! - this.mean[j]!) / this.std[j]!;
      return { name: f, what: FEATURE_WHAT[f], value: Math.expm1(x[j]!), normal: Math.expm1(this.mean[j]!), unit: 'µs', z, surprise: 0.5 * z * z };
    });
  }

  async save(dir: string): Promise<string[]> {
    await writeFile(join(dir, TIMING_FILE), encodeTensors(new Map([['mean', this.mean], ['std', this.std]])));
    return [TIMING_FILE];
  }

  describe(): Record<string, SettingValue> {
    const us = (x: number) => Math.round(Math.expm1(x));
    const d: Record<string, SettingValue> = {};
    TIMING_FEATURES.forEach((f, j) => { d[`${f} (typical µs)`] = us(this.mean[j]!); });
    return d;
  }

  async release(): Promise<void> {}

  static async load(dir: string, saved: SavedModel): Promise<TimingModel> {
    const file = join(dir, TIMING_FILE);
    const arrays = decodeTensors(await readFile(file), file);
    const get = (name: string): Float64Array => {
      const a = arrays.get(name);
      if (!(a instanceof Float64Array) || a.length !== TIMING_FEATURES.length) {
        throw new TraceError(file, 0, `timing model: array '${name}' missing, not float64, or not ${TIMING_FEATURES.length} long`);
      }
      return a;
    };
    const mean = get('mean');
    const std = get('std');
    if (![...mean, ...std].every(Number.isFinite) || std.some((s) => s < MIN_SPREAD)) {
      throw new TraceError(file, 0, 'timing model: non-finite mean or a spread below the floor');
    }
    return new TimingModel(Tokenizer.fromJSON(saved.tokenizer), mean, std, saved.settings);
  }
}

/** Event by event: three running sums per open sequence; every event scores 0, the end token the whole surprise. */
class TimingIncrementalScorer implements IncrementalScorer {
  private readonly pool = new SlotPool();
  private spans: (Span | undefined)[] = [];
  private counts = new Int32Array(16);

  constructor(private readonly model: TimingModel) {}

  get openCount(): number {
    return this.pool.openCount;
  }

  open(): StreamHandle {
    const { handle, slot } = this.pool.open();
    if (slot >= this.counts.length) this.counts = grownArray(this.counts, 2 * (slot + 1));
    this.spans[slot] = new Span();
    this.counts[slot] = 0;
    return handle;
  }

  async push(handles: readonly StreamHandle[], events: readonly SyscallEvent[]): Promise<Float64Array> {
    for (let i = 0; i < handles.length; i++) {
      const slot = this.pool.slotOf(handles[i]!);
      this.spans[slot]!.add(events[i]!);
      this.counts[slot]!++;
    }
    return new Float64Array(handles.length);
  }

  async close(handles: readonly StreamHandle[]): Promise<Float64Array> {
    const out = new Float64Array(handles.length);
    handles.forEach((h, i) => {
      const slot = this.pool.slotOf(h);
      out[i] = TimingModel.endLogProb(this.counts[slot]!, this.model.surpriseOf(this.spans[slot]!.features()));
      this.spans[slot] = undefined;
      this.pool.close(h);
    });
    return out;
  }

  drop(handle: StreamHandle): void {
    this.spans[this.pool.slotOf(handle)] = undefined;
    this.pool.close(handle);
  }

  async release(): Promise<void> {}
}

export const TIMING_KIND: ModelKind = {
  kind: 'timing',
  async fit(data: TrainingData, settings: ModelSettings): Promise<LanguageModel> {
    // Two passes: the calls seen (the vocabulary the model folder records), then each feature's mean and spread (Welford).
    const tokenizer = await new Tokenizer(['name'], 1).fitStream(data.train());
    const n = TIMING_FEATURES.length;
    const mean = new Float64Array(n);
    const m2 = new Float64Array(n);
    let count = 0;
    let timed = 0;
    for await (const seq of data.train()) {
      if (seq.events.length === 0) continue;
      count++;
      for (const ev of seq.events) if (ev.latency !== undefined) timed++;
      featuresOf(seq).forEach((x, j) => {
        const d = x - mean[j]!;
        mean[j]! += d / count;
        m2[j]! += d * (x - mean[j]!);
      });
    }
    if (count === 0) throw new RangeError('timing: no training sequence has events');
    if (timed === 0) throw new RangeError('timing: no training event has a duration (the data records none: ADFA-LD traces, or entries without their exits)');
    const std = Float64Array.from(m2, (v) => Math.max(Math.sqrt(v / count), MIN_SPREAD));
    return new TimingModel(tokenizer, mean, std, settings);
  },
  load: (dir, saved) => TimingModel.load(dir, saved),
};
