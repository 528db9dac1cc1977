/**
 * @module features/preprocess/matrix
 * The dense row-major matrix every preprocessing stage and window classifier eats, and small helpers on it.
 */

/** A dense matrix, row-major. `data[r * cols + c]`. */
export interface Matrix {
  readonly rows: number;
  readonly cols: number;
  /** // [rows, cols] */
  readonly data: Float64Array;
}

export function matrix(rows: number, cols: number, data?: Float64Array): Matrix {
  if (!Number.isInteger(rows) || rows < 0 || !Number.isInteger(cols) || cols < 0) {
    throw new RangeError(`matrix: bad shape [${rows}, ${cols}]`);
  }
  const d = data ?? new Float64Array(rows * cols);
  if (d.length !== rows * cols) throw new RangeError(`matrix: data has ${d.length} values, shape [${rows}, ${cols}] needs ${rows * cols}`);
  return { rows, cols, data: d };
}

/** Builds a matrix from an array of equal-length rows. */
export function fromRows(rows: ArrayLike<number>[]): Matrix {
  const cols = rows.length ? rows[0].length : 0;
  const m = matrix(rows.length, cols);
  rows.forEach((r, i) => {
    if (r.length !== cols) throw new RangeError(`fromRows: row ${i} has ${r.length} values, expected ${cols}`);
    for (let j = 0; j < cols; j++) m.data[i * cols + j] = r[j];
  });
  return m;
}

/** The rows at `idx`, in that order (a copy). */
export function takeRows(X: Matrix, idx: ArrayLike<number>): Matrix {
  const out = matrix(idx.length, X.cols);
  for (let i = 0; i < idx.length; i++) {
    const r = idx[i];
    if (r < 0 || r >= X.rows) throw new RangeError(`takeRows: row ${r} outside [0, ${X.rows})`);
    out.data.set(X.data.subarray(r * X.cols, (r + 1) * X.cols), i * X.cols);
  }
  return out;
}

/** The columns at `idx`, in that order (a copy). */
export function takeCols(X: Matrix, idx: ArrayLike<number>): Matrix {
  const out = matrix(X.rows, idx.length);
  for (let r = 0; r < X.rows; r++) {
    const base = r * X.cols;
    const o = r * idx.length;
    for (let j = 0; j < idx.length; j++) out.data[o + j] = X.data[base + idx[j]];
  }
  return out;
}

/** Element `idx` of a typed or plain label array, for each index (a copy). */
export function takeLabels(y: Int32Array, idx: ArrayLike<number>): Int32Array {
  const out = new Int32Array(idx.length);
  for (let i = 0; i < idx.length; i++) out[i] = y[idx[i]];
  return out;
}

/** One row as a view (no copy). */
export function row(X: Matrix, r: number): Float64Array {
  return X.data.subarray(r * X.cols, (r + 1) * X.cols);
}

/** The class ids present in `y`, sorted, and how many rows each has. */
export function classCounts(y: Int32Array): Map<number, number> {
  const m = new Map<number, number>();
  for (const c of y) m.set(c, (m.get(c) ?? 0) + 1);
  return new Map([...m.entries()].sort((a, b) => a[0] - b[0]));
}

/** Throws unless X has `y.length` rows and all values are finite. */
export function checkXy(where: string, X: Matrix, y?: Int32Array): void {
  if (y && y.length !== X.rows) throw new RangeError(`${where}: ${X.rows} rows but ${y.length} labels`);
  for (let i = 0; i < X.data.length; i++) {
    if (!Number.isFinite(X.data[i])) {
      throw new RangeError(`${where}: value at row ${Math.floor(i / X.cols)}, column ${i % X.cols} is ${X.data[i]}`);
    }
  }
}

/** A small seeded PRNG (mulberry32): the same seed gives the same stream on every platform. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher–Yates shuffle in place with `rand`. */
export function shuffle<T>(a: T[] | Int32Array | Uint32Array, rand: () => number): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
}
