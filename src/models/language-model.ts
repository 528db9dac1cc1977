/**
 * @module models/language-model
 * The contract every language model over event sequences follows (n-gram, LSTM), the registry of model kinds the
 * command line offers, and the batched scoring helpers the commands share.
 *
 * A model kind declares its settings (each one a command-line option of `train`, with a default and a parser), fits
 * a `LanguageModel` from training sequences (a factory called once per pass, so data can stream), and loads one back
 * from the weight files it saved in a model folder (`models/folder.ts` writes the manifest around them). A fitted
 * model scores sequences in batches, asynchronously (the LSTM runs many sequences per onnxruntime call; the n-gram
 * wraps its synchronous code): for each sequence `<s> e1 … eT </s>`, the log-probability of each predicted token
 * (`[T + 1]`: the events then the end or truncate token), and the surprise per token field (for explanations). The
 * anomaly score of a sequence is its perplexity, exp(mean surprise per predicted token) (`perplexityOf`);
 * `scoreStream` scores a stream of sequences `SCORE_BATCH` at a time.
 *
 * Registry entries load their implementation lazily (`implementation()`), so that a kind that needs onnxruntime
 * costs nothing to commands that use another kind. To add one: write a `ModelKind` (e.g. in `models/lstm/`) and add
 * an entry to `MODEL_KINDS` whose `implementation` is `async () => (await import('./lstm/….js')).LSTM_KIND`.
 */
import type { Sequence } from '../features/sequences/sequence.js';
import { Tokenizer, type TokenizerJSON } from '../features/tokens/tokenizer.js';
import { PAD, START } from '../features/tokens/vocabulary.js';
import { NgramModel } from './ngram/ngram.js';
import { NgramScorer } from './ngram/scorer.js';
import { DEFAULT_PREDICT, fraction, parsePredict, predictOption } from './options.js';
import { NgramIncrementalScorer } from './ngram/incremental.js';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TraceError } from '../trace/errors.js';
import { decodeTensors, encodeTensors, type TensorArray } from './tensor-file.js';
import { LSTM_DESCRIPTION, LSTM_OPTIONS } from './lstm/options.js';
import { LONGFORMER_DESCRIPTION, LONGFORMER_OPTIONS, TRANSFORMER_DESCRIPTION, TRANSFORMER_OPTIONS } from './transformer/options.js';
import type { IncrementalScorer } from './stream.js';

export type SettingValue = number | string;
/** A kind's settings, every one resolved (defaults filled in); saved unchanged in the manifest. */
export type ModelSettings = Record<string, SettingValue>;

/** One setting of a model kind, offered as a `train` option. */
export interface ModelOption {
  /** Key in `ModelSettings`, e.g. `minCount`. */
  key: string;
  /** Commander flag, e.g. `--min-count <n>`. */
  flag: string;
  description: string;
  defaultValue: SettingValue;
  /** Parses a command-line value; throws RangeError saying what is wrong. */
  parse(text: string): SettingValue;
}

