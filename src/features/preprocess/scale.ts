/**
 * @module features/preprocess/scale
 * Normalisation stages: min-max and z-score per column (statistics from training data only), L2 per row, log1p.
 */
import { matrix, type Matrix } from './matrix.js';
import { needCols, needFitted, type Stage } from './stage.js';

/**
 * Per column: (x − shift) / scale, with shift and scale learned on training data. Min-max and z-score differ only
 * in how they fit them; their saved state keeps its own names (`min`/`range`, `mean`/`scale`).
 */
abstract class ColumnAffine implements Stage {
  abstract readonly kind: string;
  readonly settings = Object.freeze({});
  private shift?: Float64Array;
  private scale?: Float64Array;

  constructor(private readonly stateNames: readonly [shift: string, scale: string]) {}

  get fitted(): boolean {
    return this.shift !== undefined;
  }

  /** Learns [shift, scale] per column. */
  protected abstract learn(X: Matrix): [Float64Array, Float64Array];

  fit(X: Matrix): void {
    [this.shift, this.scale] = this.learn(X);
  }

  transform(X: Matrix): Matrix {
    needFitted(this);
    needCols(this, X, this.shift!.length);
    const out = matrix(X.rows, X.cols);
    for (let i = 0; i < X.data.length; i++) {
      const c = i % X.cols;
      out.data[i] = (X.data[i] - this.shift![c]) / this.scale![c];
    }
    return out;
  }

  outputNames(names: readonly string[]): string[] {
    return [...names];
  }

  state(): unknown {
    const [a, b] = this.stateNames;
    return this.shift && { [a]: [...this.shift], [b]: [...this.scale!] };
  }

  restore(s: Record<string, number[]>): void {
    const [a, b] = this.stateNames;
    this.shift = Float64Array.from(s[a]!);
    this.scale = Float64Array.from(s[b]!);
  }
}

/** Per column: (x − min) / (max − min), min/max learned on train; constant columns map to 0. Test values may leave [0, 1]. */
export class MinMaxScaler extends ColumnAffine {
  readonly kind = 'minmax';

  constructor() {
    super(['min', 'range']);
  }

  protected learn(X: Matrix): [Float64Array, Float64Array] {
    const min = new Float64Array(X.cols).fill(Infinity);
    const max = new Float64Array(X.cols).fill(-Infinity);
    for (let r = 0; r < X.rows; r++) {
      for (let c = 0; c < X.cols; c++) {
        const v = X.data[r * X.cols + c];
        if (v < min[c]) min[c] = v;
        if (v > max[c]) max[c] = v;
      }
    }
    const range = new Float64Array(X.cols);
    for (let c = 0; c < X.cols; c++) {
      if (X.rows === 0) min[c] = 0;
      range[c] = X.rows === 0 || max[c] === min[c] ? 1 : max[c] - min[c];
    }
    return [min, range];
  }
}

/** Per column: (x − mean) / std (population std, as scikit-learn's StandardScaler); zero-std columns keep scale 1. */
export class StandardScaler extends ColumnAffine {
  readonly kind = 'zscore';

  constructor() {
    super(['mean', 'scale']);
  }

  protected learn(X: Matrix): [Float64Array, Float64Array] {
    const mean = new Float64Array(X.cols);
    const m2 = new Float64Array(X.cols);
    for (let r = 0; r < X.rows; r++) for (let c = 0; c < X.cols; c++) mean[c] += X.data[r * X.cols + c];
    for (let c = 0; c < X.cols; c++) mean[c] /= Math.max(1, X.rows);
    for (let r = 0; r < X.rows; r++) {
      for (let c = 0; c < X.cols; c++) {
        const d = X.data[r * X.cols + c] - mean[c];
        m2[c] += d * d;
      }
    }
    const scale = new Float64Array(X.cols);
    for (let c = 0; c < X.cols; c++) {
      const sd = Math.sqrt(m2[c] / Math.max(1, X.rows));
      scale[c] = sd > 1e-12 * Math.max(1, Math.abs(mean[c])) ? sd : 1;
    }
    return [mean, scale];
  }
}

/** A stage that learns nothing (row-wise or element-wise maps): fitted from the start, same columns, no state. */
abstract class StatelessStage implements Stage {
  abstract readonly kind: string;
  abstract readonly settings: Readonly<Record<string, number | string | boolean>>;
  readonly fitted = true;

  fit(): void {}

  abstract transform(X: Matrix): Matrix;

  outputNames(names: readonly string[]): string[] {
    return [...names];
  }

  state(): unknown {
    return {};
  }

  restore(): void {}
}

/** Each row divided by its L2 norm (all-zero rows stay zero). Stateless. */
export class L2RowNormalizer extends StatelessStage {
  readonly kind = 'l2';
  readonly settings = Object.freeze({});
  transform(X: Matrix): Matrix {
    const out = matrix(X.rows, X.cols);
    for (let r = 0; r < X.rows; r++) {
      let s = 0;
      for (let c = 0; c < X.cols; c++) s += X.data[r * X.cols + c] ** 2;
      const n = Math.sqrt(s) || 1;
      for (let c = 0; c < X.cols; c++) out.data[r * X.cols + c] = X.data[r * X.cols + c] / n;
    }
    return out;
  }
}

/** log(1 + x) element-wise, for heavy-tailed counts and durations (x must be > −1). Stateless. */
export class Log1pTransform extends StatelessStage {
  readonly kind = 'log1p';
  readonly settings = Object.freeze({});
  transform(X: Matrix): Matrix {
    const out = matrix(X.rows, X.cols);
    for (let i = 0; i < X.data.length; i++) {
      const v = X.data[i];
      if (!(v > -1)) throw new RangeError(`log1p: value ${v} at row ${Math.floor(i / X.cols)}, column ${i % X.cols} is ≤ −1`);
      out.data[i] = Math.log1p(v);
    }
    return out;
  }
}

/** Each row divided by its sum (counts → frequencies; all-zero rows stay zero), optionally then square-rooted (Hellinger). Stateless. */
export class RowFrequency extends StatelessStage {
  readonly kind = 'frequency';
  readonly settings: Readonly<{ sqrt: boolean }>;

  constructor(sqrt: boolean) {
    super();
    if (typeof sqrt !== 'boolean') throw new TypeError('frequency: sqrt must be a boolean');
    this.settings = Object.freeze({ sqrt });
  }

  transform(X: Matrix): Matrix {
    const out = matrix(X.rows, X.cols);
    for (let r = 0; r < X.rows; r++) {
      let s = 0;
      for (let c = 0; c < X.cols; c++) {
        const v = X.data[r * X.cols + c];
        if (v < 0) throw new RangeError(`frequency: negative value ${v} at row ${r}, column ${c}`);
        s += v;
      }
      for (let c = 0; c < X.cols; c++) {
        const f = s ? X.data[r * X.cols + c] / s : 0;
        out.data[r * X.cols + c] = this.settings.sqrt ? Math.sqrt(f) : f;
      }
    }
    return out;
  }
}
