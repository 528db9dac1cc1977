/**
 * @module models/lstm/lstm
 * The LSTM language model over token sequences (network: `./network.ts`): training with truncated BPTT over chunks
 * (`./chunks.ts`), AdamW with warm-up and cosine decay, label smoothing, early stopping on the validation loss,
 * atomic checkpoints that a killed run resumes from exactly (`./checkpoint.ts`), a progress line; then scoring
 * (per-token log-probabilities, perplexity) and saving / loading a model folder.
 *
 * A sequence is field-major: `seq[f][t]` is field f's id at position t (field 0 = syscall name, the predicted one);
 * `fromTuples` converts token tuples. Position t is predicted from positions < t, so a sequence of n tokens yields
 * n - 1 log-probabilities; each sequence starts from a zero state. Same config and seed → identical weights.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Runner, Trainer } from '../../engine/session.js';
import { learningRate, type AdamConfig, type Schedule } from '../../engine/optim.js';
import { readWeights, writeWeights } from '../../engine/weights.js';
import { TraceError } from '../../trace/errors.js';
import { encodeCheckpoint, readCheckpoint, writeAtomically, type CheckpointHeader, type EpochRecord } from './checkpoint.js';
import { checkSequences, ChunkFeeder, fingerprint, planChunks, shuffled, type Sequence } from './chunks.js';
import { checkConfig, lstmForwardGraph, lstmInitialParams, lstmTrainGraph, type LstmConfig } from './network.js';

export type { EpochRecord } from './checkpoint.js';
export type { Sequence } from './chunks.js';
export * from './network.js';

/** Token tuples (`tuples[t][f]`) to a field-major {@link Sequence}. */
export function fromTuples(tuples: readonly (readonly number[])[], fieldCount: number): Sequence {
  return Array.from({ length: fieldCount }, (_, f) => tuples.map((tok) => tok[f]!));
}

/** Where a training run stands, after each step. */
export interface Progress {
  /** 1-based epoch and step within it. */
  epoch: number;
  step: number;
  stepsInEpoch: number;
  /** Optimizer steps of the whole run so far. */
  totalSteps: number;
  /** Mean training loss of the epoch's steps so far. */
  loss: number;
  /** Target tokens per second since the epoch (or the resumed run) started. */
  tokensPerS: number;
  lr: number;
}

export interface FitHooks {
  /** Hears each epoch's record as it completes. */
  onEpoch?: (r: EpochRecord) => void;
  /** Hears every step; without it, a progress line is drawn on stderr when stderr is a TTY (nothing otherwise). */
  onProgress?: (p: Progress) => void;
  /**
   * Checkpoint file: when it exists the run resumes from it (it must come from the same config and training data),
   * and it is rewritten atomically every `everySteps` steps and after every epoch.
   */
  checkpoint?: { file: string; everySteps: number };
  /** Hears the optimizer step a run resumed from (only when it did). */
  onResume?: (totalSteps: number) => void;
}

const KEY = (B: number, T: number): string => `${B}x${T}`;
const MODEL_FILE = 'lstm.json';
const WEIGHTS_FILE = 'lstm.weights';
const ONNX_FILE = 'lstm.onnx';
const MODEL_VERSION = 2;

/** A progress line on stderr, redrawn at most 4 times a second. */
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

export class LstmModel {
  private readonly runner: Runner;

  private constructor(
    readonly config: LstmConfig,
    params: Float32Array,
    /** Forward ONNX bytes already built for a bucket (e.g. loaded from disk), used instead of rebuilding. */
    prebuilt: ReadonlyMap<string, Uint8Array>,
    readonly history: readonly EpochRecord[],
  ) {
    this.runner = new Runner(params, config.threads, (key) => {
      const bytes = prebuilt.get(key);
      const [B, T] = key.split('x').map(Number) as [number, number];
      const built = lstmForwardGraph(config, B, T);
      return bytes === undefined ? built : { bytes, outputs: built.outputs };
    });
  }

  get params(): Float32Array {
    return this.runner.params as Float32Array;
  }

