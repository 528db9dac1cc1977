/**
 * @module models/transformer/model
 * The attention language model (Transformer or Longformer, network: `./network.ts`): training on pieces of at most
 * `chunk` tokens grouped by padded length (one onnxruntime session per (rows, length) bucket, built once), AdamW with
 * warm-up and cosine decay, label smoothing, dropout, early stopping on the validation loss, atomic checkpoints that
 * a killed run resumes from exactly (`./checkpoint.ts`); scoring in length
 * buckets (per-token log-probabilities of whole sequences, any length: the Longformer's blockwise attention is linear
 * in it); the last layer's attention per predicted token; saving and loading a model folder.
 *
 * A sequence is field-major (`seq[f][t]`, field 0 = syscall name, as `models/lstm/chunks`): position t is predicted
 * from positions < t, so n tokens yield n − 1 log-probabilities. A sequence longer than `chunk` trains as several
 * pieces; every piece after the first starts with the sequence's start token (position 0, its own target ignored)
 * followed by the piece's tokens at their true positions, so the global start token is there when it is needed.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { seededRandom } from '../../engine/graph.js';
import { learningRate, type AdamConfig, type Schedule } from '../../engine/optim.js';
import { Runner, Trainer } from '../../engine/session.js';
import { readWeights, writeWeights } from '../../engine/weights.js';
import { TraceError } from '../../trace/errors.js';
import { fingerprint, shuffled, type Sequence } from '../lstm/chunks.js';
import { writeAtomically, type EpochRecord } from '../lstm/checkpoint.js';
import { encodeCheckpoint, readCheckpoint, type AttentionCheckpointHeader } from './checkpoint.js';
import {
  bucketLength, checkConfig, transformerForwardGraph, transformerInitialParams, transformerTrainGraph, type TransformerConfig,
} from './network.js';

export type { Sequence } from '../lstm/chunks.js';
export type { EpochRecord } from '../lstm/checkpoint.js';

/** Tokens per scoring run (rows × padded length), the most rows per run. */
const SCORE_TOKENS = 4096;
const SCORE_ROWS = 64;
const MODEL_VERSION = 1;

/** One training row: inputs at positions from … from + count − 1, after the start token when `prefix`. */
export interface Piece {
  seq: number;
  from: number;
  count: number;
  prefix: boolean;
}

/** The pieces a sequence of n tokens trains as (see the module note). */
export function pieces(seq: number, n: number, chunk: number): Piece[] {
  if (n < 2) return [];
  const out: Piece[] = [{ seq, from: 0, count: Math.min(chunk, n - 1), prefix: false }];
  for (let p = out[0]!.count; p < n - 1 && chunk > 1;) {
    const count = Math.min(chunk - 1, n - 1 - p);
    out.push({ seq, from: p, count, prefix: true });
    p += count;
  }
  return out;
}

const pieceLength = (p: Piece): number => p.count + (p.prefix ? 1 : 0);

/** Power of two at most x (x ≥ 1). */
const floorPow2 = (x: number): number => 2 ** Math.floor(Math.log2(Math.max(1, x)));

/** The inputs of one (B, T) bucket, refilled for every run. */
class Feeder {
  readonly toks: BigInt64Array[];
  readonly pos: BigInt64Array;
  readonly targets: BigInt64Array;
  readonly keep: Float32Array | null;

  constructor(private readonly cfg: TransformerConfig, readonly B: number, readonly T: number, training: boolean) {
    this.toks = cfg.fields.map(() => new BigInt64Array(B * T)); // each [B, T]
    this.pos = new BigInt64Array(B * T); // [B, T]
    this.targets = new BigInt64Array(B * T); // [B, T]
    this.keep = training && cfg.dropout > 0 ? new Float32Array((2 * cfg.layers + 1) * B * T * cfg.width) : null; // [2L + 1, B, T, d]
  }

  /** Fills row by row; returns the number of targets. */
  fill(rows: readonly (Piece | null)[], seqs: readonly Sequence[]): number {
    const { B, T, cfg } = this;
    this.targets.fill(-1n);
    this.pos.fill(0n);
    for (const t of this.toks) t.fill(0n);
    let count = 0;
    for (let b = 0; b < B; b++) {
      const r = rows[b];
      if (r === null || r === undefined) continue;
      const seq = seqs[r.seq]!;
      let slot = 0;
      if (r.prefix) {
        for (let f = 0; f < cfg.fields.length; f++) this.toks[f]![b * T] = BigInt(seq[f]![0]!);
        slot = 1; // position 0, no target
      }
      for (let i = 0; i < r.count; i++, slot++) {
        const p = r.from + i;
        const at = b * T + slot;
        for (let f = 0; f < cfg.fields.length; f++) this.toks[f]![at] = BigInt(seq[f]![p]!);
        this.pos[at] = BigInt(p);
        this.targets[at] = BigInt(seq[0]![p + 1]!);
        count++;
      }
    }
    return count;
  }

