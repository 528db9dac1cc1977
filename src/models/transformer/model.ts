/**
 * @module models/transformer/model
 * The attention language model (Transformer or Longformer, network: `./network.ts`): training on pieces of at most
 * `chunk` tokens grouped by padded length (one onnxruntime session per (rows, length) bucket, built once), AdamW with
 * warm-up and cosine decay, label smoothing, dropout, early stopping on the validation loss, atomic checkpoints that
 * a killed run resumes from exactly (`./checkpoint.ts`); scoring in length
 * buckets (per-token log-probabilities of whole sequences, any length: the Longformer's blockwise attention is linear
 * in it); the last layer's attention per predicted token; saving and loading a model folder.
 *
 * A sequence is field-major (`seq[f][t]`, field 0 = syscall name, as `models/training`): position t is predicted
 * from positions < t, so n tokens yield n − 1 log-probabilities. A sequence longer than `chunk` trains as several
 * pieces; every piece after the first starts with the sequence's start token (position 0, its own target ignored)
 * followed by the piece's tokens at their true positions, so the global start token is there when it is needed.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { AdamConfig, Schedule } from '../../engine/optim.js';
import { Runner, Trainer, type FloatArray } from '../../engine/session.js';
import { writeWeights } from '../../engine/weights.js';
import { perplexityOf, readModelMeta, readModelWeights, writeModelMeta } from '../model-files.js';
import { writeAtomically, type EpochRecord } from '../checkpoint.js';
import {
  checkpointArrays, checkSequences, checkSoftTargets, drawKeepMasks, startingParams, fingerprint, runEpochs, sameConfig, startRun,
  shuffled, type EpochDriver, type FitHooks, type Sequence, type SoftTargets,
} from '../training.js';
import { TokenInputs } from '../token-inputs.js';
import { encodeCheckpoint, readCheckpoint } from './checkpoint.js';
import {
  bucketLength, checkConfig, transformerDistributionGraph, transformerForwardGraph, transformerInitialParams, transformerTrainGraph,
  type TransformerConfig,
} from './network.js';

export { checkSequences, type Sequence } from '../training.js';
export type { EpochRecord } from '../checkpoint.js';
export type { FitHooks, Progress } from '../training.js';

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
class Feeder extends TokenInputs {
  readonly keep: Float32Array | null;

  constructor(private readonly cfg: TransformerConfig, readonly B: number, readonly T: number, training: boolean) {
    super(cfg.fields.length, B * T); // tok_<field>, pos, targets [B, T]
    this.keep = training && cfg.dropout > 0 ? new Float32Array((2 * cfg.layers + 1) * B * T * cfg.width) : null; // [2L + 1, B, T, d]
  }

  /** Fills row by row; returns the number of targets. */
  fill(rows: readonly (Piece | null)[], seqs: readonly Sequence[]): number {
    const { B, T } = this;
    this.clear();
    let count = 0;
    for (let b = 0; b < B; b++) {
      const r = rows[b];
      if (r === null || r === undefined) continue;
      const seq = seqs[r.seq]!;
      let slot = 0;
      if (r.prefix) {
        this.put(b * T, seq, 0, false);
        slot = 1; // position 0, no target
      }
      for (let i = 0; i < r.count; i++, slot++) {
        this.put(b * T + slot, seq, r.from + i);
        count++;
      }
    }
    return count;
  }

  /** Dropout masks of optimizer step `step` (a function of the seed and the step). */
  drawMasks(step: number): void {
    if (this.keep === null) return;
    drawKeepMasks(this.cfg.seed, step, this.cfg.dropout, [this.keep]);
  }

  feeds(): Record<string, ort.Tensor> {
    const { B, T, cfg } = this;
    const out = this.tokenFeeds(cfg.fields, B, T, true);
    if (this.keep !== null) out['keep'] = new ort.Tensor('float32', this.keep, [2 * cfg.layers + 1, B, T, cfg.width]);
    return out;
  }
}

/** The attention weights of one predicted token: `from` predicted from the positions `to` with these weights. */
export interface AttentionRow {
  /** Index of the predicted token in the sequence's `[T + 1]` log-probabilities (event index; T = the end token). */
  from: number;
  /** Attended events, heaviest first (event index; −1 = the start token). */
  to: number[];
  weight: number[];
}