  /**
   * Trains on `train` for up to `config.epochs` epochs, validating on `valid` after each; returns the model with the
   * lowest validation loss (the last epoch's without validation data). Stops early after `config.patience` epochs
   * without improvement.
   */
  static async fit(train: readonly Sequence[], valid: readonly Sequence[], config: LstmConfig, hooks: FitHooks = {}): Promise<LstmModel> {
    checkConfig(config);
    checkSequences(train, config);
    checkSequences(valid, config);
    const { batch: B, chunk: T } = config;
    const lengths = train.map((s) => s[0]!.length);
    const plans = Array.from({ length: config.epochs }, (_, e) => planChunks(lengths, shuffled(train.length, config.seed + e), B, T));
    const adam: AdamConfig = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: config.weightDecay, clipNorm: config.clipNorm };
    const schedule: Schedule = {
      lr: config.lr, warmupSteps: config.warmupSteps, decay: 'cosine',
      totalSteps: plans.reduce((s, p) => s + p.length, 0), minFraction: 0.1,
    };
    const trainer = new Trainer(lstmInitialParams(config), adam, schedule, config.threads, () => lstmTrainGraph(config, adam, B, T));
    const feeder = new ChunkFeeder(config, B, T, true);
    const data = fingerprint(train);
    const progress = hooks.onProgress ?? ttyProgress();
    const scorer = new LstmModel(config, trainer.params as Float32Array, new Map(), []);

