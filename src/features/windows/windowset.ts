/**
 * @module features/windows/windowset
 * A labelled set of window vectors: sparse rows + class label + group (recording run / trace id) + the vocabulary
 * that indexes the columns. Saved as one binary file (magic 'SAWS', version 1) and exportable as `.npy` for Python.
 */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { SyscallEvent } from '../../trace/event.js';
import { TraceError } from '../../trace/errors.js';
import type { Matrix } from '../preprocess/matrix.js';
import { CsrBuilder, csrToDense, type CsrMatrix } from './sparse.js';
import { SyscallVocabulary } from './vocabulary.js';
import {
  columnsPerSlot, emptyWindowStats, featureNames, windowConfig, windows, windowsSync, type Window, type WindowConfig, type WindowStats,
} from './windows.js';
import { writeNpy } from './npy.js';

export const WINDOWSET_MAGIC = 0x53574153; // 'SAWS' little-endian
export const WINDOWSET_VERSION = 1;

export class WindowSet {
  constructor(
    /** // [rows, cols] sparse; cols may be < featureCount when the vocabulary grew after the last row */
    readonly X: CsrMatrix,
    /** Class id per row (index into `classNames`). // [rows] */
    readonly labels: Int32Array,
    readonly classNames: readonly string[],
    /** Group id per row (index into `groupNames`): the recording run or trace the window came from. // [rows] */
    readonly groups: Int32Array,
    readonly groupNames: readonly string[],
    readonly vocabulary: SyscallVocabulary,
    readonly config: WindowConfig,
    readonly stats: WindowStats,
  ) {
    if (labels.length !== X.rows || groups.length !== X.rows) {
      throw new RangeError(`WindowSet: ${X.rows} rows, ${labels.length} labels, ${groups.length} groups`);
    }
  }

  get rows(): number {
    return this.X.rows;
  }

  /** Columns: vocabulary slots × (1, or 2 for 'both'). */
  get featureCount(): number {
    return this.vocabulary.size * columnsPerSlot(this.config.features);
  }

  featureNames(): string[] {
    return featureNames(this.vocabulary, this.config.features);
  }

  /** Dense copy, all `featureCount` columns. // [rows, featureCount] */
  dense(): Matrix {
    return csrToDense(this.X, this.featureCount);
  }

  /** Saves as: u32 magic, u32 version, u32 header bytes, JSON header, pad to 8, indptr f64, values f64, indices u32, labels i32, groups i32. */
  save(path: string): void {
    const header = Buffer.from(JSON.stringify({
      rows: this.X.rows, cols: this.X.cols, nnz: this.X.indices.length, config: this.config,
      vocabulary: this.vocabulary.toJSON(), classNames: this.classNames, groupNames: this.groupNames, stats: this.stats,
    }), 'utf8');
    const pre = Buffer.alloc(12);
    pre.writeUInt32LE(WINDOWSET_MAGIC, 0);
    pre.writeUInt32LE(WINDOWSET_VERSION, 4);
    pre.writeUInt32LE(header.length, 8);
    const pad = Buffer.alloc((8 - ((12 + header.length) % 8)) % 8);
    const view = (a: Float64Array | Uint32Array | Int32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
    writeFileSync(path, Buffer.concat([pre, header, pad, view(this.X.indptr), view(this.X.values), view(this.X.indices),
      view(this.labels), view(this.groups)]));
  }

  static load(path: string): WindowSet {
    const b = readFileSync(path);
    if (b.length < 12) throw new TraceError(path, 0, 'too short for a window set');
    if (b.readUInt32LE(0) !== WINDOWSET_MAGIC) throw new TraceError(path, 0, 'not a window set (bad magic)');
    const version = b.readUInt32LE(4);
    if (version !== WINDOWSET_VERSION) throw new TraceError(path, 4, `window set version ${version} is not supported (expected ${WINDOWSET_VERSION})`);
    const hlen = b.readUInt32LE(8);
    if (12 + hlen > b.length) throw new TraceError(path, 8, `header length ${hlen} runs past the end of the file`);
    let h: any;
    try {
      h = JSON.parse(b.toString('utf8', 12, 12 + hlen));
    } catch (e) {
      throw new TraceError(path, 12, `bad JSON header: ${(e as Error).message}`);
    }
    const { rows, cols, nnz } = h;
    if (![rows, cols, nnz].every((v) => Number.isInteger(v) && v >= 0)) throw new TraceError(path, 12, 'header lacks rows/cols/nnz');
    let off = 12 + hlen;
    off += (8 - (off % 8)) % 8;
    const need = off + (rows + 1) * 8 + nnz * 8 + nnz * 4 + rows * 4 * 2;
    if (need !== b.length) throw new TraceError(path, off, `file has ${b.length} bytes, header implies ${need}`);
    const take = <T>(n: number, bytes: number, make: (buf: ArrayBuffer) => T): T => {
      const copy = new Uint8Array(n * bytes);
      copy.set(b.subarray(off, off + n * bytes));
      off += n * bytes;
      return make(copy.buffer);
    };
    const indptr = take(rows + 1, 8, (a) => new Float64Array(a));
    const values = take(nnz, 8, (a) => new Float64Array(a));
    const indices = take(nnz, 4, (a) => new Uint32Array(a));
    const labels = take(rows, 4, (a) => new Int32Array(a));
    const groups = take(rows, 4, (a) => new Int32Array(a));
    const vocab = SyscallVocabulary.fromJSON(h.vocabulary);
    const config = windowConfig(h.config);
    for (let r = 0; r < rows; r++) {
      if (!(indptr[r] <= indptr[r + 1])) throw new TraceError(path, 12 + hlen, `indptr not ascending at row ${r}`);
      if (labels[r] < 0 || labels[r] >= h.classNames.length) throw new TraceError(path, 12 + hlen, `row ${r}: label ${labels[r]} out of range`);
      if (groups[r] < 0 || groups[r] >= h.groupNames.length) throw new TraceError(path, 12 + hlen, `row ${r}: group ${groups[r]} out of range`);
    }
    if (indptr[rows] !== nnz) throw new TraceError(path, 12 + hlen, `indptr ends at ${indptr[rows]}, nnz is ${nnz}`);
    for (const c of indices) if (c >= cols) throw new TraceError(path, 12 + hlen, `column ${c} ≥ cols ${cols}`);
    return new WindowSet({ rows, cols, indptr, indices, values }, labels, h.classNames, groups, h.groupNames, vocab, config,
      { ...emptyWindowStats(), ...h.stats });
  }

  /**
   * Writes `X.npy` (float64, dense [rows, featureCount]), `y.npy` and `groups.npy` (int32) and `meta.json`
   * (feature, class and group names) into `dir`, for `numpy.load` / scikit-learn.
   */
  exportNpy(dir: string): void {
    mkdirSync(dir, { recursive: true });
    const X = this.dense();
    writeNpy(join(dir, 'X.npy'), X.data, [X.rows, X.cols]);
    writeNpy(join(dir, 'y.npy'), this.labels, [this.rows]);
    writeNpy(join(dir, 'groups.npy'), this.groups, [this.rows]);
    writeFileSync(join(dir, 'meta.json'), JSON.stringify({
      featureNames: this.featureNames(), classNames: this.classNames, groupNames: this.groupNames, config: this.config,
    }));
  }
}

/**
 * Collects windows from several sources into one WindowSet, each source with its class label and group.
 * Give a growing vocabulary for training data (it is frozen by `build()`), the training set's frozen one for test data.
 */
export class WindowSetBuilder {
  private readonly csr = new CsrBuilder();
  private readonly labels: number[] = [];
  private readonly groups: number[] = [];
  private readonly classIds = new Map<string, number>();
  private readonly groupIds = new Map<string, number>();
  readonly stats: WindowStats = emptyWindowStats();

