/**
 * @module models/checkpoint
 * The training-checkpoint container shared by the neural language models (LSTM: `./lstm/checkpoint.ts`, attention
 * models: `./transformer/checkpoint.ts`), and the training state every such checkpoint holds.
 *
 * Layout: 8-byte magic (one per model family), uint32 LE format version, uint32 LE header length, the UTF-8 JSON
 * header (which lists the arrays that follow as `arrays: [{ name, length }]`), zero padding to a multiple of 4, then
 * the float32 LE arrays the header lists, in order. Written atomically ({@link writeAtomically}): a temporary file
 * beside the target is written, flushed to disk, then renamed over it, so a kill at any moment leaves either the
 * previous checkpoint or the new one.
 */
import { open, readFile, rename, rm } from 'node:fs/promises';
import { TraceError } from '../trace/errors.js';

export interface EpochRecord {
  epoch: number;
  /** Mean training loss over the epoch's steps. */
  trainLoss: number;
  /** Mean negative log-probability per validation token (NaN without validation data). */
  validLoss: number;
  validPerplexity: number;
  /** Training tokens per second over the epoch. */
  tokensPerS: number;
}

/** Where a training run stands: the part of a checkpoint header common to every model. */
export interface TrainingState {
  /** Fingerprint of the training sequences (`models/training.fingerprint`). */
  data: string;
  /** 0-based epoch in progress and the steps of its plan already taken. */
  epoch: number;
  stepInEpoch: number;
  /** Optimizer steps taken in the whole run. */
  trainerSteps: number;
  /** Sum of the losses and count of target tokens of the steps taken in this epoch. */
  lossSum: number;
  tokens: number;
  history: EpochRecord[];
  /** Best validation loss so far and its epoch (1-based), null before the first validation. */
  best: { loss: number; epoch: number } | null;
  /** Epochs since the best one (early stopping). */
  sinceBest: number;
  /** Early stopping ended the run (a resumed run has nothing left to do). */
  stopped: boolean;
}

/** The float32 arrays listed in a container header, in order. */
export interface ArrayList {
  arrays: { name: string; length: number }[];
}

/** One checkpoint format: its magic (8 ASCII bytes), version and what it is called in errors. */
export interface ContainerFormat {
  magic: string;
  version: number;
  /** e.g. "an LSTM checkpoint", for "not an LSTM checkpoint". */
  what: string;
}

export function encodeContainer<H extends object>(format: ContainerFormat, header: H, arrays: ReadonlyMap<string, Float32Array>): Uint8Array {
  const full: H & ArrayList = { ...header, arrays: [...arrays].map(([name, a]) => ({ name, length: a.length })) };
  const json = new TextEncoder().encode(JSON.stringify(full));
  const start = Math.ceil((16 + json.length) / 4) * 4;
  const out = new Uint8Array(start + 4 * full.arrays.reduce((s, a) => s + a.length, 0));
  const view = new DataView(out.buffer);
  out.set(new TextEncoder().encode(format.magic), 0);
  view.setUint32(8, format.version, true);
  view.setUint32(12, json.length, true);
  out.set(json, 16);
  let at = start;
  for (const a of arrays.values()) {
    for (let i = 0; i < a.length; i++) view.setFloat32(at + 4 * i, a[i]!, true);
    at += 4 * a.length;
  }
  return out;
}

/** Decodes a container; `file` names it in errors (TraceError on a wrong magic, version, header or length). */
export function decodeContainer<H extends ArrayList>(format: ContainerFormat, bytes: Uint8Array, file: string): { header: H; arrays: Map<string, Float32Array> } {
  if (bytes.length < 16 || new TextDecoder().decode(bytes.subarray(0, 8)) !== format.magic) {
    throw new TraceError(file, 0, `not ${format.what} (magic ${format.magic} missing)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  if (version !== format.version) throw new TraceError(file, 8, `checkpoint format version ${version}, expected ${format.version}`);
  const len = view.getUint32(12, true);
  if (16 + len > bytes.length) throw new TraceError(file, 12, `header of ${len} bytes runs past the end (${bytes.length} bytes)`);
  let header: H;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + len))) as H;
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

/** The container at `path` decoded, or null when there is no such file. */
export async function readContainer<H extends ArrayList>(format: ContainerFormat, path: string): Promise<{ header: H; arrays: Map<string, Float32Array> } | null> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  return decodeContainer<H>(format, bytes, path);
}

/** Writes `bytes` to `path` atomically (temporary file, fsync, rename). */
export async function writeAtomically(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(bytes);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}
