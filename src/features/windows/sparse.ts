/**
 * @module features/windows/sparse
 * Compressed sparse rows (CSR) for window vectors: most syscalls do not occur in most windows.
 */
import { matrix, type Matrix } from '../preprocess/matrix.js';

/** A CSR matrix. Row r's entries are `indices/values[indptr[r] .. indptr[r+1])`, column indexes ascending. */
export interface CsrMatrix {
  readonly rows: number;
  /** Number of columns; rows built before the vocabulary grew simply have no entries in the later columns. */
  readonly cols: number;
  /** // [rows + 1] */
  readonly indptr: Float64Array;
  /** // [nnz] */
  readonly indices: Uint32Array;
  /** // [nnz] */
  readonly values: Float64Array;
}

/** Appends sparse rows; grows its typed arrays geometrically. */
export class CsrBuilder {
  private indptr: number[] = [0];
  private indices = new Uint32Array(1024);
  private values = new Float64Array(1024);
  private nnz = 0;
  private maxCol = 0;

  get rows(): number {
    return this.indptr.length - 1;
  }

  /** Adds one row; `indices` must be ascending and distinct. Zero values are skipped. */
  push(indices: ArrayLike<number>, values: ArrayLike<number>): void {
    if (indices.length !== values.length) throw new RangeError('CsrBuilder.push: indices and values differ in length');
    if (this.nnz + indices.length > this.indices.length) {
      let cap = this.indices.length;
      while (cap < this.nnz + indices.length) cap *= 2;
      const i2 = new Uint32Array(cap);
      i2.set(this.indices.subarray(0, this.nnz));
      const v2 = new Float64Array(cap);
      v2.set(this.values.subarray(0, this.nnz));
      this.indices = i2;
      this.values = v2;
    }
    let prev = -1;
    for (let k = 0; k < indices.length; k++) {
      const c = indices[k];
      if (!(c > prev)) throw new RangeError('CsrBuilder.push: indices must be ascending and distinct');
      prev = c;
      if (values[k] === 0) continue;
      this.indices[this.nnz] = c;
      this.values[this.nnz] = values[k];
      this.nnz++;
      if (c + 1 > this.maxCol) this.maxCol = c + 1;
    }
    this.indptr.push(this.nnz);
  }

  /** The matrix so far; `cols` defaults to one past the largest column seen. */
  build(cols?: number): CsrMatrix {
    const c = cols ?? this.maxCol;
    if (c < this.maxCol) throw new RangeError(`CsrBuilder.build: cols ${c} < largest column ${this.maxCol}`);
    return {
      rows: this.rows,
      cols: c,
      indptr: Float64Array.from(this.indptr),
      indices: this.indices.slice(0, this.nnz),
      values: this.values.slice(0, this.nnz),
    };
  }
}

/** The dense copy, with `cols` columns (default: the matrix's own). */
export function csrToDense(m: CsrMatrix, cols = m.cols): Matrix {
  const out = matrix(m.rows, cols);
  for (let r = 0; r < m.rows; r++) {
    for (let k = m.indptr[r]; k < m.indptr[r + 1]; k++) {
      const c = m.indices[k];
      if (c < cols) out.data[r * cols + c] = m.values[k];
    }
  }
  return out;
}

/** Value at (r, c); 0 when absent. */
export function csrGet(m: CsrMatrix, r: number, c: number): number {
  for (let k = m.indptr[r]; k < m.indptr[r + 1]; k++) if (m.indices[k] === c) return m.values[k];
  return 0;
}

/** Stacks CSR matrices vertically (columns: the widest). */
export function csrVStack(parts: CsrMatrix[]): CsrMatrix {
  const b = new CsrBuilder();
  let cols = 0;
  for (const p of parts) {
    cols = Math.max(cols, p.cols);
    for (let r = 0; r < p.rows; r++) {
      const a = p.indptr[r];
      const e = p.indptr[r + 1];
      b.push(p.indices.subarray(a, e), p.values.subarray(a, e));
    }
  }
  return b.build(cols);
}
