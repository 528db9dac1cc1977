/**
 * @module models/tensor-file
 * The binary weights file of a model folder: named, typed little-endian arrays.
 *
 *   8 bytes  magic "SATENSOR"
 *   uint32   format version (1)
 *   uint32   number of arrays
 *   per array: uint16 name length, name (UTF-8), uint8 type (0 int32, 1 float32, 2 float64), uint32 element count,
 *              zero padding to a multiple of 8 bytes from the start of the file, then the elements (little-endian)
 *
 * Reading checks the magic, the version, every length against the file size, and that nothing trails the last
 * array; a damaged file is a `TraceError` naming the file and the byte where it went wrong.
 */
import { TraceError } from '../trace/errors.js';

export const TENSOR_MAGIC = 'SATENSOR';
export const TENSOR_VERSION = 1;

export type TensorArray = Int32Array | Float32Array | Float64Array;

const TYPES = [Int32Array, Float32Array, Float64Array] as const;

function typeCode(a: TensorArray): number {
  if (a instanceof Int32Array) return 0;
  if (a instanceof Float32Array) return 1;
  return 2;
}

const pad8 = (n: number) => (n + 7) & ~7;

/** Encodes named arrays (in the order given) into the bytes of a tensor file. */
export function encodeTensors(arrays: ReadonlyMap<string, TensorArray>): Uint8Array {
  const names = [...arrays.keys()].map((k) => Buffer.from(k, 'utf8'));
  let size = 16;
  let i = 0;
  for (const a of arrays.values()) {
    if (names[i].length > 0xffff) throw new RangeError('tensor name too long');
    size = pad8(size + 2 + names[i].length + 1 + 4) + a.byteLength;
    i++;
  }
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out.set(Buffer.from(TENSOR_MAGIC, 'latin1'), 0);
  view.setUint32(8, TENSOR_VERSION, true);
  view.setUint32(12, arrays.size, true);
  let at = 16;
  i = 0;
  for (const a of arrays.values()) {
    const name = names[i++];
    view.setUint16(at, name.length, true);
    out.set(name, at + 2);
    at += 2 + name.length;
    const code = typeCode(a);
    view.setUint8(at, code);
    view.setUint32(at + 1, a.length, true);
    at = pad8(at + 5);
    for (let k = 0; k < a.length; k++) {
      if (code === 0) view.setInt32(at + 4 * k, a[k], true);
      else if (code === 1) view.setFloat32(at + 4 * k, a[k], true);
      else view.setFloat64(at + 8 * k, a[k], true);
    }
    at += a.byteLength;
  }
  return out;
}

/** Decodes a tensor file; `file` names it in errors. */
export function decodeTensors(bytes: Uint8Array, file: string): Map<string, TensorArray> {
  if (bytes.length < 16 || Buffer.from(bytes.subarray(0, 8)).toString('latin1') !== TENSOR_MAGIC) {
    throw new TraceError(file, 0, `not a weights file (magic ${TENSOR_MAGIC} missing)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  if (version !== TENSOR_VERSION) throw new TraceError(file, 8, `weights format version ${version}, expected ${TENSOR_VERSION}`);
  const count = view.getUint32(12, true);
  const out = new Map<string, TensorArray>();
  let at = 16;
  const need = (n: number, what: string) => {
    if (at + n > bytes.length) throw new TraceError(file, at, `truncated: ${what} needs ${n} bytes, ${bytes.length - at} left`);
  };
  for (let i = 0; i < count; i++) {
    need(2, 'a name length');
    const len = view.getUint16(at, true);
    need(2 + len + 5, 'a name and header');
    const name = Buffer.from(bytes.subarray(at + 2, at + 2 + len)).toString('utf8');
    at += 2 + len;
    const code = view.getUint8(at);
    const ctor = TYPES[code];
    if (ctor === undefined) throw new TraceError(file, at, `array '${name}': unknown element type ${code}`);
    const n = view.getUint32(at + 1, true);
    at = pad8(at + 5);
    need(n * ctor.BYTES_PER_ELEMENT, `array '${name}' (${n} elements)`);
    const a = new ctor(n);
    for (let k = 0; k < n; k++) {
      a[k] = code === 0 ? view.getInt32(at + 4 * k, true) : code === 1 ? view.getFloat32(at + 4 * k, true) : view.getFloat64(at + 8 * k, true);
    }
    at += a.byteLength;
    if (out.has(name)) throw new TraceError(file, at, `array '${name}' appears twice`);
    out.set(name, a);
  }
  if (at !== bytes.length) throw new TraceError(file, at, `${bytes.length - at} unexpected bytes after the last array`);
  return out;
}

/**
 * Checked access to the arrays of a decoded weight file: `get(name, type, length?)` returns the array or throws a
 * TraceError naming `file` and the array (missing, of another type, or not `length` long); `bad(what)` makes such an
 * error, prefixed with `label` (e.g. `timing model`), for a model's own checks.
 */
export function arrayReader(file: string, arrays: ReadonlyMap<string, TensorArray>, label: string): {
  bad: (what: string) => TraceError;
  get: <A extends TensorArray>(name: string, type: new (n: number) => A, length?: number) => A;
} {
  const bad = (what: string) => new TraceError(file, 0, `${label}: ${what}`);
  const get = <A extends TensorArray>(name: string, type: new (n: number) => A, length?: number): A => {
    const a = arrays.get(name);
    if (!(a instanceof type) || (length !== undefined && a.length !== length)) {
      throw bad(`array '${name}' missing, not ${type.name}${length === undefined ? '' : `, or not ${length} long`}`);
    }
    return a;
  };
  return { bad, get };
}