  constructor(readonly vocabulary: SyscallVocabulary, readonly config: WindowConfig, classNames: readonly string[] = []) {
    windowConfig(config);
    for (const c of classNames) this.classId(c);
  }

  private classId(name: string): number {
    let id = this.classIds.get(name);
    if (id === undefined) this.classIds.set(name, (id = this.classIds.size));
    return id;
  }

  private groupId(name: string): number {
    let id = this.groupIds.get(name);
    if (id === undefined) this.groupIds.set(name, (id = this.groupIds.size));
    return id;
  }

  /** Windows `source`, labels each window `label`, puts it in `group`. Returns the number of windows added. */
  async add(source: AsyncIterable<SyscallEvent> | Iterable<SyscallEvent>, label: string, group: string): Promise<number> {
    const c = this.classId(label);
    const g = this.groupId(group);
    const st = emptyWindowStats();
    let n = 0;
    const sink = (w: Window) => {
      this.csr.push(w.indices, w.values);
      this.labels.push(c);
      this.groups.push(g);
      n++;
    };
    if (Symbol.asyncIterator in source) for await (const w of windows(source, this.vocabulary, this.config, st)) sink(w);
    else for (const w of windowsSync(source, this.vocabulary, this.config, st)) sink(w);
    for (const k of Object.keys(st) as (keyof WindowStats)[]) this.stats[k] += st[k];
    return n;
  }

  /** Adds one precomputed sparse row (e.g. from a reader that already counts per trace). */
  addRow(indices: ArrayLike<number>, values: ArrayLike<number>, label: string, group: string): void {
    this.csr.push(indices, values);
    this.labels.push(this.classId(label));
    this.groups.push(this.groupId(group));
    this.stats.windows++;
  }

  /** The set; freezes the vocabulary. */
  build(): WindowSet {
    this.vocabulary.freeze();
    const X = this.csr.build();
    return new WindowSet(X, Int32Array.from(this.labels), [...this.classIds.keys()], Int32Array.from(this.groups),
      [...this.groupIds.keys()], this.vocabulary, this.config, { ...this.stats });
  }
}

/** One source → a WindowSet whose rows all have `label` and `group`. */
export async function buildWindows(
  source: AsyncIterable<SyscallEvent> | Iterable<SyscallEvent>,
  vocabulary: SyscallVocabulary,
  config: WindowConfig,
  label: string,
  group: string,
): Promise<WindowSet> {
  const b = new WindowSetBuilder(vocabulary, config);
  await b.add(source, label, group);
  return b.build();
}
