/**
 * @module models/classifiers/svm
 * Support vector machines through libsvm-js (the WebAssembly build, `libsvm-js/wasm`): C-SVC with a linear or RBF
 * kernel, multi-class by libsvm's one-vs-one. The wasm module loads asynchronously once; create models with
 * `await SvmClassifier.create(...)`.
 */
import { createRequire } from 'node:module';
import type { Matrix } from '../../features/preprocess/matrix.js';
import { checkFitInput, checkPredictInput, encodeLabels, type Classifier } from './classifier.js';

/* The slice of libsvm-js's API used here. */
interface LibsvmModel {
  train(samples: number[][], labels: number[]): void;
  predictOne(sample: number[] | Float64Array): number;
  /** Indices of the training samples that became support vectors. */
  getSVIndices(): number[];
  /** The model in libsvm's text format (its support vectors' weights among it). */
  serializeModel(): string;
  free(): void;
}
interface LibsvmCtor {
  new (options: Record<string, unknown>): LibsvmModel;
  SVM_TYPES: Record<string, string>;
  KERNEL_TYPES: Record<string, string>;
}

let loading: Promise<LibsvmCtor> | undefined;

/**
 * Loads libsvm-js's wasm build once. Two side effects of the emscripten glue are undone: it would print a warning
 * while trying `fetch` on a file path (we hide `WebAssembly.instantiateStreaming` during the load, so it reads the
 * file directly), and it installs an `unhandledRejection` handler that exits the process (removed again).
 */
export function loadLibsvm(): Promise<LibsvmCtor> {
  loading ??= (() => {
    const require = createRequire(import.meta.url);
    const wa = (globalThis as unknown as { WebAssembly: { instantiateStreaming?: unknown } }).WebAssembly;
    const streaming = wa.instantiateStreaming;
    const before = new Set(process.listeners('unhandledRejection'));
    let p: Promise<LibsvmCtor>;
    try {
      wa.instantiateStreaming = undefined;
      p = require('libsvm-js/wasm') as Promise<LibsvmCtor>;
    } finally {
      wa.instantiateStreaming = streaming;
      for (const l of process.listeners('unhandledRejection')) if (!before.has(l)) process.off('unhandledRejection', l);
    }
    return p;
  })();
  return loading;
}

export type SvmKernel = 'linear' | 'rbf';

const freer = new FinalizationRegistry<LibsvmModel>((m) => m.free());

export class SvmClassifier implements Classifier {
  readonly name: string;
  private model?: LibsvmModel;
  private cls?: Int32Array;
  private cols?: number;
  /** The RBF gamma actually used (after resolving 'scale'). */
  gammaUsed = 0;

  private constructor(
    private readonly lib: LibsvmCtor,
    readonly kernel: SvmKernel,
    /** C, the soft-margin cost (> 0). */
    readonly cost: number,
    /** RBF width: a number, or 'scale' = 1 / (features · variance of X), scikit-learn's default. */
    readonly gamma: number | 'scale',
  ) {
    if (kernel !== 'linear' && kernel !== 'rbf') throw new RangeError(`svm: kernel must be linear or rbf, got '${kernel}'`);
    if (!(cost > 0)) throw new RangeError(`svm: cost must be > 0, got ${cost}`);
    if (gamma !== 'scale' && !(gamma > 0)) throw new RangeError(`svm: gamma must be > 0 or 'scale', got ${gamma}`);
    this.name = `svm-${kernel}`;
  }

  static async create(kernel: SvmKernel, cost = 1, gamma: number | 'scale' = 'scale'): Promise<SvmClassifier> {
    return new SvmClassifier(await loadLibsvm(), kernel, cost, gamma);
  }

  fit(X: Matrix, y: Int32Array): void {
    checkFitInput(this.name, X, y);
    this.dispose();
    const { classes } = encodeLabels(y);
    let gamma = 0;
    if (this.kernel === 'rbf') {
      if (this.gamma === 'scale') {
        let s = 0, s2 = 0;
        for (const v of X.data) { s += v; s2 += v * v; }
        const mean = s / X.data.length;
        const variance = s2 / X.data.length - mean * mean;
        gamma = variance > 0 ? 1 / (X.cols * variance) : 1;
      } else gamma = this.gamma;
    }
    this.gammaUsed = gamma;
    const samples: number[][] = [];
    for (let r = 0; r < X.rows; r++) samples.push(Array.from(X.data.subarray(r * X.cols, (r + 1) * X.cols)));
    const model = new this.lib({
      type: this.lib.SVM_TYPES.C_SVC,
      kernel: this.kernel === 'rbf' ? this.lib.KERNEL_TYPES.RBF : this.lib.KERNEL_TYPES.LINEAR,
      cost: this.cost,
      ...(this.kernel === 'rbf' ? { gamma } : {}),
      quiet: true,
    });
    model.train(samples, Array.from(y));
    freer.register(this, model, this);
    this.model = model;
    this.cls = classes;
    this.cols = X.cols;
  }

  predict(X: Matrix): Int32Array {
    checkPredictInput(this.name, X, this.cols);
    const out = new Int32Array(X.rows);
    for (let r = 0; r < X.rows; r++) out[r] = this.model!.predictOne(X.data.subarray(r * X.cols, (r + 1) * X.cols));
    return out;
  }

  classes(): Int32Array {
    if (!this.cls) throw new Error(`${this.name}: not fitted`);
    return this.cls;
  }

  dispose(): void {
    if (this.model) {
      freer.unregister(this);
      this.model.free();
      this.model = undefined;
    }
  }
}