export interface LanguageModel {
  readonly kind: string;
  readonly settings: ModelSettings;
  /** The fitted token vocabularies (saved in the manifest). */
  readonly tokenizer: Tokenizer;
  /**
   * Natural-log probability of each predicted token of each sequence: result i is `[T_i + 1]` (one per event, then
   * the end / truncate token). Scores the whole batch at once (give it `SCORE_BATCH` or so sequences at a time).
   */
  logProbsMany(seqs: readonly Sequence[]): Promise<Float64Array[]>;
  /** Surprise (−ln P, nats) per predicted token for each field the model predicts, per sequence: field → `[T_i + 1]`. */
  fieldSurpriseMany(seqs: readonly Sequence[]): Promise<Record<string, Float64Array>[]>;
  /** Writes the weight files into the existing, empty folder `dir`; returns their names. */
  save(dir: string): Promise<string[]>;
  /** A few figures for summaries (vocabulary sizes, n-grams, parameters…). */
  describe(): Record<string, SettingValue>;
  /** Frees what scoring holds (onnxruntime sessions); the model must not score afterwards. */
  release(): Promise<void>;
  /** An event-by-event scorer with state per open sequence (`models/stream.ts`); absent for kinds without one. */
  incremental?(): IncrementalScorer;
  /**
   * Attention models: per predicted token (`from`: its index in the `[T + 1]` log-probabilities, i.e. the event index,
   * T = the end token), the `topK` earlier events it attended to most in the last block, heads averaged (`to`: event
   * indices, heaviest first, −1 = the start token; `weight`: attention weights). Absent for kinds without attention.
   */
  attentionMany?(seqs: readonly Sequence[], topK: number): Promise<{ from: number; to: number[]; weight: number[] }[][]>;
  /**
   * The whole next-token distribution at every predicted token, for distillation (`models/lstm/distill.ts`): result i
   * is `[(T_i + 1) * V]` (row t = P(· | <s> e1 … e_t) over the predicted unit's vocabulary, V =
   * `tokenizer.vocabulary(tokenizer.jointName).size`: the name's, or e.g. `name|lat|size`'s);
   * absent for kinds without one.
   */
  distributionMany?(seqs: readonly Sequence[]): Promise<Float32Array[]>;
  /**
   * Kinds that score a sequence as a whole (timing, profile): what they measured of it against normal, for explanations;
   * absent for kinds whose surprise is per event.
   */
  sequenceFacts?(seq: Sequence): SequenceFact[];
  /**
   * Kinds that judge whole sequences only (timing, profile: every event scores 0, the end token carries the whole
   * surprise), so a running sequence's perplexity says nothing: `watch` and `serve` set no prefix thresholds for them,
   * and their sequences alert when they end. Absent for kinds whose surprise is per event.
   */
  readonly sequenceLevel?: true;
  /**
   * Kinds scored with their connection's history (timing `--history k`): a request's perplexity is the median of the
   * last k of its connection, itself included, wherever whole sequences are scored (`detect/history.ts`);
   * `logProbsMany` and the incremental scorer give the request's own. Absent or 1: each sequence on its own.
   */
  readonly history?: number;
  /**
   * Kinds that learn for life (all of them: the n-gram, the timing and the profile model exactly, the neural kinds through
   * `update.ts`): this model with more normal training data added to what it learned, without the old data
   * (`syscall-anomaly update`). The result is a new model; this one is unchanged.
   */
  updated?(data: TrainingData): Promise<LanguageModel>;
}

/** One measurement of a whole sequence by a sequence-level kind, beside its normal value (`LanguageModel.sequenceFacts`). */
export interface SequenceFact {
  /** The feature (a field of the model's explanation), e.g. `gap`. */
  name: string;
  /** What it measures, for people. */
  what: string;
  /** Its value in this sequence and the normal one (the fitted mean, back on the value's scale), with their unit. */
  value: number;
  normal: number;
  unit: string;
  /** Standard deviations from normal, and the surprise it adds (nats). */
  z: number;
  surprise: number;
  /** Which normal sequences `normal` and `z` are measured against, for people (e.g. those that make the same calls). */
  against?: string;
}

/** Settings as one line for summaries (`order 5, minCount 1`); unset text settings (e.g. no checkpoint) left out. */
export function formatSettings(settings: ModelSettings): string {
  const shown = Object.entries(settings).filter(([, v]) => v !== '').map(([k, v]) => `${k} ${v}`);
  return shown.length > 0 ? shown.join(', ') : 'no settings'; // a kind without options (timing)
}

/** Sequences per `logProbsMany` call when the commands score a stream. */
export const SCORE_BATCH = 64;

/** exp(mean surprise per predicted token) of one sequence's log-probabilities (NaN when there are none). */
export function perplexityOf(logProbs: Float64Array): number {
  let s = 0;
  for (let i = 0; i < logProbs.length; i++) s -= logProbs[i];
  return Math.exp(s / logProbs.length);
}

/** Perplexity of each sequence, in one batch. */
export async function perplexityMany(model: LanguageModel, seqs: readonly Sequence[]): Promise<number[]> {
  return (await model.logProbsMany(seqs)).map(perplexityOf);
}

/** What else a scoring pass may hand each sequence's log-probabilities to (e.g. prefix scores: detect/live-thresholds). */
export type LogProbsSink = (seq: Sequence, logProbs: Float64Array) => void;

/** Perplexity of every sequence of an in-memory set, scored `SCORE_BATCH` at a time (log-probabilities to `each`). */
export async function perplexityAll(model: LanguageModel, seqs: readonly Sequence[], each?: LogProbsSink): Promise<Float64Array> {
  const out = new Float64Array(seqs.length);
  let i = 0;
  for await (const r of scoreStream(model, passesOver(seqs)())) {
    out[i++] = r.perplexity;
    each?.(r.seq, r.logProbs);
  }
  return out;
}