  /** Dropout masks of optimizer step `step` (a function of the seed and the step). */
  drawMasks(step: number): void {
    if (this.keep === null) return;
    const rand = seededRandom((Math.imul(this.cfg.seed + 1, 0x9e3779b1) ^ Math.imul(step + 1, 0x85ebca6b)) >>> 0);
    const p = this.cfg.dropout;
    const keep = 1 / (1 - p);
    for (let i = 0; i < this.keep.length; i++) this.keep[i] = rand() < p ? 0 : keep;
  }

  feeds(): Record<string, ort.Tensor> {
    const { B, T, cfg } = this;
    const out: Record<string, ort.Tensor> = {
      pos: new ort.Tensor('int64', this.pos, [B, T]), targets: new ort.Tensor('int64', this.targets, [B, T]),
    };
    cfg.fields.forEach((f, i) => { out[`tok_${f.name}`] = new ort.Tensor('int64', this.toks[i]!, [B, T]); });
    if (this.keep !== null) out['keep'] = new ort.Tensor('float32', this.keep, [2 * cfg.layers + 1, B, T, cfg.width]);
    return out;
  }
}

/** Where a training run stands, after each step. */
export interface Progress {
  epoch: number;
  step: number;
  stepsInEpoch: number;
  totalSteps: number;
  loss: number;
  tokensPerS: number;
  lr: number;
}

export interface FitHooks {
  onEpoch?: (r: EpochRecord) => void;
  /** Hears every step; without it, a progress line is drawn on stderr when stderr is a TTY. */
  onProgress?: (p: Progress) => void;
  /**
   * Checkpoint file: when it exists the run resumes from it (it must come from the same kind, config and training
   * data), and it is rewritten atomically every `everySteps` steps and after every epoch.
   */
  checkpoint?: { file: string; everySteps: number };
  /** Hears the optimizer step a run resumed from (only when it did). */
  onResume?: (totalSteps: number) => void;
}

/** The attention weights of one predicted token: `from` predicted from the positions `to` with these weights. */
export interface AttentionRow {
  /** Index of the predicted token in the sequence's `[T + 1]` log-probabilities (event index; T = the end token). */
  from: number;
  /** Attended events, heaviest first (event index; −1 = the start token). */
  to: number[];
  weight: number[];
}

function ttyProgress(): ((p: Progress) => void) | undefined {
  if (!process.stderr.isTTY) return undefined;
  let last = 0;
  return (p) => {
    const now = performance.now();
    if (now - last < 250 && p.step !== p.stepsInEpoch) return;
    last = now;
    process.stderr.write(`\repoch ${p.epoch} step ${p.step}/${p.stepsInEpoch} loss ${p.loss.toFixed(4)} ` +
      `${Math.round(p.tokensPerS)} tokens/s lr ${p.lr.toExponential(2)}\x1b[K${p.step === p.stepsInEpoch ? '\n' : ''}`);
  };
}

export class AttentionModel {
  private readonly runner: Runner;

  constructor(readonly kind: 'transformer' | 'longformer', readonly config: TransformerConfig, params: Float32Array,
    readonly history: readonly EpochRecord[]) {
    this.runner = new Runner(params, config.threads, (key) => {
      const [B, T] = key.split('x').map((s) => Number.parseInt(s, 10)) as [number, number];
      return transformerForwardGraph(config, B, T, key.endsWith('a'));
    });
  }

  get params(): Float32Array {
    return this.runner.params as Float32Array;
  }

  get size(): number {
    return this.params.length;
  }

