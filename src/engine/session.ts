/**
 * @module engine/session
 * Runs engine graphs in onnxruntime-node. Shapes are static, so one InferenceSession is built and cached per shape
 * bucket (a string key such as "32x64" that the model maps to a graph). onnxruntime-node has no CPU IO binding, so
 * outputs are preallocated Tensors reused on every run, and the trainer keeps parameters and Adam moments in two
 * sets of flat buffers that it swaps after each step (inputs one set, outputs the other): a whole training step is
 * one `session.run` with no per-step allocation of [P]-sized arrays.
 */
import * as ort from 'onnxruntime-node';
import type { Graph, Value } from './graph.js';
import { appendAdamW, biasCorrections, learningRate, type AdamConfig, type Schedule } from './optim.js';

export type FloatArray = Float32Array | Float64Array;

/** A graph for one shape bucket: its ONNX bytes and the shapes of its float outputs (besides the optimizer's). */
export interface BuiltGraph {
  bytes: Uint8Array;
  outputs: Readonly<Record<string, readonly number[]>>;
  /** The same model with given flat parameters as a constant instead of the `params` input (forward models only). */
  frozen?: (params: FloatArray) => Uint8Array;
}

/** The forward (inference) model of `g`: only what `outputs` need. */
export function forwardModel(g: Graph, outputs: Readonly<Record<string, Value>>): BuiltGraph {
  return {
    bytes: g.toModel(outputs, 'forward'),
    outputs: Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, v.shape])),
    frozen: (params) => g.toModel(outputs, 'forward', params),
  };
}

/** The training model of `g`: gradients of `loss` and an AdamW step appended; `extra` outputs (e.g. state) kept. */
export function trainingModel(g: Graph, loss: Value, adam: AdamConfig, extra: Readonly<Record<string, Value>>): BuiltGraph {
  const o = appendAdamW(g, loss, adam);
  const bytes = g.toModel({ ...extra, loss, grad_norm: o.gradNorm, params_out: o.params, m_out: o.m, v_out: o.v }, 'train');
  return { bytes, outputs: Object.fromEntries(Object.entries(extra).map(([k, v]) => [k, v.shape])) };
}

interface Entry {
  session: ort.InferenceSession;
  fetches: Record<string, ort.Tensor>;
  arrays: Record<string, FloatArray>;
}

const tensorOf = (a: FloatArray, dims: readonly number[]): ort.Tensor =>
  a instanceof Float64Array ? new ort.Tensor('float64', a, [...dims]) : new ort.Tensor('float32', a, [...dims]);

const alloc = (like: FloatArray, n: number): FloatArray => (like instanceof Float64Array ? new Float64Array(n) : new Float32Array(n));

/**
 * onnxruntime graph rewrites this engine turns off. `SkipLayerNormFusion` merges a residual Add with the
 * LayerNormalization after it into one contrib kernel that, on this CPU, is slower than the two ops it replaces:
 * 0.74 ms against 0.07 + 0.14 ms per Transformer scoring batch (16 × 128, d 128; onnxruntime's profile), so the
 * whole forward pass ran ~6 % faster without it (Transformer and Longformer bench, alternating runs); training
 * steps were unchanged.
 */
export const DISABLED_OPTIMIZERS = ['SkipLayerNormFusion'] as const;

/**
 * An onnxruntime CPU session with all graph optimisations (less `DISABLED_OPTIMIZERS`) and `threads` intra-op
 * threads that do not spin-wait between ops: this tool runs beside the workloads it watches, and on a busy 2-core
 * machine spinning threads made a training step about 2x slower (LSTM bench, best-of-64 steps: 61 ms spinning vs
 * 33 ms not).
 */
export async function createSession(bytes: Uint8Array, threads: number): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    extra: {
      session: { intra_op: { allow_spinning: '0' } },
      optimization: { disable_specified_optimizers: DISABLED_OPTIMIZERS.join(',') },
    },
  });
}

/** Caches sessions with preallocated float outputs per bucket key. */
class SessionCache {
  private readonly entries = new Map<string, Promise<Entry>>();

  constructor(
    private readonly like: FloatArray,
    private readonly threads: number,
    private readonly build: (key: string) => BuiltGraph,
    private readonly extra: Readonly<Record<string, number>>,
    private readonly frozen: FloatArray | null = null,
  ) {}

  get(key: string): Promise<Entry> {
    let e = this.entries.get(key);
    if (e === undefined) {
      e = this.create(key);
      this.entries.set(key, e);
    }
    return e;
  }

  private async create(key: string): Promise<Entry> {
    const built = this.build(key);
    let bytes = built.bytes;
    if (this.frozen !== null) {
      if (built.frozen === undefined) throw new Error(`graph ${key} cannot take its parameters as constants`);
      bytes = built.frozen(this.frozen);
    }
    const session = await createSession(bytes, this.threads);
    const fetches: Record<string, ort.Tensor> = {};
    const arrays: Record<string, FloatArray> = {};
    const shapes: Record<string, readonly number[]> = { ...built.outputs };
    for (const [name, n] of Object.entries(this.extra)) shapes[name] = n === 1 ? [] : [n];
    for (const [name, dims] of Object.entries(shapes)) {
      const a = alloc(this.like, dims.reduce((x, y) => x * y, 1));
      arrays[name] = a;
      fetches[name] = tensorOf(a, dims);
    }
    return { session, fetches, arrays };
  }

  async release(): Promise<void> {
    for (const e of this.entries.values()) await (await e).session.release();
    this.entries.clear();
  }
}

