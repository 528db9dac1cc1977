/**
 * @module models/model-files
 * The model-folder files of the neural language models (`./lstm/lstm.ts`, `./transformer/model.ts`): the JSON
 * description `<name>.json` ({ kind, version, config, history }) and the weights `<name>.weights`
 * (`engine/weights`), read back with clear errors naming the file; and the perplexity of a model's log-probabilities.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { readWeights } from '../engine/weights.js';
import { TraceError } from '../trace/errors.js';
import type { EpochRecord } from './checkpoint.js';

/** How a model kind is named in errors: `an` "an LSTM" / "a transformer", `name` "LSTM" / "transformer". */
export interface ModelLabel {
  an: string;
  name: string;
}

/** Writes the description file of a model. */
export async function writeModelMeta(file: string, kind: string, version: number, config: unknown, history: readonly EpochRecord[]): Promise<void> {
  await writeFile(file, JSON.stringify({ kind, version, config, history }, null, 2));
}

/**
 * Reads a description written by {@link writeModelMeta}: TraceError naming `file` when it is unreadable, of another
 * kind or version, or its config fails `check`.
 */
export async function readModelMeta<C>(file: string, kind: string, version: number, label: ModelLabel, check: (config: C) => void):
  Promise<{ config: C; history: EpochRecord[] }> {
  let meta: { kind: string; version: number; config: C; history: EpochRecord[] };
  try {
    meta = JSON.parse(await readFile(file, 'utf8')) as typeof meta;
  } catch (e) {
    throw new TraceError(file, 0, `unreadable model description: ${(e as Error).message}`);
  }
  if (meta.kind !== kind || meta.version !== version) {
    throw new TraceError(file, 0, `not ${label.an} model of version ${version} (kind ${meta.kind}, version ${meta.version})`);
  }
  try {
    check(meta.config);
  } catch (e) {
    throw new TraceError(file, 0, `bad ${label.name} config: ${(e as Error).message}`);
  }
  return { config: meta.config, history: meta.history };
}

/** The weights in `file`; TraceError unless there are `expected` of them. */
export async function readModelWeights(file: string, expected: number): Promise<Float32Array> {
  const params = await readWeights(file);
  if (params.length !== expected) throw new TraceError(file, 12, `${params.length} weights, the config needs ${expected}`);
  return params;
}

/** exp(mean negative log-probability) over every predicted token (NaN when there is none). */
export function perplexityOf(logProbs: readonly Float64Array[]): number {
  let sum = 0;
  let n = 0;
  for (const lp of logProbs) for (const x of lp) { sum -= x; n++; }
  return n === 0 ? Number.NaN : Math.exp(sum / n);
}
