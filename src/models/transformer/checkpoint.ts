/**
 * @module models/transformer/checkpoint
 * The attention models' training checkpoint: everything needed to continue a run exactly where it stopped —
 * parameters, Adam moments and step count, the position in the epoch's (seeded, hence reproducible) step plan, the
 * epoch history and the early-stopping state with the best parameters so far.
 *
 * Layout: 8-byte magic "SAATTNCK", uint32 LE format version, uint32 LE header length, the UTF-8 JSON header
 * ({@link AttentionCheckpointHeader}), zero padding to a multiple of 4, then the float32 LE arrays the header lists,
 * in order. Written atomically (temporary file, fsync, rename: `models/lstm/checkpoint.writeAtomically`).
 */
import { readFile } from 'node:fs/promises';
import { TraceError } from '../../trace/errors.js';
import type { EpochRecord } from '../lstm/checkpoint.js';
import type { TransformerConfig } from './network.js';

export const CHECKPOINT_MAGIC = 'SAATTNCK';
export const CHECKPOINT_VERSION = 1;

export interface AttentionCheckpointHeader {
  kind: string;
  config: TransformerConfig;
  /** Fingerprint of the training sequences (`models/lstm/chunks.fingerprint`). */
  data: string;
  /** 0-based epoch in progress and the steps of its plan already taken. */
  epoch: number;
  stepInEpoch: number;
  trainerSteps: number;
  lossSum: number;
  tokens: number;
  history: EpochRecord[];
  best: { loss: number; epoch: number } | null;
  sinceBest: number;
  stopped: boolean;
  /** The float32 arrays that follow the header, in order. */
  arrays: { name: string; length: number }[];
}

export function encodeCheckpoint(header: Omit<AttentionCheckpointHeader, 'arrays'>, arrays: ReadonlyMap<string, Float32Array>): Uint8Array {
  const full: AttentionCheckpointHeader = { ...header, arrays: [...arrays].map(([name, a]) => ({ name, length: a.length })) };
  const json = new TextEncoder().encode(JSON.stringify(full));
  const start = Math.ceil((16 + json.length) / 4) * 4;
  const out = new Uint8Array(start + 4 * full.arrays.reduce((s, a) => s + a.length, 0));
  const view = new DataView(out.buffer);
  out.set(new TextEncoder().encode(CHECKPOINT_MAGIC), 0);
  view.setUint32(8, CHECKPOINT_VERSION, true);
  view.setUint32(12, json.length, true);
  out.set(json, 16);
  let at = start;
  for (const a of arrays.values()) {
    for (let i = 0; i < a.length; i++) view.setFloat32(at + 4 * i, a[i]!, true);
    at += 4 * a.length;
  }
  return out;
}

/** Decodes a checkpoint; `file` names it in errors (TraceError on a wrong magic, version, header or length). */
export function decodeCheckpoint(bytes: Uint8Array, file: string): { header: AttentionCheckpointHeader; arrays: Map<string, Float32Array> } {
  if (bytes.length < 16 || new TextDecoder().decode(bytes.subarray(0, 8)) !== CHECKPOINT_MAGIC) {
    throw new TraceError(file, 0, `not an attention-model checkpoint (magic ${CHECKPOINT_MAGIC} missing)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  if (version !== CHECKPOINT_VERSION) throw new TraceError(file, 8, `checkpoint format version ${version}, expected ${CHECKPOINT_VERSION}`);
  const len = view.getUint32(12, true);
  if (16 + len > bytes.length) throw new TraceError(file, 12, `header of ${len} bytes runs past the end (${bytes.length} bytes)`);
  let header: AttentionCheckpointHeader;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + len))) as AttentionCheckpointHeader;
  } catch (e) {
    throw new TraceError(file, 16, `unreadable checkpoint header: ${(e as Error).message}`);
  }
  if (!Array.isArray(header.arrays)) throw new TraceError(file, 16, 'checkpoint header lists no arrays');
  let at = Math.ceil((16 + len) / 4) * 4;
  const expected = at + 4 * header.arrays.reduce((s, a) => s + a.length, 0);
  if (bytes.length !== expected) throw new TraceError(file, Math.min(at, bytes.length), `${bytes.length} bytes, expected ${expected}`);
  const arrays = new Map<string, Float32Array>();
  for (const { name, length } of header.arrays) {
    const a = new Float32Array(length);
    for (let i = 0; i < length; i++) a[i] = view.getFloat32(at + 4 * i, true);
    arrays.set(name, a);
    at += 4 * length;
  }
  return { header, arrays };
}

/** The checkpoint at `path`, or null when there is no such file. */
export async function readCheckpoint(path: string): Promise<ReturnType<typeof decodeCheckpoint> | null> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  return decodeCheckpoint(bytes, path);
}
