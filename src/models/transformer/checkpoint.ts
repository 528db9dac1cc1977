/**
 * @module models/transformer/checkpoint
 * The attention models' training checkpoint: everything needed to continue a run exactly where it stopped —
 * parameters, Adam moments and step count, the position in the epoch's (seeded, hence reproducible) step plan, the
 * epoch history and the early-stopping state with the best parameters so far.
 *
 * The shared container (`../checkpoint.ts`) with magic "SAATTNCK", format version 1 and the JSON header
 * {@link AttentionCheckpointHeader}; written atomically (`../checkpoint.writeAtomically`).
 */
import { decodeContainer, encodeContainer, readContainer, type ArrayList, type ContainerFormat, type TrainingState } from '../checkpoint.js';
import type { TransformerConfig } from './network.js';

export const CHECKPOINT_MAGIC = 'SAATTNCK';
export const CHECKPOINT_VERSION = 1;
const FORMAT: ContainerFormat = { magic: CHECKPOINT_MAGIC, version: CHECKPOINT_VERSION, what: 'an attention-model checkpoint' };

export interface AttentionCheckpointHeader extends TrainingState, ArrayList {
  kind: string;
  config: TransformerConfig;
}

export function encodeCheckpoint(header: Omit<AttentionCheckpointHeader, 'arrays'>, arrays: ReadonlyMap<string, Float32Array>): Uint8Array {
  return encodeContainer(FORMAT, header, arrays);
}

/** Decodes a checkpoint; `file` names it in errors (TraceError on a wrong magic, version, header or length). */
export function decodeCheckpoint(bytes: Uint8Array, file: string): { header: AttentionCheckpointHeader; arrays: Map<string, Float32Array> } {
  return decodeContainer<AttentionCheckpointHeader>(FORMAT, bytes, file);
}

/** The checkpoint at `path`, or null when there is no such file. */
export async function readCheckpoint(path: string): Promise<ReturnType<typeof decodeCheckpoint> | null> {
  return readContainer<AttentionCheckpointHeader>(FORMAT, path);
}