    // The run's state; a checkpoint holds all of it.
    let st: Omit<CheckpointHeader, 'arrays' | 'config' | 'data'> = {
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
        if (JSON.stringify(have) !== JSON.stringify(want)) throw new TraceError(ck.file, 16, 'checkpoint was made with another LSTM config');
        if (h.data !== data) throw new TraceError(ck.file, 16, `checkpoint was made from other training data (${h.data}, now ${data})`);
        const need = (name: string): Float32Array => {
          const a = arrays.get(name);
          if (a === undefined) throw new TraceError(ck.file, 16, `checkpoint lacks array ${name}`);
          return a;
        };
        try {
          trainer.restore({ params: need('params'), m: need('m'), v: need('v'), steps: h.trainerSteps });
          feeder.h.set(need('h'));
          feeder.c.set(need('c'));
        } catch (e) {
          if (e instanceof TraceError) throw e;
          throw new TraceError(ck.file, 16, `checkpoint does not fit the model: ${(e as Error).message}`);
        }
        bestParams = h.best === null ? null : need('best');
        const { arrays: _c, config: _d, data: _e, ...rest } = h;
        st = rest;
        hooks.onResume?.(h.trainerSteps);
      }
    }
    const save = async (): Promise<void> => {
      if (ck === undefined) return;
      const snap = trainer.snapshot();
      const arrays = new Map<string, Float32Array>([
        ['params', snap.params as Float32Array], ['m', snap.m as Float32Array], ['v', snap.v as Float32Array],
        ['h', feeder.h], ['c', feeder.c],
      ]);
      if (bestParams !== null) arrays.set('best', bestParams);
      await writeAtomically(ck.file, encodeCheckpoint({ config, data, ...st }, arrays));
    };

    try {
      while (!st.stopped && st.epoch < config.epochs) {
        const plan = plans[st.epoch]!;
        const t0 = performance.now();
        const tokens0 = st.tokens;
        while (st.stepInEpoch < plan.length) {
          const n = feeder.fill(plan[st.stepInEpoch]!, train);
          feeder.drawMasks(trainer.steps);
          const r = await trainer.step(KEY(B, T), feeder.feeds());
          feeder.carry(r.outputs);
          st.lossSum += r.loss;
          st.tokens += n;
          st.stepInEpoch++;
          st.trainerSteps = trainer.steps;
          progress?.({
            epoch: st.epoch + 1, step: st.stepInEpoch, stepsInEpoch: plan.length, totalSteps: trainer.steps,
            loss: st.lossSum / st.stepInEpoch, tokensPerS: (st.tokens - tokens0) / ((performance.now() - t0) / 1000),
            lr: learningRate(schedule, trainer.steps - 1),
          });
          if (ck !== undefined && st.stepInEpoch % ck.everySteps === 0 && st.stepInEpoch < plan.length) await save();
        }
        scorer.runner.params = trainer.params;
        const validLoss = valid.length > 0 ? Math.log(await scorer.perplexity(valid)) : Number.NaN;
        const record: EpochRecord = {
          epoch: st.epoch + 1, trainLoss: st.lossSum / Math.max(1, plan.length), validLoss, validPerplexity: Math.exp(validLoss),
          tokensPerS: (st.tokens - tokens0) / ((performance.now() - t0) / 1000),
        };
        st.history.push(record);
        if (valid.length > 0) {
          if (st.best === null || validLoss < st.best.loss) {
            st.best = { loss: validLoss, epoch: record.epoch };
            st.sinceBest = 0;
            bestParams = (trainer.params as Float32Array).slice();
          } else {
            st.sinceBest++;
            if (config.patience > 0 && st.sinceBest >= config.patience) st.stopped = true;
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
    const final = bestParams ?? (trainer.params as Float32Array).slice();
    return new LstmModel(config, final, new Map(), st.history);
  }

  /** Per-token log-probabilities of many sequences (result i has length n_i - 1), scored `batch` at a time. */
  async logProbsMany(seqs: readonly Sequence[]): Promise<Float64Array[]> {
    checkSequences(seqs, this.config);
    const T = this.config.chunk;
    const B = Math.max(1, Math.min(this.config.batch, seqs.length));
    const out = seqs.map((s) => new Float64Array(Math.max(0, s[0]!.length - 1)));
    const plan = planChunks(seqs.map((s) => s[0]!.length), seqs.map((_, i) => i), B, T);
    const feeder = new ChunkFeeder(this.config, B, T);
    for (const rows of plan) {
      feeder.fill(rows, seqs);
      const res = await this.runner.forward(KEY(B, T), feeder.feeds());
      feeder.carry(res);
      const logp = res['logp']!; // [B, T]
      rows.forEach((r, b) => {
        if (r === null) return;
        for (let t = 0; t < T && feeder.targets[b * T + t]! >= 0n; t++) out[r.seq]![r.offset + t] = logp[b * T + t]!;
      });
    }
    return out;
  }

  /** log P(seq[0][t] | tokens before t) for t = 1 .. n-1. */
  async logProbs(seq: Sequence): Promise<Float64Array> {
    return (await this.logProbsMany([seq]))[0]!;
  }

  /** exp(mean negative log-probability) over every predicted token of `seqs`. */
  async perplexity(seqs: readonly Sequence[]): Promise<number> {
    let sum = 0;
    let n = 0;
    for (const lp of await this.logProbsMany(seqs)) for (const x of lp) { sum -= x; n++; }
    return n === 0 ? Number.NaN : Math.exp(sum / n);
  }

  /**
   * Writes `lstm.json` (kind, version, config, history), `lstm.weights` (magic + version + float32) and `lstm.onnx`
   * (the forward graph for batch 1); returns the file names.
   */
  async save(dir: string): Promise<string[]> {
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, ONNX_FILE), lstmForwardGraph(this.config, 1, this.config.chunk).bytes);
    await writeWeights(join(dir, WEIGHTS_FILE), this.params);
    await writeFile(join(dir, MODEL_FILE), JSON.stringify({ kind: 'lstm', version: MODEL_VERSION, config: this.config, history: this.history }, null, 2));
    return [MODEL_FILE, WEIGHTS_FILE, ONNX_FILE];
  }

  /** Reads a folder written by {@link save}; its saved ONNX graph serves batch-1 scoring. */
  static async load(dir: string): Promise<LstmModel> {
    const metaFile = join(dir, MODEL_FILE);
    let meta: { kind: string; version: number; config: LstmConfig; history: EpochRecord[] };
    try {
      meta = JSON.parse(await readFile(metaFile, 'utf8')) as typeof meta;
    } catch (e) {
      throw new TraceError(metaFile, 0, `unreadable model description: ${(e as Error).message}`);
    }
    if (meta.kind !== 'lstm' || meta.version !== MODEL_VERSION) {
      throw new TraceError(metaFile, 0, `not an LSTM model of version ${MODEL_VERSION} (kind ${meta.kind}, version ${meta.version})`);
    }
    try {
      checkConfig(meta.config);
    } catch (e) {
      throw new TraceError(metaFile, 0, `bad LSTM config: ${(e as Error).message}`);
    }
    const weightsFile = join(dir, WEIGHTS_FILE);
    const params = await readWeights(weightsFile);
    const expected = lstmInitialParams(meta.config).length;
    if (params.length !== expected) throw new TraceError(weightsFile, 12, `${params.length} weights, the config needs ${expected}`);
    const onnx = new Uint8Array(await readFile(join(dir, ONNX_FILE)));
    return new LstmModel(meta.config, params, new Map([[KEY(1, meta.config.chunk), onnx]]), meta.history);
  }

  /** The same network and weights scoring with another chunk length and batch (state is carried: results agree). */
  rechunked(chunk: number, batch = this.config.batch): LstmModel {
    return new LstmModel({ ...this.config, chunk, batch }, this.params, new Map(), this.history);
  }

  /** Number of parameters. */
  get size(): number {
    return this.params.length;
  }

  release(): Promise<void> {
    return this.runner.release();
  }
}