/**
 * Forward-only runs (scoring). Weights are either fed — the flat parameters passed as the `params` input on every run,
 * read from {@link Runner.params}, which may be replaced (validation during training) — or frozen: copied into each
 * session as a constant when it is built (mode `frozen`), which lets onnxruntime fold the parameter slices
 * and pre-pack the weight matrices (a blockwise-attention forward pass ran ~5-10 % faster).
 */
export class Runner {
  private readonly cache: SessionCache;
  private weights: FloatArray;

  readonly isFrozen: boolean;

  /**
   * `build(key)` gives the forward graph for a bucket. `fed`: `params` is fed on every run (and may be replaced);
   * `frozen`: the sessions hold a copy of `params` taken now (for scoring a trained model).
   */
  constructor(params: FloatArray, threads: number, build: (key: string) => BuiltGraph, mode: 'fed' | 'frozen' = 'fed') {
    this.weights = params;
    this.isFrozen = mode === 'frozen';
    this.cache = new SessionCache(params, threads, build, {}, this.isFrozen ? params.slice() : null);
  }

  get params(): FloatArray {
    return this.weights;
  }

  set params(p: FloatArray) {
    if (this.isFrozen) throw new Error('a frozen runner keeps the parameters it was built with');
    this.weights = p;
  }

  /** Runs bucket `key`; the returned arrays are reused (overwritten) by the next run of the same bucket. */
  async forward(key: string, feeds: Readonly<Record<string, ort.Tensor>>): Promise<Record<string, FloatArray>> {
    const e = await this.cache.get(key);
    await e.session.run(this.isFrozen ? feeds : { ...feeds, params: tensorOf(this.weights, [this.weights.length]) }, e.fetches);
    return e.arrays;
  }

  release(): Promise<void> {
    return this.cache.release();
  }
}

export interface StepResult {
  loss: number;
  gradNorm: number;
  lr: number;
  /** The bucket's other outputs (e.g. carried recurrent state); overwritten by the next step of the bucket. */
  outputs: Record<string, FloatArray>;
}

/** Everything a {@link Trainer} carries from step to step. */
export interface TrainerState {
  params: FloatArray;
  m: FloatArray;
  v: FloatArray;
  /** Steps taken (the schedule's position; Adam's bias correction uses steps + 1 next). */
  steps: number;
}

/** Training steps: each is one run of a graph built with `appendAdamW`, over swapped flat buffers. */
export class Trainer {
  private readonly cache: SessionCache;
  private p: [FloatArray, FloatArray];
  private m: [FloatArray, FloatArray];
  private v: [FloatArray, FloatArray];
  private t = 0;

  constructor(
    initial: FloatArray,
    private readonly adam: AdamConfig,
    private readonly schedule: Schedule,
    threads: number,
    build: (key: string) => BuiltGraph,
  ) {
    const n = initial.length;
    this.p = [initial.slice(), alloc(initial, n)];
    this.m = [alloc(initial, n), alloc(initial, n)];
    this.v = [alloc(initial, n), alloc(initial, n)];
    this.cache = new SessionCache(initial, threads, build, { loss: 1, grad_norm: 1 });
  }

  /** The current flat parameters (a buffer the trainer keeps writing to: copy it to keep a snapshot). */
  get params(): FloatArray {
    return this.p[0];
  }

  /** Steps taken so far. */
  get steps(): number {
    return this.t;
  }

  /** Copies of the parameters, Adam moments and step count (what a checkpoint needs to resume exactly). */
  snapshot(): TrainerState {
    return { params: this.p[0].slice(), m: this.m[0].slice(), v: this.v[0].slice(), steps: this.t };
  }

  /** Continues from a {@link snapshot} (arrays of this trainer's length and float type). */
  restore(s: TrainerState): void {
    const n = this.p[0].length;
    for (const [name, a] of [['params', s.params], ['m', s.m], ['v', s.v]] as const) {
      if (a.length !== n || a.constructor !== this.p[0].constructor) throw new RangeError(`trainer state: ${name} has the wrong length or type`);
    }
    if (!Number.isSafeInteger(s.steps) || s.steps < 0) throw new RangeError(`trainer state: bad step count ${s.steps}`);
    this.p[0].set(s.params);
    this.m[0].set(s.m);
    this.v[0].set(s.v);
    this.t = s.steps;
  }

  async step(key: string, feeds: Readonly<Record<string, ort.Tensor>>): Promise<StepResult> {
    const e = await this.cache.get(key);
    const n = this.p[0].length;
    const lr = learningRate(this.schedule, this.t);
    const { bc1, bc2 } = biasCorrections(this.adam, this.t + 1);
    const scalar = (x: number): ort.Tensor => tensorOf(alloc(this.p[0], 1).fill(x), []);
    await e.session.run({
      ...feeds,
      params: tensorOf(this.p[0], [n]), adam_m: tensorOf(this.m[0], [n]), adam_v: tensorOf(this.v[0], [n]),
      lr: scalar(lr), bc1: scalar(bc1), bc2: scalar(bc2),
    }, {
      ...e.fetches,
      params_out: tensorOf(this.p[1], [n]), m_out: tensorOf(this.m[1], [n]), v_out: tensorOf(this.v[1], [n]),
    });
    this.p = [this.p[1], this.p[0]];
    this.m = [this.m[1], this.m[0]];
    this.v = [this.v[1], this.v[0]];
    this.t++;
    return { loss: e.arrays['loss']![0]!, gradNorm: e.arrays['grad_norm']![0]!, lr, outputs: e.arrays };
  }

  release(): Promise<void> {
    return this.cache.release();
  }
}
