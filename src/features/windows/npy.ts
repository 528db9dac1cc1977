/**
 * @module features/windows/npy
 * Writes and reads NumPy `.npy` files (format 1.0, little-endian, C order) so that Python/scikit-learn can load
 * window matrices with `numpy.load`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { TraceError } from '../../trace/errors.js';

type NpyArray = Float64Array | Int32Array;

/** Writes `data` with `shape` (row-major) as `.npy`: '<f8' for Float64Array, '<i4' for Int32Array. */
export function writeNpy(path: string, data: NpyArray, shape: readonly number[]): void {
  const n = shape.reduce((a, b) => a * b, 1);
  if (n !== data.length) throw new RangeError(`writeNpy: shape [${shape.join(', ')}] needs ${n} values, got ${data.length}`);
  const descr = data instanceof Float64Array ? '<f8' : '<i4';
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const pre = Buffer.alloc(10);
  pre.write('\x93NUMPY', 0, 'latin1');
  pre[6] = 1;
  pre[7] = 0;
  pre.writeUInt16LE(header.length, 8);
  const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  writeFileSync(path, Buffer.concat([pre, Buffer.from(header, 'latin1'), body]));
}

/** Reads a `.npy` written by `writeNpy` (or numpy, for '<f8'/'<i4', C order). */
export function readNpy(path: string): { data: NpyArray; shape: number[] } {
  const b = readFileSync(path);
  if (b.length < 10 || b.toString('latin1', 0, 6) !== '\x93NUMPY') throw new TraceError(path, 0, 'not a .npy file (bad magic)');
  const major = b[6];
  const hlen = major === 1 ? b.readUInt16LE(8) : b.readUInt32LE(8);
  const hstart = major === 1 ? 10 : 12;
  const header = b.toString('latin1', hstart, hstart + hlen);
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeText === undefined) throw new TraceError(path, hstart, 'unreadable .npy header');
  if (fortran === 'True') throw new TraceError(path, hstart, 'Fortran-order .npy is not supported');
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s.length).map(Number);
  const n = shape.reduce((a, c) => a * c, 1);
  const off = hstart + hlen;
  const bytes = b.subarray(off);
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  let data: NpyArray;
  if (descr === '<f8') data = new Float64Array(copy.buffer, 0, Math.floor(copy.length / 8));
  else if (descr === '<i4') data = new Int32Array(copy.buffer, 0, Math.floor(copy.length / 4));
  else throw new TraceError(path, hstart, `unsupported dtype ${descr}`);
  if (data.length !== n) throw new TraceError(path, off, `expected ${n} values for shape (${shape.join(', ')}), found ${data.length}`);
  return { data, shape };
}