  /** Trains; returns the model with the lowest validation loss (the last epoch's without validation data). */
  static async fit(kind: 'transformer' | 'longformer', train: readonly Sequence[], valid: readonly Sequence[], config: TransformerConfig,
    hooks: FitHooks = {}): Promise<AttentionModel> {
    checkConfig(config);
    checkSequences(train, config);
    checkSequences(valid, config);
    const all = train.flatMap((s, i) => pieces(i, s[0]!.length, config.chunk));
    const budget = config.batch * bucketLength(config.chunk, config.window);
    const rowsFor = (T: number): number => Math.max(1, floorPow2(budget / T));
    const plan = (epoch: number): { T: number; rows: (Piece | null)[] }[] => {
      const order = shuffled(all.length, config.seed + epoch);
      const byT = new Map<number, Piece[]>();
      for (const i of order) {
        const p = all[i]!;
        const T = bucketLength(pieceLength(p), config.window);
        const list = byT.get(T);
        if (list) list.push(p);
        else byT.set(T, [p]);
      }
      const steps: { T: number; rows: (Piece | null)[] }[] = [];
      for (const [T, list] of [...byT].sort((a, b) => a[0] - b[0])) {
        const B = rowsFor(T);
        for (let i = 0; i < list.length; i += B) {
          const rows: (Piece | null)[] = list.slice(i, i + B);
          while (rows.length < B) rows.push(null);
          steps.push({ T, rows });
        }
      }
      return shuffled(steps.length, config.seed + 7919 * (epoch + 1)).map((i) => steps[i]!);
    };
    const plans = Array.from({ length: config.epochs }, (_, e) => plan(e));
    const adam: AdamConfig = { beta1: 0.9, beta2: 0.98, eps: 1e-8, weightDecay: config.weightDecay, clipNorm: config.clipNorm };
    const schedule: Schedule = {
      lr: config.lr, warmupSteps: config.warmupSteps, decay: 'cosine', totalSteps: plans.reduce((s, p) => s + p.length, 0), minFraction: 0.1,
    };
    const trainer = new Trainer(transformerInitialParams(config), adam, schedule, config.threads, (key) => {
      const [B, T] = key.split('x').map(Number) as [number, number];
      return transformerTrainGraph(config, adam, B, T);
    });
    const feeders = new Map<string, Feeder>();
    const progress = hooks.onProgress ?? ttyProgress();
    const scorer = new AttentionModel(kind, config, trainer.params as Float32Array, []);
    const data = fingerprint(train);
    // The run's state; a checkpoint holds all of it.
    let st: Omit<AttentionCheckpointHeader, 'arrays' | 'config' | 'data' | 'kind'> = {
      epoch: 0, stepInEpoch: 0, trainerSteps: 0, lossSum: 0, tokens: 0, history: [], best: null, sinceBest: 0, stopped: false,
    };
    let bestParams: Float32Array | null = null;
    const ck = hooks.checkpoint;
    if (ck !== undefined) {
      if (!Number.isSafeInteger(ck.everySteps) || ck.everySteps < 1) throw new RangeError(`checkpoint everySteps must be >= 1, got ${ck.everySteps}`);
      const saved = await readCheckpoint(ck.file);
      if (saved !== null) {
        const { header: h, arrays } = saved;
        const { threads: _a, ...want } = config;
        const { threads: _b, ...have } = h.config;
        if (h.kind !== kind || JSON.stringify(have) !== JSON.stringify(want)) throw new TraceError(ck.file, 16, `checkpoint was made with another ${kind} config`);
        if (h.data !== data) throw new TraceError(ck.file, 16, `checkpoint was made from other training data (${h.data}, now ${data})`);
        const need = (name: string): Float32Array => {
          const a = arrays.get(name);
          if (a === undefined) throw new TraceError(ck.file, 16, `checkpoint lacks array ${name}`);
          return a;
        };
        try {
          trainer.restore({ params: need('params'), m: need('m'), v: need('v'), steps: h.trainerSteps });
        } catch (e) {
          if (e instanceof TraceError) throw e;
          throw new TraceError(ck.file, 16, `checkpoint does not fit the model: ${(e as Error).message}`);
        }
        bestParams = h.best === null ? null : need('best');
        const { arrays: _c, config: _d, data: _e, kind: _f, ...rest } = h;
        st = rest;
        hooks.onResume?.(h.trainerSteps);
      }
    }
    const save = async (): Promise<void> => {
      if (ck === undefined) return;
      const snap = trainer.snapshot();
      const arrays = new Map<string, Float32Array>([['params', snap.params as Float32Array], ['m', snap.m as Float32Array], ['v', snap.v as Float32Array]]);
      if (bestParams !== null) arrays.set('best', bestParams);
      await writeAtomically(ck.file, encodeCheckpoint({ kind, config, data, ...st }, arrays));
    };
    try {
      while (!st.stopped && st.epoch < config.epochs) {
        const steps = plans[st.epoch]!;
        const t0 = performance.now();
        const tokens0 = st.tokens;
        while (st.stepInEpoch < steps.length) {
          const { T, rows } = steps[st.stepInEpoch]!;
          const key = `${rows.length}x${T}`;
          let feeder = feeders.get(key);
          if (feeder === undefined) feeders.set(key, (feeder = new Feeder(config, rows.length, T, true)));
          st.tokens += feeder.fill(rows, train);
          feeder.drawMasks(trainer.steps);
          const r = await trainer.step(key, feeder.feeds());
          st.lossSum += r.loss;
          st.stepInEpoch++;
          st.trainerSteps = trainer.steps;
          progress?.({
            epoch: st.epoch + 1, step: st.stepInEpoch, stepsInEpoch: steps.length, totalSteps: trainer.steps, loss: st.lossSum / st.stepInEpoch,
            tokensPerS: (st.tokens - tokens0) / ((performance.now() - t0) / 1000), lr: learningRate(schedule, trainer.steps - 1),
          });
          if (ck !== undefined && st.stepInEpoch % ck.everySteps === 0 && st.stepInEpoch < steps.length) await save();
        }
        scorer.runner.params = trainer.params;
        const validLoss = valid.length > 0 ? Math.log(await scorer.perplexity(valid)) : Number.NaN;
        const record: EpochRecord = {
          epoch: st.epoch + 1, trainLoss: st.lossSum / Math.max(1, steps.length), validLoss, validPerplexity: Math.exp(validLoss),
          tokensPerS: (st.tokens - tokens0) / ((performance.now() - t0) / 1000),
        };
        st.history.push(record);
        if (valid.length > 0) {
          if (st.best === null || validLoss < st.best.loss) {
            st.best = { loss: validLoss, epoch: record.epoch };
            st.sinceBest = 0;
            bestParams = (trainer.params as Float32Array).slice();
          } else if (config.patience > 0 && ++st.sinceBest >= config.patience) {
            st.stopped = true;
          }
        }
        st = { ...st, epoch: st.epoch + 1, stepInEpoch: 0, lossSum: 0, tokens: 0 };
        await save();
        hooks.onEpoch?.(record);
      }
    } finally {
      await trainer.release();
      await scorer.release();
    }
    return new AttentionModel(kind, config, bestParams ?? (trainer.params as Float32Array).slice(), st.history);
  }

