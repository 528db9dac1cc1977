/**
 * @module models/lstm/checkpoint
 * The LSTM training checkpoint: everything needed to continue a run exactly where it stopped — parameters, Adam
 * moments and step count, the carried recurrent state of every batch row, the position in the epoch's chunk plan,
 * the epoch history and early-stopping state with the best parameters so far.
 *
 * The shared container (`../checkpoint.ts`) with magic "SALSTMCK", format version 1 and the JSON header
 * {@link CheckpointHeader}; written atomically (`writeAtomically`).
 */
import { decodeContainer, encodeContainer, readContainer, type ArrayList, type ContainerFormat, type TrainingState } from '../checkpoint.js';
import type { LstmConfig } from './network.js';

export { writeAtomically, type EpochRecord } from '../checkpoint.js';

export const CHECKPOINT_MAGIC = 'SALSTMCK';
export const CHECKPOINT_VERSION = 1;
const FORMAT: ContainerFormat = { magic: CHECKPOINT_MAGIC, version: CHECKPOINT_VERSION, what: 'an LSTM checkpoint' };

export interface CheckpointHeader extends TrainingState, ArrayList {
  config: LstmConfig;
}

export interface Checkpoint {
  header: CheckpointHeader;
  /** params, m, v ([P]), h, c ([L, B, H]) and, when `header.best` is set, best ([P]). */
  arrays: Map<string, Float32Array>;
}

export function encodeCheckpoint(header: Omit<CheckpointHeader, 'arrays'>, arrays: ReadonlyMap<string, Float32Array>): Uint8Array {
  return encodeContainer(FORMAT, header, arrays);
}

/** Decodes a checkpoint; `file` names it in errors (TraceError on a wrong magic, version, header or length). */
export function decodeCheckpoint(bytes: Uint8Array, file: string): Checkpoint {
  return decodeContainer<CheckpointHeader>(FORMAT, bytes, file);
}

/** The checkpoint at `path`, or null when there is no such file. */
export async function readCheckpoint(path: string): Promise<Checkpoint | null> {
  return readContainer<CheckpointHeader>(FORMAT, path);
}
