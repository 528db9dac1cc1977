/**
 * @module features/preprocess/pipeline
 * Stages in order. `fit` fits each stage on the output of the previous one (training data only), resampling where
 * a stage resamples; `transform` applies the fitted stages to new data (never resampling). Saved as JSON with each
 * stage's settings and learned state kept apart.
 */
import type { Matrix } from './matrix.js';
import type { Stage } from './stage.js';
import { ClassBalancer } from './balance.js';
import { FisherSelector } from './fisher.js';
import { L2RowNormalizer, Log1pTransform, MinMaxScaler, RowFrequency, StandardScaler } from './scale.js';

export interface SavedStage {
  kind: string;
  settings: Record<string, number | string | boolean>;
  state: unknown;
}

export class Pipeline {
  readonly stages: readonly Stage[];

  constructor(stages: readonly Stage[]) {
    this.stages = [...stages];
  }

  get fitted(): boolean {
    return this.stages.every((s) => s.fitted);
  }

  /** Fits every stage in turn; returns the transformed (and resampled) training data. */
  fit(X: Matrix, y: Int32Array): { X: Matrix; y: Int32Array } {
    let cur = { X, y };
    for (const s of this.stages) {
      s.fit(cur.X, cur.y);
      if (s.resample) cur = s.resample(cur.X, cur.y);
      else cur = { X: s.transform(cur.X), y: cur.y };
    }
    return cur;
  }

  transform(X: Matrix): Matrix {
    let cur = X;
    for (const s of this.stages) cur = s.transform(cur);
    return cur;
  }

  outputNames(names: readonly string[]): string[] {
    let cur = [...names];
    for (const s of this.stages) cur = s.outputNames(cur);
    return cur;
  }

  /** The Fisher selector in this pipeline, if any (to show which syscalls separate the classes). */
  fisher(): FisherSelector | undefined {
    return this.stages.find((s): s is FisherSelector => s instanceof FisherSelector);
  }

  toJSON(): SavedStage[] {
    return this.stages.map((s) => ({ kind: s.kind, settings: { ...s.settings }, state: s.state() }));
  }

  static fromJSON(saved: SavedStage[]): Pipeline {
    return new Pipeline(saved.map((j) => {
      const s = makeStage(j.kind, j.settings);
      if (j.state !== undefined) s.restore(j.state);
      return s;
    }));
  }
}

/** A fresh stage from its kind and settings. */
export function makeStage(kind: string, settings: Record<string, number | string | boolean>): Stage {
  switch (kind) {
    case 'minmax':
      return new MinMaxScaler();
    case 'zscore':
      return new StandardScaler();
    case 'l2':
      return new L2RowNormalizer();
    case 'log1p':
      return new Log1pTransform();
    case 'frequency':
      return new RowFrequency(Boolean(settings.sqrt));
    case 'balance':
      return new ClassBalancer(settings.mode as 'undersample' | 'oversample', Number(settings.seed));
    case 'fisher':
      return new FisherSelector(Number(settings.k));
    default:
      throw new RangeError(`unknown preprocessing stage '${kind}'`);
  }
}