  /** Sequences grouped into scoring runs: (rows, padded length) and the sequence indices of each run. */
  private batches(seqs: readonly Sequence[]): { B: number; T: number; idx: number[] }[] {
    const byT = new Map<number, number[]>();
    seqs.forEach((s, i) => {
      const n = s[0]!.length - 1;
      if (n < 1) return;
      const T = bucketLength(n, this.config.window);
      const list = byT.get(T);
      if (list) list.push(i);
      else byT.set(T, [i]);
    });
    const out: { B: number; T: number; idx: number[] }[] = [];
    for (const [T, list] of byT) {
      const most = Math.min(SCORE_ROWS, floorPow2(SCORE_TOKENS / T));
      for (let i = 0; i < list.length; i += most) {
        const idx = list.slice(i, i + most);
        out.push({ B: Math.min(most, 2 ** Math.ceil(Math.log2(idx.length))), T, idx });
      }
    }
    return out;
  }

  /** Per-token log-probabilities of many sequences (result i has length n_i − 1), whole sequences, any length. */
  async logProbsMany(seqs: readonly Sequence[]): Promise<Float64Array[]> {
    checkSequences(seqs, this.config);
    const out = seqs.map((s) => new Float64Array(Math.max(0, s[0]!.length - 1)));
    for (const { B, T, idx } of this.batches(seqs)) {
      const feeder = new Feeder(this.config, B, T, false);
      feeder.fill(idx.map((i) => ({ seq: i, from: 0, count: seqs[i]![0]!.length - 1, prefix: false })), seqs);
      const logp = (await this.runner.forward(`${B}x${T}`, feeder.feeds()))['logp']!; // [B, T]
      idx.forEach((i, b) => { out[i]!.set(logp.subarray(b * T, b * T + out[i]!.length)); });
    }
    return out;
  }

