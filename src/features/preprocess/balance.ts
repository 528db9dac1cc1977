/**
 * @module features/preprocess/balance
 * Class balancing of training rows (seeded): undersample every class to the smallest one, or randomly oversample
 * (with replacement) every class up to the largest one. Test data is never resampled: `transform` is the identity.
 */
import { classCounts, rng, shuffle, takeLabels, takeRows, type Matrix } from './matrix.js';
import type { Stage } from './stage.js';

export type BalanceMode = 'undersample' | 'oversample';

export class ClassBalancer implements Stage {
  readonly kind = 'balance';
  readonly settings: Readonly<{ mode: BalanceMode; seed: number }>;
  readonly fitted = true;

  constructor(mode: BalanceMode, seed: number) {
    if (mode !== 'undersample' && mode !== 'oversample') throw new RangeError(`balance: mode must be undersample or oversample, got '${mode}'`);
    if (!Number.isInteger(seed)) throw new RangeError(`balance: seed must be an integer, got ${seed}`);
    this.settings = Object.freeze({ mode, seed });
  }

  fit(): void {}

  transform(X: Matrix): Matrix {
    return X;
  }

  /** The balanced rows, in a seeded random order. */
  resample(X: Matrix, y: Int32Array): { X: Matrix; y: Int32Array } {
    if (y.length !== X.rows) throw new RangeError(`balance: ${X.rows} rows but ${y.length} labels`);
    const rand = rng(this.settings.seed);
    const byClass = new Map<number, number[]>();
    y.forEach((c, i) => {
      let a = byClass.get(c);
      if (!a) byClass.set(c, (a = []));
      a.push(i);
    });
    const sizes = [...classCounts(y).values()];
    if (sizes.length === 0) return { X, y };
    const target = this.settings.mode === 'undersample' ? Math.min(...sizes) : Math.max(...sizes);
    const take: number[] = [];
    for (const [, rows] of [...byClass.entries()].sort((a, b) => a[0] - b[0])) {
      if (this.settings.mode === 'undersample') {
        shuffle(rows, rand);
        take.push(...rows.slice(0, target));
      } else {
        take.push(...rows);
        for (let k = rows.length; k < target; k++) take.push(rows[Math.floor(rand() * rows.length)]);
      }
    }
    shuffle(take, rand);
    return { X: takeRows(X, take), y: takeLabels(y, take) };
  }

  outputNames(names: readonly string[]): string[] {
    return [...names];
  }

  state(): unknown {
    return {};
  }

  restore(): void {}
}
