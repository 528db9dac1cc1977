/**
 * @module models/fit-data
 * What the neural model kinds' adapters (`./lstm/adapter.ts`, `./lstm/distill.ts`, `./transformer/adapter.ts`) share
 * between settings, training data and the networks: the train / validation split, numeric settings, the token
 * fields' codes, the checkpoint hook and the summary of a training history.
 */
import type { Sequence as EventSequence } from '../features/sequences/sequence.js';
import { Tokenizer, type TokenField } from '../features/tokens/tokenizer.js';
import type { EpochRecord } from './checkpoint.js';
import { graphFieldName, type FieldSpec } from './embedding.js';
import type { ModelSettings, SettingValue, TrainingData } from './language-model.js';
import { FIELD_ENCODING } from './lstm/options.js';
import { DEFAULT_PREDICT, parsePredict } from './options.js';
import type { FitHooks } from './training.js';

/** Without validation sequences, every HOLD_OUT-th training sequence validates instead. */
export const HOLD_OUT = 10;

/** Optimizer steps between two checkpoint writes. */
export const CHECKPOINT_EVERY_STEPS = 200;

export async function collect(it: AsyncIterable<EventSequence>): Promise<EventSequence[]> {
  const out: EventSequence[] = [];
  for await (const s of it) out.push(s);
  return out;
}

/** The training and validation sequences (every {@link HOLD_OUT}-th training sequence when there are no others). */
export async function trainAndValid(data: TrainingData): Promise<{ train: EventSequence[]; valid: EventSequence[] }> {
  const all = await collect(data.train());
  const valid = data.valid ? await collect(data.valid()) : [];
  if (valid.length > 0) return { train: all, valid };
  return { train: all.filter((_, i) => i % HOLD_OUT !== HOLD_OUT - 1), valid: all.filter((_, i) => i % HOLD_OUT === HOLD_OUT - 1) };
}

/** The label-smoothing setting; 0 for folders written before it was one (their training used none). */
export function smoothingOf(settings: ModelSettings): number {
  const v = settings['labelSmoothing'];
  return typeof v === 'number' ? v : 0;
}

/** A getter of numeric settings that throws RangeError ("`what` setting k missing or not a number"). */
export function numberSetting(settings: ModelSettings, what: string): (key: string) => number {
  return (k) => {
    const v = settings[k];
    if (typeof v !== 'number') throw new RangeError(`${what} setting ${k} missing or not a number`);
    return v;
  };
}

/**
 * The tokenizer of a neural model: the `predict` fields joined into its first unit (what the network reads first and
 * predicts), then every other input field on its own. With `predict` = `name` it is the plain per-field tokenizer.
 */
export function neuralTokenizer(inputs: readonly TokenField[], predict: readonly TokenField[], minCount: number): Tokenizer {
  if (inputs[0] !== 'name' || predict[0] !== 'name') throw new RangeError('the input and predicted fields both start with name');
  return new Tokenizer([...predict, ...inputs.filter((f) => !predict.includes(f))], minCount, predict.length);
}

/** The `predict` setting as fields (`name` when absent: models saved before the setting existed). */
export function predictSetting(settings: ModelSettings): TokenField[] {
  return parsePredict(String(settings.predict ?? DEFAULT_PREDICT));
}

/**
 * The tokenizer's units as network input fields (`FIELD_ENCODING`): the predicted unit learned and `embed` wide (its
 * graph name joins the field names with `_`: `name_lat_size`), each other field as encoded there.
 */
export function fieldSpecs(tokenizer: Tokenizer, embed: number): FieldSpec[] {
  return tokenizer.unitNames.map((u, i) => {
    if (i === 0) return { name: graphFieldName(u), vocab: tokenizer.vocabulary(u).size, encoding: 'learned', dim: embed };
    const f = u as TokenField;
    return { name: f, vocab: tokenizer.vocabulary(f).size, encoding: FIELD_ENCODING[f].encoding, dim: FIELD_ENCODING[f].dim };
  });
}

/** The fit hooks of the `checkpoint` setting ('' = none). */
export function checkpointHooks(settings: ModelSettings): FitHooks {
  const checkpoint = String(settings.checkpoint ?? '');
  return checkpoint === '' ? {} : { checkpoint: { file: checkpoint, everySteps: CHECKPOINT_EVERY_STEPS } };
}

/** The lowest validation loss of a history, to 4 decimals (NaN for an empty one). */
export function bestValidLoss(history: readonly EpochRecord[]): number {
  return history.length > 0 ? Number(Math.min(...history.map((r) => r.validLoss)).toFixed(4)) : Number.NaN;
}

/**
 * A neural model's `describe()`: fields, predicted fields (when more than the name), the predicted unit's vocabulary,
 * parameters, `extra`, epochs trained and the best validation loss.
 */
export function describeModel(tokenizer: Tokenizer, parameters: number, history: readonly EpochRecord[],
  extra: Record<string, SettingValue> = {}): Record<string, SettingValue> {
  return {
    fields: tokenizer.fields.join(','), ...(tokenizer.predicted.length > 1 ? { predict: tokenizer.predicted.join(',') } : {}),
    vocabulary: tokenizer.vocabulary(tokenizer.jointName).size, parameters, ...extra,
    epochs: history.length, validLoss: bestValidLoss(history),
  };
}

/**
 * Per-field surprise of a model that predicts one unit (the name, or a joint `name|lat|size`): −log P of each
 * predicted token, under the unit's name.
 */
export function predictedSurprise(unit: string, logProbs: readonly Float64Array[]): Record<string, Float64Array>[] {
  return logProbs.map((lp) => ({ [unit]: lp.map((x) => -x) }));
}