  /**
   * The last block's head-averaged attention of each predicted token over the positions it sees: the `topK`
   * heaviest, as event indices (position p holds event p − 1; −1 = the start token).
   */
  async attentionMany(seqs: readonly Sequence[], topK: number): Promise<AttentionRow[][]> {
    checkSequences(seqs, this.config);
    if (!Number.isSafeInteger(topK) || topK < 1) throw new RangeError(`topK must be a positive integer, got ${topK}`);
    const w = this.config.window;
    const out: AttentionRow[][] = seqs.map(() => []);
    for (const { B, T, idx } of this.batches(seqs)) {
      const feeder = new Feeder(this.config, B, T, false);
      feeder.fill(idx.map((i) => ({ seq: i, from: 0, count: seqs[i]![0]!.length - 1, prefix: false })), seqs);
      const attn = (await this.runner.forward(`${B}x${T}a`, feeder.feeds()))['attn']!;
      const dense = T <= w;
      idx.forEach((i, b) => {
        const n = seqs[i]![0]!.length - 1;
        for (let t = 0; t < n; t++) {
          const cand: [number, number][] = []; // [position, weight]
          if (dense) {
            const row = (b * T + t) * T;
            for (let j = 0; j <= t; j++) cand.push([j, attn[row + j]!]);
          } else {
            const blk = Math.floor(t / w);
            const r = t % w;
            const row = (((b * (T / w)) + blk) * w + r) * (2 * w + 1);
            cand.push([0, attn[row]!]);
            for (let s = 0; s < 2 * w; s++) {
              const j = (blk - 1) * w + s;
              if (j >= 0 && j <= t) cand.push([j, attn[row + 1 + s]!]);
            }
          }
          const top = cand.filter(([, x]) => x > 0).sort((a, c) => c[1] - a[1] || a[0] - c[0]).slice(0, topK);
          out[i]!.push({ from: t, to: top.map(([j]) => j - 1), weight: top.map(([, x]) => x) });
        }
      });
    }
    return out;
  }

  /** exp(mean negative log-probability) over every predicted token of `seqs`. */
  async perplexity(seqs: readonly Sequence[]): Promise<number> {
    let sum = 0;
    let n = 0;
    for (const lp of await this.logProbsMany(seqs)) for (const x of lp) { sum -= x; n++; }
    return n === 0 ? Number.NaN : Math.exp(sum / n);
  }

  /** Writes `<kind>.json` (kind, version, config, history), `<kind>.weights`, `<kind>.onnx` (forward graph, batch 1). */
  async save(dir: string): Promise<string[]> {
    await mkdir(dir, { recursive: true });
    const files = [`${this.kind}.json`, `${this.kind}.weights`, `${this.kind}.onnx`];
    await writeFile(join(dir, files[2]!), transformerForwardGraph(this.config, 1, bucketLength(this.config.chunk, this.config.window)).bytes);
    await writeWeights(join(dir, files[1]!), this.params);
    await writeFile(join(dir, files[0]!), JSON.stringify({ kind: this.kind, version: MODEL_VERSION, config: this.config, history: this.history }, null, 2));
    return files;
  }

  static async load(dir: string, kind: 'transformer' | 'longformer'): Promise<AttentionModel> {
    const metaFile = join(dir, `${kind}.json`);
    let meta: { kind: string; version: number; config: TransformerConfig; history: EpochRecord[] };
    try {
      meta = JSON.parse(await readFile(metaFile, 'utf8')) as typeof meta;
    } catch (e) {
      throw new TraceError(metaFile, 0, `unreadable model description: ${(e as Error).message}`);
    }
    if (meta.kind !== kind || meta.version !== MODEL_VERSION) {
      throw new TraceError(metaFile, 0, `not a ${kind} model of version ${MODEL_VERSION} (kind ${meta.kind}, version ${meta.version})`);
    }
    try {
      checkConfig(meta.config);
    } catch (e) {
      throw new TraceError(metaFile, 0, `bad ${kind} config: ${(e as Error).message}`);
    }
    const weightsFile = join(dir, `${kind}.weights`);
    const params = await readWeights(weightsFile);
    const expected = transformerInitialParams(meta.config).length;
    if (params.length !== expected) throw new TraceError(weightsFile, 12, `${params.length} weights, the config needs ${expected}`);
    return new AttentionModel(kind, meta.config, params, meta.history);
  }

  release(): Promise<void> {
    return this.runner.release();
  }
}

/** Throws RangeError unless every sequence has one id list per field, of equal lengths, inside each vocabulary. */
export function checkSequences(seqs: readonly Sequence[], cfg: TransformerConfig): void {
  seqs.forEach((seq, s) => {
    if (seq.length !== cfg.fields.length) throw new RangeError(`sequence ${s}: ${seq.length} fields, expected ${cfg.fields.length}`);
    const n = seq[0]!.length;
    seq.forEach((ids, f) => {
      const field = cfg.fields[f]!;
      if (ids.length !== n) throw new RangeError(`sequence ${s}: field ${field.name} has ${ids.length} ids, expected ${n}`);
      for (let i = 0; i < ids.length; i++) {
        const id = ids[i]!;
        if (!Number.isInteger(id) || id < 0 || id >= field.vocab) throw new RangeError(`sequence ${s}: ${field.name} id ${id} outside [0, ${field.vocab})`);
      }
    });
  });
}
