/**
 * @module models/training
 * Training-run pieces shared by the neural language models (`./lstm/lstm.ts`, `./transformer/model.ts`): the
 * progress report and its TTY line, the fit hooks, the run state a checkpoint holds (`./checkpoint.ts`) with its
 * resume checks, and the end-of-epoch bookkeeping (epoch record, best parameters, early stopping); the token
 * sequences they train on, their checks, seeded shuffling, fingerprint, and the seeded dropout masks; training on
 * soft targets (distillation, lifelong updates) from given starting weights: the checks, the start and the loss.
 */
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seededRandom, type Graph, type Value } from '../engine/graph.js';
import { learningRate, type Schedule } from '../engine/optim.js';
import type { Trainer } from '../engine/session.js';
import { TraceError } from '../trace/errors.js';
import type { ArrayList, EpochRecord, TrainingState } from './checkpoint.js';

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
  /**
   * Hears every step; without it, a progress line is drawn on stderr when stderr is a TTY, and otherwise (a log file,
   * a pipe, CI) one line per epoch is written there ({@link epochLine}) once the command line asked for it
   * ({@link enableEpochLog}).
   */
  onProgress?: (p: Progress) => void;
  /**
   * Checkpoint file: when it exists the run resumes from it (it must come from the same model kind, config and
   * training data), and it is rewritten atomically every `everySteps` steps and after every epoch.
   */
  checkpoint?: { file: string; everySteps: number };
  /** Hears the optimizer step a run resumed from (only when it did). */
  onResume?: (totalSteps: number) => void;
}

