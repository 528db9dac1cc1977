/**
 * @module features/preprocess/stage
 * The contract of a preprocessing stage (scikit-learn style): settings are given at construction and never change;
 * `fit` learns state from training data only; `transform` applies that state to any data. Stages that change the
 * set of rows (class balancing) also `resample`, which a pipeline calls on training data only.
 */
import type { Matrix } from './matrix.js';

export interface Stage {
  /** Stable name used in saved pipelines, e.g. 'minmax', 'fisher'. */
  readonly kind: string;
  /** Construction settings, frozen. */
  readonly settings: Readonly<Record<string, number | string | boolean>>;
  readonly fitted: boolean;
  /** Learns state from training rows `X` with labels `y`. // X: [n, d], y: [n] */
  fit(X: Matrix, y: Int32Array): void;
  /** Applies the learned state. Throws if not fitted. Resamplers return X unchanged. // [n, d] → [n, d'] */
  transform(X: Matrix): Matrix;
  /** Training-only row resampling (balancing); absent on stages that keep rows. */
  resample?(X: Matrix, y: Int32Array): { X: Matrix; y: Int32Array };
  /** Names of the output columns given the input column names. */
  outputNames(names: readonly string[]): string[];
  /** The learned state as JSON (undefined before fit). */
  state(): unknown;
  /** Restores state saved by `state()`. */
  restore(state: unknown): void;
}

export function needFitted(s: Stage): void {
  if (!s.fitted) throw new Error(`${s.kind}: transform before fit`);
}

export function needCols(s: Stage, X: Matrix, cols: number): void {
  if (X.cols !== cols) throw new RangeError(`${s.kind}: fitted on ${cols} columns, got ${X.cols}`);
}