export class AttentionModel {
  private readonly runner: Runner;
  /** Runs the distribution graph (`distributionMany`), made on first use. */
  private distRunner: Runner | undefined;

  /** `weights`: see {@link Runner} (`fed` for the scorer that follows a training run's changing parameters). */
  constructor(readonly kind: 'transformer' | 'longformer', readonly config: TransformerConfig, params: Float32Array,
    readonly history: readonly EpochRecord[], weights: 'fed' | 'frozen' = 'frozen') {
    this.runner = new Runner(params, config.threads, (key) => {
      const [B, T] = key.split('x').map((s) => Number.parseInt(s, 10)) as [number, number];
      return transformerForwardGraph(config, B, T, key.endsWith('a'));
    }, weights);
  }

  get params(): Float32Array {
    return this.runner.params as Float32Array;
  }

  get size(): number {
    return this.params.length;
  }

  /**
   * Trains; returns the model with the lowest validation loss (the last epoch's without validation data). A lifelong
   * update (`models/update.ts`) gives `soft`, a target distribution per predicted token of each training sequence
   * (`[(n_i − 1) · V]`, trained against instead of the hard labels), and `initial`, the parameters to start from.
   */
  static async fit(kind: 'transformer' | 'longformer', train: readonly Sequence[], valid: readonly Sequence[], config: TransformerConfig,
    hooks: FitHooks = {}, soft?: SoftTargets, initial?: Float32Array): Promise<AttentionModel> {
    checkConfig(config);
    checkSequences(train, config);
    checkSequences(valid, config);
    const V = config.fields[0]!.vocab;
    if (soft !== undefined) checkSoftTargets(soft, train, V, hooks);
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
    const trainer = new Trainer(startingParams(transformerInitialParams(config), initial), adam, schedule, config.threads, (key) => {
      const [B, T] = key.split('x').map(Number) as [number, number];
      return transformerTrainGraph(config, adam, B, T, 'float32', soft !== undefined);
    });
    const softBufs = new Map<string, Float32Array>(); // per bucket: [B, T, V]
    const feeders = new Map<string, Feeder>();
    const scorer = new AttentionModel(kind, config, trainer.params as Float32Array, [], 'fed');
    const data = fingerprint(train);
    // The run's state; a checkpoint holds all of it.
    const run = await startRun(hooks, readCheckpoint,
      (saved) => saved.header.kind === kind && sameConfig(saved.header.config, config), kind, data, trainer);
    const ck = hooks.checkpoint;
    const driver: EpochDriver = {
      stepsIn: (epoch) => plans[epoch]!.length,
      step: async (epoch, i) => {
        const { T, rows } = plans[epoch]![i]!;
        const key = `${rows.length}x${T}`;
        let feeder = feeders.get(key);
        if (feeder === undefined) feeders.set(key, (feeder = new Feeder(config, rows.length, T, true)));
        const tokens = feeder.fill(rows, train);
        feeder.drawMasks(trainer.steps);
        const feeds = feeder.feeds();
        if (soft !== undefined) {
          let buf = softBufs.get(key);
          if (buf === undefined) softBufs.set(key, (buf = new Float32Array(rows.length * T * V)));
          buf.fill(0);
          rows.forEach((r, b) => {
            if (r === null) return;
            const at = b * T + (r.prefix ? 1 : 0); // the slot of input position r.from, which predicts token r.from + 1: soft row r.from
            soft.copyRows(r.seq, r.from, r.count, buf, at);
          });
          feeds['soft'] = new ort.Tensor('float32', buf, [rows.length, T, V]); // [B, T, V]
        }
        const r = await trainer.step(key, feeds);
        return { loss: r.loss, tokens };
      },
      validLoss: async () => {
        scorer.runner.params = trainer.params;
        return Math.log(await scorer.perplexity(valid));
      },
      save: async () => {
        if (ck !== undefined) await writeAtomically(ck.file, encodeCheckpoint({ kind, config, data, ...run.state }, checkpointArrays(trainer, run)));
      },
    };
    try {
      await runEpochs(run, trainer, schedule, driver, config, valid.length > 0, hooks);
    } finally {
      await trainer.release();
      await scorer.release();
    }
    return new AttentionModel(kind, config, run.bestParams ?? (trainer.params as Float32Array).slice(), run.state.history);
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

  /**
   * Runs `runner` over whole sequences, one scoring run per `batches` entry (session key `${B}x${T}${suffix}`, the
   * targets fed unless `targets` is false): each run's padded length, sequence indices (row b = `idx[b]`) and outputs.
   */
  private async *wholeRuns(seqs: readonly Sequence[], runner: Runner, suffix = '', targets = true):
    AsyncGenerator<{ T: number; idx: number[]; res: Record<string, FloatArray> }> {
    for (const { B, T, idx } of this.batches(seqs)) {
      const feeder = new Feeder(this.config, B, T, false);
      feeder.fill(idx.map((i) => ({ seq: i, from: 0, count: seqs[i]![0]!.length - 1, prefix: false })), seqs);
      const feeds = feeder.feeds();
      if (!targets) delete feeds['targets'];
      yield { T, idx, res: await runner.forward(`${B}x${T}${suffix}`, feeds) };
    }
  }

  /** Per-token log-probabilities of many sequences (result i has length n_i − 1), whole sequences, any length. */
  async logProbsMany(seqs: readonly Sequence[]): Promise<Float64Array[]> {
    checkSequences(seqs, this.config);
    const out = seqs.map((s) => new Float64Array(Math.max(0, s[0]!.length - 1)));
    for await (const { T, idx, res } of this.wholeRuns(seqs, this.runner)) {
      const logp = res['logp']!; // [B, T]
      idx.forEach((i, b) => { out[i]!.set(logp.subarray(b * T, b * T + out[i]!.length)); });
    }
    return out;
  }

  /**
   * The whole next-name distribution at every predicted position (a lifelong update's or a student's teacher):
   * result i is `[(n_i − 1) · V]`, row t = P(· | tokens up to t) over the name vocabulary (V = `config.fields[0].vocab`).
   */
  async distributionMany(seqs: readonly Sequence[]): Promise<Float32Array[]> {
    checkSequences(seqs, this.config);
    const V = this.config.fields[0]!.vocab;
    this.distRunner ??= new Runner(this.runner.params, this.config.threads, (key) => {
      const [B, T] = key.split('x').map(Number) as [number, number];
      return transformerDistributionGraph(this.config, B, T);
    });
    const out = seqs.map((s) => new Float32Array(Math.max(0, s[0]!.length - 1) * V));
    for await (const { T, idx, res } of this.wholeRuns(seqs, this.distRunner, '', false)) {
      const probs = res['probs']!; // [B, T, V]
      idx.forEach((i, b) => { out[i]!.set(probs.subarray(b * T * V, b * T * V + out[i]!.length)); });
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
    for await (const { T, idx, res } of this.wholeRuns(seqs, this.runner, 'a')) {
      const attn = res['attn']!;
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
    return perplexityOf(await this.logProbsMany(seqs));
  }

  /** Writes `<kind>.json` (kind, version, config, history), `<kind>.weights`, `<kind>.onnx` (forward graph, batch 1). */
  async save(dir: string): Promise<string[]> {
    await mkdir(dir, { recursive: true });
    const files = [`${this.kind}.json`, `${this.kind}.weights`, `${this.kind}.onnx`];
    await writeFile(join(dir, files[2]!), transformerForwardGraph(this.config, 1, bucketLength(this.config.chunk, this.config.window)).bytes);
    await writeWeights(join(dir, files[1]!), this.params);
    await writeModelMeta(join(dir, files[0]!), this.kind, MODEL_VERSION, this.config, this.history);
    return files;
  }

  static async load(dir: string, kind: 'transformer' | 'longformer'): Promise<AttentionModel> {
    const meta = await readModelMeta<TransformerConfig>(join(dir, `${kind}.json`), kind, MODEL_VERSION, { an: `a ${kind}`, name: kind }, checkConfig);
    const params = await readModelWeights(join(dir, `${kind}.weights`), transformerInitialParams(meta.config).length);
    return new AttentionModel(kind, meta.config, params, meta.history);
  }

  async release(): Promise<void> {
    await this.distRunner?.release();
    this.distRunner = undefined;
    return this.runner.release();
  }
}
