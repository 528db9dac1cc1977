/**
 * @module engine/weights
 * The flat-weights file of a neural model: 8-byte magic "SAWEIGHT", uint32 LE format version, uint32 LE count, then
 * `count` float32 LE values (the flat `params` buffer the model's ONNX forward graph takes as its input).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { TraceError } from '../trace/errors.js';

export const WEIGHTS_MAGIC = 'SAWEIGHT';
export const WEIGHTS_VERSION = 1;
const HEADER = 16;

export function encodeWeights(params: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(HEADER + 4 * params.length);
  const view = new DataView(out.buffer);
  out.set(new TextEncoder().encode(WEIGHTS_MAGIC), 0);
  view.setUint32(8, WEIGHTS_VERSION, true);
  view.setUint32(12, params.length, true);
  for (let i = 0; i < params.length; i++) view.setFloat32(HEADER + 4 * i, params[i]!, true);
  return out;
}

/** Decodes a weights file; `file` names it in errors. Throws TraceError on a wrong magic, version or length. */
export function decodeWeights(bytes: Uint8Array, file: string): Float32Array {
  if (bytes.length < HEADER || new TextDecoder().decode(bytes.subarray(0, 8)) !== WEIGHTS_MAGIC) {
    throw new TraceError(file, 0, `not a weights file (magic ${WEIGHTS_MAGIC} missing)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  if (version !== WEIGHTS_VERSION) throw new TraceError(file, 8, `weights format version ${version}, expected ${WEIGHTS_VERSION}`);
  const count = view.getUint32(12, true);
  if (bytes.length !== HEADER + 4 * count) {
    throw new TraceError(file, 12, `${bytes.length} bytes, expected ${HEADER + 4 * count} for ${count} weights`);
  }
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = view.getFloat32(HEADER + 4 * i, true);
  return out;
}

export async function writeWeights(path: string, params: ArrayLike<number>): Promise<void> {
  await writeFile(path, encodeWeights(params));
}

export async function readWeights(path: string): Promise<Float32Array> {
  return decodeWeights(await readFile(path), path);
}