/** An in-memory set of sequences as `TrainingData` wants it: a fresh async pass per call. */
export function passesOver(seqs: readonly Sequence[]): () => AsyncIterable<Sequence> {
  return async function* pass() {
    yield* seqs;
  };
}

/** The items of a stream in arrays of `size` (the last one shorter). */
export async function* inBatches<T>(items: AsyncIterable<T>, size: number = SCORE_BATCH): AsyncGenerator<T[]> {
  let batch: T[] = [];
  for await (const x of items) {
    batch.push(x);
    if (batch.length === size) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

/** Each sequence of a stream with its perplexity and log-probabilities, in stream order, scored `size` per batch. */
export async function* scoreStream(model: LanguageModel, seqs: AsyncIterable<Sequence>,
  size: number = SCORE_BATCH): AsyncGenerator<{ seq: Sequence; perplexity: number; logProbs: Float64Array }> {
  for await (const batch of inBatches(seqs, size)) {
    const lps = await model.logProbsMany(batch);
    for (let i = 0; i < batch.length; i++) yield { seq: batch[i], perplexity: perplexityOf(lps[i]), logProbs: lps[i] };
  }
}

export interface TrainingData {
  /** Training sequences, normal behaviour only; called once per pass over the data. */
  train: () => AsyncIterable<Sequence>;
  /** Normal validation sequences, for kinds that stop early on them. */
  valid?: () => AsyncIterable<Sequence>;
}

/** What a kind needs from the manifest to load its weights. */
export interface SavedModel {
  settings: ModelSettings;
  tokenizer: TokenizerJSON;
  /** The weight files `save` wrote (already checked against the manifest's sizes and hashes). */
  files: string[];
}

export interface ModelKind {
  readonly kind: string;
  fit(data: TrainingData, settings: ModelSettings): Promise<LanguageModel>;
  load(dir: string, saved: SavedModel): Promise<LanguageModel>;
}

export interface ModelKindEntry {
  kind: string;
  description: string;
  options: readonly ModelOption[];
  implementation(): Promise<ModelKind>;
}

/** A parser for integer options in [min, max]. */
export function intOption(name: string, min: number, max: number): (text: string) => number {
  return (text: string) => {
    const v = Number(text);
    if (!/^\s*-?\d+\s*$/.test(text) || !Number.isSafeInteger(v) || v < min || v > max) {
      throw new RangeError(`${name} must be an integer in ${min}..${max}, got '${text}'`);
    }
    return v;
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The n-gram kind

const NGRAM_FILE = 'ngram.bin';

function fromBase64<T extends Int32Array | Float64Array>(s: string, ctor: { new (b: ArrayBuffer): T }): T {
  const buf = Buffer.from(s, 'base64');
  const copy = new ArrayBuffer(buf.byteLength);
  new Uint8Array(copy).set(buf);
  return new ctor(copy);
}
const toBase64 = (a: TensorArray) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');

/**
 * The n-gram scorer (syscall names, or the joint token of the `predict` fields; interpolated modified Kneser-Ney) as a
 * `LanguageModel`. Its scoring is synchronous underneath: `logProbs`, `fieldSurprise` and `perplexity` of one
 * sequence are offered too.
 */
export class NgramLanguageModel implements LanguageModel {
  readonly kind = 'ngram';

  constructor(readonly scorer: NgramScorer, readonly settings: ModelSettings) {}

  get tokenizer(): Tokenizer {
    return this.scorer.tokenizer;
  }

  logProbs(seq: Sequence): Float64Array {
    return this.scorer.model.logProbs(this.scorer.encode(seq));
  }

  /** Surprise per event under the predicted field: `name`, or the joint field (`name|lat|size`). */
  fieldSurprise(seq: Sequence): Record<string, Float64Array> {
    return { [this.scorer.field]: this.scorer.eventNll(seq) };
  }

  perplexity(seq: Sequence): number {
    return Math.exp(this.scorer.score(seq));
  }

  async logProbsMany(seqs: readonly Sequence[]): Promise<Float64Array[]> {
    return seqs.map((s) => this.logProbs(s));
  }

  async fieldSurpriseMany(seqs: readonly Sequence[]): Promise<Record<string, Float64Array>[]> {
    return seqs.map((s) => this.fieldSurprise(s));
  }

  /** Next-token distribution (of the predicted unit) at each predicted token (`LanguageModel.distributionMany`; V probabilities per position). */
  async distributionMany(seqs: readonly Sequence[]): Promise<Float32Array[]> {
    const m = this.scorer.model;
    const V = m.vocabSize;
    return seqs.map((s) => {
      const ids = this.scorer.encode(s);
      const out = new Float32Array((ids.length - 1) * V);
      for (let i = 1; i < ids.length; i++) {
        const ctx = ids.subarray(Math.max(0, i - m.order + 1), i);
        for (let w = 0; w < V; w++) if (w !== PAD && w !== START) out[(i - 1) * V + w] = m.probability(ctx, w); // never predicted: 0
      }
      return out;
    });
  }

  async release(): Promise<void> {}

  /** The counts of `data.train` added to this model's, its vocabulary grown (`NgramScorer.updatedStream`). */
  async updated(data: TrainingData): Promise<NgramLanguageModel> {
    return new NgramLanguageModel(await this.scorer.updatedStream(data.train), this.settings);
  }

  /** Event-by-event scoring: the state of a sequence is its last n − 1 predicted token ids (`ngram/incremental.ts`). */
  incremental(): NgramIncrementalScorer {
    return new NgramIncrementalScorer(this.scorer.model, this.scorer.tokenizer);
  }

  async save(dir: string): Promise<string[]> {
    const j = this.scorer.model.toJSON();
    const arrays = new Map<string, TensorArray>([
      ['shape', Int32Array.of(j.order, j.vocabSize)],
      ['parent', fromBase64(j.parent, Int32Array)],
      ['token', fromBase64(j.token, Int32Array)],
      ['count', fromBase64(j.count, Float64Array)],
      ['cont', fromBase64(j.cont, Int32Array)],
    ]);
    await writeFile(join(dir, NGRAM_FILE), encodeTensors(arrays));
    return [NGRAM_FILE];
  }

  describe(): Record<string, SettingValue> {
    const m = this.scorer.model;
    const predict: Record<string, SettingValue> = this.scorer.field === 'name' ? {} : { predict: this.scorer.predict.join(',') }; // default: as before
    return { order: m.order, ...predict, vocabulary: m.vocabSize, ngrams: m.size - 1 };
  }

  static async load(dir: string, saved: SavedModel): Promise<NgramLanguageModel> {
    const file = join(dir, NGRAM_FILE);
    const arrays = decodeTensors(await readFile(file), file);
    const get = (name: string, ctor: typeof Int32Array | typeof Float64Array): TensorArray => {
      const a = arrays.get(name);
      if (!(a instanceof ctor)) throw new TraceError(file, 0, `n-gram weights: array '${name}' missing or of the wrong type`);
      return a;
    };
    const shape = get('shape', Int32Array);
    if (shape.length !== 2) throw new TraceError(file, 0, 'n-gram weights: bad shape array');
    if (shape[0] !== saved.settings.order) {
      throw new TraceError(file, 0, `n-gram weights of order ${shape[0]}, but the manifest says order ${saved.settings.order}`);
    }
    let model: NgramModel;
    let tokenizer: Tokenizer;
    try {
      model = NgramModel.fromJSON({
        magic: 'syscall-anomaly/ngram', version: 1, order: shape[0], vocabSize: shape[1],
        parent: toBase64(get('parent', Int32Array)), token: toBase64(get('token', Int32Array)),
        count: toBase64(get('count', Float64Array)), cont: toBase64(get('cont', Int32Array)),
      });
      tokenizer = Tokenizer.fromJSON(saved.tokenizer);
      const predict = String(saved.settings.predict ?? DEFAULT_PREDICT);
      if (tokenizer.fields.join(',') !== predict) throw new Error(`the tokenizer's fields ${tokenizer.fields.join(',')} are not the predicted ones (${predict})`);
      return new NgramLanguageModel(new NgramScorer(tokenizer, model), saved.settings);
    } catch (e) {
      if (e instanceof TraceError) throw e;
      throw new TraceError(file, 0, `n-gram weights do not fit the manifest: ${(e as Error).message}`);
    }
  }
}

export const NGRAM_KIND: ModelKind = {
  kind: 'ngram',
  async fit(data: TrainingData, settings: ModelSettings): Promise<LanguageModel> {
    const predict = parsePredict(String(settings.predict ?? DEFAULT_PREDICT));
    const scorer = await NgramScorer.fitStream(data.train, settings.order as number, settings.minCount as number, predict);
    return new NgramLanguageModel(scorer, settings);
  },
  load: (dir, saved) => NgramLanguageModel.load(dir, saved),
};

// ---------------------------------------------------------------------------------------------------------------
// Registry

export const MODEL_KINDS: readonly ModelKindEntry[] = [
  {
    kind: 'ngram',
    description: 'n-gram over syscall names (or joint name|lat|size tokens: --predict), interpolated modified Kneser-Ney',
    options: [
      { key: 'order', flag: '--order <n>', description: 'n-gram order (ngram; default 5)', defaultValue: 5, parse: intOption('--order', 1, 12) },
      {
        key: 'minCount', flag: '--min-count <n>', description: 'keep tokens seen at least this often in training (ngram, lstm; default 1)',
        defaultValue: 1, parse: intOption('--min-count', 1, 1_000_000),
      },
      predictOption('ngram'),
    ],
    implementation: async () => NGRAM_KIND,
  },
  {
    kind: 'lstm',
    description: LSTM_DESCRIPTION,
    options: LSTM_OPTIONS,
    implementation: async () => (await import('./lstm/adapter.js')).LSTM_KIND,
  },
  {
    kind: 'transformer',
    description: TRANSFORMER_DESCRIPTION,
    options: TRANSFORMER_OPTIONS,
    implementation: async () => (await import('./transformer/adapter.js')).TRANSFORMER_KIND,
  },
  {
    kind: 'longformer',
    description: LONGFORMER_DESCRIPTION,
    options: LONGFORMER_OPTIONS,
    implementation: async () => (await import('./longformer/adapter.js')).LONGFORMER_KIND,
  },
  {
    kind: 'timing',
    description: 'where a sequence\'s time goes (time between calls, in calls, in all), one Gaussian score per sequence: an ensemble member beside a language model',
    options: [{
      key: 'shapeMin', flag: '--shape-min <n>',
      description: 'timing: sequences that make the same calls as many times (a shape) get a Gaussian of their own when at least this many training sequences have that shape; others are measured against all; 0: one Gaussian for all (default 20)',
      defaultValue: 20, parse: intOption('--shape-min', 0, 1_000_000_000),
    }, {
      key: 'history', flag: '--history <k>',
      description: 'timing: score each request by the median of its connection\'s last k requests (itself included; request segmentation only); 1: each on its own (default 1)',
      defaultValue: 1, parse: intOption('--history', 1, 1000),
    }],
    implementation: async () => (await import('./timing/timing.js')).TIMING_KIND,
  },
  {
    kind: 'profile',
    description: 'which calls a sequence makes, in what proportions: a one-class SVM over the call mixes, one score per sequence: an ensemble member beside a language model',
    options: [{
      key: 'nu', flag: '--nu <x>',
      description: 'profile: the one-class SVM\'s ν, the share of training sequences it may leave outside the normal support, in (0, 1) (default 0.1)',
      defaultValue: 0.1, parse: fraction('--nu', 0, 1, true),
    }, {
      key: 'gamma', flag: '--gamma <x>',
      description: 'profile: the RBF kernel\'s γ over the square-rooted call shares (their squared distances lie in [0, 2]), > 0 (default 1)',
      defaultValue: 1, parse: fraction('--gamma', 0, Infinity, true),
    }],
    implementation: async () => (await import('./profile/profile.js')).PROFILE_KIND,
  },
];

export function modelKindNames(): string[] {
  return MODEL_KINDS.map((k) => k.kind);
}

/** The registry entry of `kind`; undefined when there is none. */
export function findModelKind(kind: string): ModelKindEntry | undefined {
  return MODEL_KINDS.find((k) => k.kind === kind);
}

/** Settings of `entry` from the given command-line texts (key → text), defaults for the rest. */
export function resolveSettings(entry: ModelKindEntry, given: ReadonlyMap<string, string>): ModelSettings {
  const out: ModelSettings = {};
  for (const o of entry.options) {
    const t = given.get(o.key);
    out[o.key] = t === undefined ? o.defaultValue : o.parse(t);
  }
  for (const k of given.keys()) {
    if (!entry.options.some((o) => o.key === k)) throw new RangeError(`setting '${k}' does not apply to model kind '${entry.kind}'`);
  }
  return out;
}