/** A progress line on stderr, redrawn at most 4 times a second; undefined when stderr is not a TTY. */
export function ttyProgress(): ((p: Progress) => void) | undefined {
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

/** Whether runs write {@link epochLine} to stderr when it is no terminal: off for library callers (tests among them). */
let epochLog = false;

/** The command line's training (`train`, `update`, the eval harness) turns the per-epoch log lines on. */
export function enableEpochLog(): void {
  epochLog = true;
}

/**
 * One epoch's line for a log (stderr that is no terminal): `epoch 3/10: train loss 1.2345, valid loss 1.3012
 * (perplexity 3.67), 85,123 tokens/s`, and why training stops when it stops early.
 */
export function epochLine(r: EpochRecord, epochs: number, stoppedEarly: boolean, patience: number): string {
  const valid = Number.isNaN(r.validLoss) ? '' : `, valid loss ${r.validLoss.toFixed(4)} (perplexity ${r.validPerplexity.toPrecision(4)})`;
  return `epoch ${r.epoch}/${epochs}: train loss ${r.trainLoss.toFixed(4)}${valid}, ${Math.round(r.tokensPerS).toLocaleString('en-US')} tokens/s` +
    (stoppedEarly ? `; stopping: no better valid loss in ${patience} epochs` : '') + '\n';
}

/** The run state a checkpoint holds besides the model's own header fields (config, data fingerprint, kind). */
export type RunState = Omit<TrainingState, 'data'>;

/** The state of a run that has not started. */
export function freshState(): RunState {
  return { epoch: 0, stepInEpoch: 0, trainerSteps: 0, lossSum: 0, tokens: 0, history: [], best: null, sinceBest: 0, stopped: false };
}

/** Throws RangeError unless the checkpoint interval is a positive integer. */
export function checkEverySteps(everySteps: number): void {
  if (!Number.isSafeInteger(everySteps) || everySteps < 1) throw new RangeError(`checkpoint everySteps must be >= 1, got ${everySteps}`);
}

/** Whether two configs are the same apart from `threads` (which may change between a run and its resumption). */
export function sameConfig<C extends { threads: unknown }>(a: C, b: C): boolean {
  const { threads: _a, ...x } = a;
  const { threads: _b, ...y } = b;
  return JSON.stringify(x) === JSON.stringify(y);
}

/**
 * Checks a saved checkpoint against the run: throws TraceError naming `file` when the config (`configMatches` false,
 * reported as "another `what` config") or the training-data fingerprint differs. Returns a getter of its arrays that
 * throws TraceError on a missing one.
 */
export function checkResume(file: string, configMatches: boolean, what: string, saved: { data: string }, data: string,
  arrays: ReadonlyMap<string, Float32Array>): (name: string) => Float32Array {
  if (!configMatches) throw new TraceError(file, 16, `checkpoint was made with another ${what} config`);
  if (saved.data !== data) throw new TraceError(file, 16, `checkpoint was made from other training data (${saved.data}, now ${data})`);
  return (name) => {
    const a = arrays.get(name);
    if (a === undefined) throw new TraceError(file, 16, `checkpoint lacks array ${name}`);
    return a;
  };
}

/** Runs `restore`; an error that is not a TraceError becomes "checkpoint does not fit the model" naming `file`. */
export function restoreOrExplain(file: string, restore: () => void): void {
  try {
    restore();
  } catch (e) {
    if (e instanceof TraceError) throw e;
    throw new TraceError(file, 16, `checkpoint does not fit the model: ${(e as Error).message}`);
  }
}

/**
 * Closes epoch `st.epoch` of `steps` steps that started at `t0` (performance.now()) with `tokens0` tokens counted:
 * appends its record to the history, updates the best validation loss and early stopping (`patience` 0 = never
 * stop), and moves `st` to the next epoch. Returns the record and whether the parameters are the best so far.
 */
export function closeEpoch(st: RunState, validLoss: number, hasValid: boolean, steps: number, t0: number, tokens0: number,
  patience: number): { state: RunState; record: EpochRecord; improved: boolean } {
  const record: EpochRecord = {
    epoch: st.epoch + 1, trainLoss: st.lossSum / Math.max(1, steps), validLoss, validPerplexity: Math.exp(validLoss),
    tokensPerS: (st.tokens - tokens0) / ((performance.now() - t0) / 1000),
  };
  st.history.push(record);
  let improved = false;
  if (hasValid) {
    if (st.best === null || validLoss < st.best.loss) {
      st.best = { loss: validLoss, epoch: record.epoch };
      st.sinceBest = 0;
      improved = true;
    } else {
      st.sinceBest++;
      if (patience > 0 && st.sinceBest >= patience) st.stopped = true;
    }
  }
  return { state: { ...st, epoch: st.epoch + 1, stepInEpoch: 0, lossSum: 0, tokens: 0 }, record, improved };
}

/** `seq[field][position]`: field-major token ids (field 0 = syscall name). */
export type Sequence = readonly (ArrayLike<number>)[];

/** Throws RangeError unless every sequence has one id list per field, of equal lengths, inside each vocabulary. */
export function checkSequences(seqs: readonly Sequence[], cfg: { fields: readonly { name: string; vocab: number }[] }): void {
  seqs.forEach((seq, s) => {
    if (seq.length !== cfg.fields.length) throw new RangeError(`sequence ${s}: ${seq.length} fields, expected ${cfg.fields.length}`);
    const n = seq[0]!.length;
    seq.forEach((ids, f) => {
      if (ids.length !== n) throw new RangeError(`sequence ${s}: field ${cfg.fields[f]!.name} has ${ids.length} ids, expected ${n}`);
      const vocab = cfg.fields[f]!.vocab;
      for (let i = 0; i < ids.length; i++) {
        const id = ids[i]!;
        if (!Number.isInteger(id) || id < 0 || id >= vocab) {
          throw new RangeError(`sequence ${s}: ${cfg.fields[f]!.name} id ${id} outside [0, ${vocab})`);
        }
      }
    });
  });
}

/** A seeded permutation of 0..n-1 (Fisher-Yates over an LCG). */
export function shuffled(n: number, seed: number): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  let s = seed >>> 0;
  for (let i = n - 1; i > 0; i--) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = s % (i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

/** FNV-1a over the sequences' lengths and ids: a checkpoint is only resumed on the data it was made from. */
export function fingerprint(seqs: readonly Sequence[]): string {
  let h = 0x811c9dc5;
  const mix = (x: number): void => {
    h ^= x & 0xffff;
    h = Math.imul(h, 0x01000193) >>> 0;
    h ^= x >>> 16;
    h = Math.imul(h, 0x01000193) >>> 0;
  };
  mix(seqs.length);
  for (const seq of seqs) {
    mix(seq.length);
    for (const ids of seq) {
      mix(ids.length);
      for (let i = 0; i < ids.length; i++) mix(ids[i]!);
    }
  }
  return h.toString(16).padStart(8, '0');
}

/**
 * Fills the dropout masks of optimizer step `step` (a function of the seed and the step, so resuming is exact): each
 * entry, in order through `masks`, is 0 with probability `p`, else 1 / (1 - p).
 */
export function drawKeepMasks(seed: number, step: number, p: number, masks: readonly Float32Array[]): void {
  const rand = seededRandom((Math.imul(seed + 1, 0x9e3779b1) ^ Math.imul(step + 1, 0x85ebca6b)) >>> 0);
  const keep = 1 / (1 - p);
  for (const m of masks) for (let i = 0; i < m.length; i++) m[i] = rand() < p ? 0 : keep;
}

/** A run in progress: its state (what a checkpoint holds besides the model's arrays) and the best parameters so far. */
export interface TrainingRun {
  state: RunState;
  bestParams: Float32Array | null;
}

/** What {@link runEpochs} asks of a model's trainer. */
export interface EpochDriver {
  /** Steps in the plan of 0-based epoch `epoch`. */
  stepsIn(epoch: number): number;
  /** Takes step `i` of epoch `epoch` (one optimizer step); returns its loss and its number of target tokens. */
  step(epoch: number, i: number): Promise<{ loss: number; tokens: number }>;
  /** Mean negative log-probability per validation token with the current parameters (called with validation data only). */
  validLoss(): Promise<number>;
  /** Writes the checkpoint of `run` (nothing without a checkpoint). */
  save(): Promise<void>;
}

/**
 * The epoch loop: steps from where `run` stands to the end of `config.epochs` epochs or early stopping, reporting
 * every step to `hooks.onProgress` (or the TTY line), saving every `hooks.checkpoint.everySteps` steps and after every
 * epoch, validating after every epoch (`hasValid`) and keeping the best parameters in `run.bestParams`.
 */
export async function runEpochs(run: TrainingRun, trainer: Trainer, schedule: Schedule, d: EpochDriver,
  config: { epochs: number; patience: number }, hasValid: boolean, hooks: FitHooks): Promise<void> {
  const o = {
    epochs: config.epochs, patience: config.patience, hasValid, everySteps: hooks.checkpoint?.everySteps,
    progress: hooks.onProgress ?? ttyProgress(), onEpoch: hooks.onEpoch,
    log: epochLog && hooks.onProgress === undefined && !process.stderr.isTTY, // no progress line: a line per epoch instead
  };
  while (!run.state.stopped && run.state.epoch < o.epochs) {
    const steps = d.stepsIn(run.state.epoch);
    const t0 = performance.now();
    const tokens0 = run.state.tokens;
    while (run.state.stepInEpoch < steps) {
      const st = run.state;
      const r = await d.step(st.epoch, st.stepInEpoch);
      st.lossSum += r.loss;
      st.tokens += r.tokens;
      st.stepInEpoch++;
      st.trainerSteps = trainer.steps;
      o.progress?.({
        epoch: st.epoch + 1, step: st.stepInEpoch, stepsInEpoch: steps, totalSteps: st.trainerSteps, loss: st.lossSum / st.stepInEpoch,
        tokensPerS: (st.tokens - tokens0) / ((performance.now() - t0) / 1000), lr: learningRate(schedule, trainer.steps - 1),
      });
      if (o.everySteps !== undefined && st.stepInEpoch % o.everySteps === 0 && st.stepInEpoch < steps) await d.save();
    }
    const validLoss = o.hasValid ? await d.validLoss() : Number.NaN;
    const closed = closeEpoch(run.state, validLoss, o.hasValid, steps, t0, tokens0, o.patience);
    if (closed.improved) run.bestParams = (trainer.params as Float32Array).slice();
    run.state = closed.state;
    await d.save();
    if (o.log) process.stderr.write(epochLine(closed.record, o.epochs, closed.state.stopped && closed.state.epoch < o.epochs, o.patience));
    o.onEpoch?.(closed.record);
  }
}

/**
 * Resumes `run` and `trainer` from a saved checkpoint (arrays params, m, v and, when the header has a best loss,
 * best), after {@link checkResume}; `restoreMore` restores the model's own arrays (e.g. the LSTM's carried state).
 */
export function resumeRun(file: string, saved: { header: TrainingState & ArrayList; arrays: ReadonlyMap<string, Float32Array> },
  configMatches: boolean, what: string, data: string, trainer: Trainer, run: TrainingRun,
  restoreMore: (need: (name: string) => Float32Array) => void = () => {}): void {
  const h = saved.header;
  const need = checkResume(file, configMatches, what, h, data, saved.arrays);
  restoreOrExplain(file, () => {
    trainer.restore({ params: need('params'), m: need('m'), v: need('v'), steps: h.trainerSteps });
    restoreMore(need);
  });
  run.bestParams = h.best === null ? null : need('best');
  run.state = {
    epoch: h.epoch, stepInEpoch: h.stepInEpoch, trainerSteps: h.trainerSteps, lossSum: h.lossSum, tokens: h.tokens, history: h.history,
    best: h.best, sinceBest: h.sinceBest, stopped: h.stopped,
  };
}

/**
 * The run a fit starts from: fresh, or — when `hooks.checkpoint` names a file that `read` finds — resumed from it
 * ({@link resumeRun}; `matches` says whether the saved config is this run's), telling `hooks.onResume`.
 */
export async function startRun<S extends { header: TrainingState & ArrayList; arrays: ReadonlyMap<string, Float32Array> }>(
  hooks: FitHooks, read: (file: string) => Promise<S | null>, matches: (saved: S) => boolean, what: string, data: string,
  trainer: Trainer, restoreMore?: (need: (name: string) => Float32Array) => void): Promise<TrainingRun> {
  const run: TrainingRun = { state: freshState(), bestParams: null };
  const ck = hooks.checkpoint;
  if (ck === undefined) return run;
  checkEverySteps(ck.everySteps);
  const saved = await read(ck.file);
  if (saved === null) return run;
  resumeRun(ck.file, saved, matches(saved), what, data, trainer, run, restoreMore);
  hooks.onResume?.(saved.header.trainerSteps);
  return run;
}

/** The arrays of a checkpoint, in file order: the trainer's params, m, v, then `more`, then the best parameters if any. */
export function checkpointArrays(trainer: Trainer, run: TrainingRun, more: readonly [string, Float32Array][] = []): Map<string, Float32Array> {
  const snap = trainer.snapshot();
  const arrays = new Map<string, Float32Array>([
    ['params', snap.params as Float32Array], ['m', snap.m as Float32Array], ['v', snap.v as Float32Array], ...more,
  ]);
  if (run.bestParams !== null) arrays.set('best', run.bestParams);
  return arrays;
}

/** The training settings every neural model's config holds (besides its fields and sizes). */
export interface TrainSettings {
  /** Most epochs to train (fewer when early stopping ends the run). */
  epochs: number;
  /** Stop after this many epochs without a lower validation loss (0: never stop early). */
  patience: number;
  /** Peak learning rate: linear warm-up over `warmupSteps`, then cosine decay to 10 % over the planned run. */
  lr: number;
  warmupSteps: number;
  weightDecay: number;
  clipNorm: number;
  labelSmoothing: number;
  /** Dropout rate in training only (0: none); where it applies is the model's. */
  dropout: number;
  /** onnxruntime threads. */
  threads: number;
  /** Seed of the initial weights, the shuffling and the dropout masks. */
  seed: number;
}

/** A check that setting `name` of `what` ("LSTM", "attention model") is an integer >= min; throws RangeError. */
export function integerSetting(what: string): (name: string, v: number, min?: number) => void {
  return (name, v, min = 1) => {
    if (!Number.isSafeInteger(v) || v < min) throw new RangeError(`${what} ${name} must be an integer >= ${min}, got ${v}`);
  };
}

/** Checks the {@link TrainSettings} of a config; throws RangeError naming `what` and the bad setting. */
export function checkTrainSettings(cfg: TrainSettings, what: string): void {
  const posInt = integerSetting(what);
  for (const k of ['epochs', 'threads'] as const) posInt(k, cfg[k]);
  posInt('patience', cfg.patience, 0);
  posInt('warmupSteps', cfg.warmupSteps, 0);
  if (!(cfg.lr > 0)) throw new RangeError(`${what} lr must be > 0, got ${cfg.lr}`);
  if (!(cfg.dropout >= 0 && cfg.dropout < 1)) throw new RangeError(`${what} dropout must be in [0, 1), got ${cfg.dropout}`);
  if (!(cfg.labelSmoothing >= 0 && cfg.labelSmoothing < 1)) throw new RangeError(`${what} labelSmoothing must be in [0, 1), got ${cfg.labelSmoothing}`);
  if (!(cfg.weightDecay >= 0) || !(cfg.clipNorm >= 0)) throw new RangeError(`${what} weightDecay and clipNorm must be >= 0`);
}

/** The most memory a run's soft targets take; beyond it they are written to a temporary file (`SoftTargets`). */
export const SOFT_TARGET_MEMORY = 2 ** 28;

/**
 * The soft targets of a training run (distillation, lifelong updates): for each training sequence, one distribution
 * [V] per predicted token (`[(n_i − 1) · V]`). They are added sequence by sequence and held in memory up to
 * `memoryBytes` in all; past that, every one is written to a temporary file (deleted as soon as it is opened, so
 * nothing is left behind even by a killed run) and read back row by row as training steps need them: memory stays
 * bounded whatever the size of the data, and a step reads only its own B · T · V values.
 */
export class SoftTargets {
  private readonly rows: number[] = [];
  private mem: Float32Array[] | null = [];
  private memBytes = 0;
  private fd = -1;
  private readonly offsets: number[] = [];
  private fileBytes = 0;

  constructor(readonly V: number, private readonly memoryBytes = SOFT_TARGET_MEMORY) {}

  /** Soft targets held in memory all along (`arrays[i]`: sequence i's rows), for tests and small runs. */
  static of(arrays: readonly Float32Array[], V: number): SoftTargets {
    const s = new SoftTargets(V, Infinity);
    for (const a of arrays) s.add(a);
    return s;
  }

  /** Sequences added. */
  get count(): number {
    return this.rows.length;
  }

  /** Whether they went to a temporary file. */
  get spilled(): boolean {
    return this.fd >= 0;
  }

  /** Predicted tokens (rows) of sequence i. */
  rowsOf(i: number): number {
    return this.rows[i]!;
  }

  /** Adds the next sequence's rows `[(n − 1) · V]`. */
  add(rows: Float32Array): void {
    if (rows.length % this.V !== 0) throw new RangeError(`soft targets of ${rows.length} values are not rows of ${this.V}`);
    this.rows.push(rows.length / this.V);
    if (this.mem !== null && this.memBytes + rows.byteLength <= this.memoryBytes) {
      this.mem.push(rows);
      this.memBytes += rows.byteLength;
      return;
    }
    if (this.mem !== null) {
      const dir = mkdtempSync(join(tmpdir(), 'syscall-anomaly-soft-'));
      const path = join(dir, 'targets');
      this.fd = openSync(path, 'w+');
      rmSync(dir, { recursive: true, force: true }); // the open descriptor keeps the file until it is closed
      const held = this.mem;
      this.mem = null;
      for (const a of held) this.write(a);
    }
    this.write(rows);
  }

  private write(a: Float32Array): void {
    this.offsets.push(this.fileBytes);
    const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    try {
      for (let done = 0; done < bytes.length;) done += writeSync(this.fd, bytes, done, bytes.length - done, this.fileBytes + done);
    } catch (e) {
      throw new RangeError(`writing soft targets to a temporary file under ${tmpdir()}: ${(e as Error).message}`);
    }
    this.fileBytes += bytes.length;
  }

  /** Copies rows `from` … `from + count − 1` of sequence `i` into `dst` from row `dstRow` on. */
  copyRows(i: number, from: number, count: number, dst: Float32Array, dstRow: number): void {
    const V = this.V;
    if (from < 0 || count < 0 || from + count > this.rows[i]!) throw new RangeError(`rows ${from}…${from + count - 1} of sequence ${i}'s ${this.rows[i]}`);
    if (this.mem !== null) {
      dst.set(this.mem[i]!.subarray(from * V, (from + count) * V), dstRow * V);
      return;
    }
    const bytes = new Uint8Array(dst.buffer, dst.byteOffset + dstRow * V * 4, count * V * 4);
    const at = this.offsets[i]! + from * V * 4;
    for (let done = 0; done < bytes.length;) {
      const n = readSync(this.fd, bytes, done, bytes.length - done, at + done);
      if (n === 0) throw new Error('soft-target file ended early');
      done += n;
    }
  }

  /** Closes (and so deletes) the temporary file, if any. */
  release(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}

/**
 * Checks soft targets for `train` (distillation, lifelong updates): one sequence's rows per training sequence, one
 * per predicted token, each of V, and no checkpoints with them. RangeError otherwise.
 */
export function checkSoftTargets(soft: SoftTargets, train: readonly Sequence[], V: number, hooks: FitHooks): void {
  if (soft.count !== train.length) throw new RangeError(`${soft.count} soft-target arrays for ${train.length} sequences`);
  if (soft.V !== V) throw new RangeError(`soft targets over ${soft.V} tokens for a vocabulary of ${V}`);
  train.forEach((s, i) => {
    const want = Math.max(0, s[0]!.length - 1);
    if (soft.rowsOf(i) !== want) throw new RangeError(`soft targets of sequence ${i}: ${soft.rowsOf(i) * V} values, expected ${want * V}`);
  });
  if (hooks.checkpoint !== undefined) throw new RangeError('checkpoints are not supported with soft targets');
}

/** A run's starting parameters: the seeded ones (`fresh`), or `initial` (a lifelong update's) when given. */
export function startingParams(fresh: Float32Array, initial: Float32Array | undefined): Float32Array {
  if (initial === undefined) return fresh;
  if (initial.length !== fresh.length) throw new RangeError(`${initial.length} initial parameters for a network of ${fresh.length}`);
  fresh.set(initial);
  return fresh;
}

/**
 * The loss against soft targets: input `soft` [B, T, V] (filled by the trainer), the mean cross-entropy of `logits`
 * [B, T, V] against it over the positions whose `targets` [B, T] int64 are ≥ 0.
 */
export function softTargetLoss(g: Graph, logits: Value, targets: Value): { soft: Value; loss: Value } {
  const [B, T, V] = logits.shape as [number, number, number];
  const soft = g.input('soft', g.float, [B, T, V]); // [B, T, V]
  const mask = g.cast(g.greater(g.reshape(targets, [B * T]), g.const([-1], [], 'int64')), g.float); // [B*T]
  const loss = g.softCrossEntropy(g.reshape(logits, [B * T, V]), g.reshape(soft, [B * T, V]), mask); // []
  return { soft, loss };
}
