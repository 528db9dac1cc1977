/**
 * @module models/update
 * Lifelong learning for the neural kinds (`syscall-anomaly update` on an LSTM, Transformer or Longformer folder): the
 * model goes on learning from new normal data without the old data, and without forgetting what the old data taught
 * it ("learning without forgetting", Li & Hoiem, 2016, with the soft targets of this project's distillation,
 * `soft-targets.ts`):
 *
 * 1. The vocabularies keep every id and grow by the strings new in this data (`Tokenizer.extendStream`).
 * 2. The network starts from the old weights (`transplantParams`): every parameter is copied into the grown network,
 *    the rows and columns of new tokens keep their seeded initialisation.
 * 3. It trains on the new data against soft targets: at each predicted token α · the OLD model's next-name
 *    distribution + (1 − α) · the observed name (α = {@link UPDATE_ALPHA}). The old model's distribution holds the new
 *    one near what it predicted wherever the new data shares contexts with the old, while the observed names teach
 *    it the new behaviour. α = 0 is plain fine-tuning, which forgets (measured in the README's "Lifelong learning").
 *
 * Settings (epochs, learning rate, early stopping on the new data's validation sequences) are the folder's own.
 */
import type { Sequence as EventSequence } from '../features/sequences/sequence.js';
import type { Tokenizer } from '../features/tokens/tokenizer.js';
import { passesOver, type LanguageModel, type TrainingData } from './language-model.js';
import { trainAndValid } from './fit-data.js';
import { teacherTargets, vocabularyMap } from './soft-targets.js';
import type { SoftTargets } from './training.js';

/** The old model's share of each soft target in an update. */
export const UPDATE_ALPHA = 0.5;

export interface ParamEntry { name: string; offset: number; shape: readonly number[] }

/**
 * `to` with every parameter of `from` copied into its namesake: the same rank, each dimension at most as large
 * (vocabularies only grow, keeping their ids, so an old row or column keeps its index); the rest of `to` is left as
 * it is. Throws RangeError when a parameter is missing or does not fit.
 */
export function transplantParams(fromLayout: readonly ParamEntry[], from: Float32Array, toLayout: readonly ParamEntry[], to: Float32Array): Float32Array {
  const out = to.slice();
  const byName = new Map(toLayout.map((p) => [p.name, p]));
  for (const f of fromLayout) {
    const t = byName.get(f.name);
    if (t === undefined) throw new RangeError(`parameter ${f.name} is not in the updated network`);
    if (t.shape.length !== f.shape.length || f.shape.some((d, i) => d > t.shape[i]!)) {
      throw new RangeError(`parameter ${f.name} [${f.shape.join(', ')}] does not fit [${t.shape.join(', ')}]`);
    }
    // Row-major copy of the [d0, …, dk] block: index vector `ix` over `f.shape`, strides of the target's shape.
    const rank = f.shape.length;
    const total = f.shape.reduce((a, b) => a * b, 1);
    const ix = new Array<number>(rank).fill(0);
    const tStride = new Array<number>(rank).fill(1);
    for (let d = rank - 2; d >= 0; d--) tStride[d] = tStride[d + 1]! * t.shape[d + 1]!;
    for (let n = 0; n < total; n++) {
      let at = t.offset;
      for (let d = 0; d < rank; d++) at += ix[d]! * tStride[d]!;
      out[at] = from[f.offset + n]!;
      for (let d = rank - 1; d >= 0; d--) {
        if (++ix[d]! < f.shape[d]!) break;
        ix[d] = 0;
      }
    }
  }
  return out;
}

/** What a neural kind lends an update: its network for a config, and its training from given parameters. */
export interface UpdatableNetwork<C, M> {
  /** The old network's config and parameters. */
  config: C;
  params: Float32Array;
  /** The config of the network for a (grown) tokenizer, from the folder's settings. */
  configFor(tokenizer: Tokenizer): C;
  layout(config: C): ParamEntry[];
  /** Seeded initial parameters. */
  initial(config: C): Float32Array;
  /** Trains on encoded sequences against `soft` targets, starting from `initial`. */
  fit(train: Int32Array[][], valid: Int32Array[][], config: C, soft: SoftTargets, initial: Float32Array): Promise<M>;
}

/**
 * The network of `base` updated with the new normal data (module header), and its grown tokenizer; `base` (the
 * teacher: it must give next-token distributions) is unchanged.
 */
export async function learnWithoutForgetting<C, M>(base: LanguageModel, net: UpdatableNetwork<C, M>, data: TrainingData,
  alpha = UPDATE_ALPHA): Promise<{ model: M; tokenizer: Tokenizer }> {
  if (base.distributionMany === undefined) throw new RangeError(`a ${base.kind} model gives no next-token distributions to learn without forgetting`);
  const { train, valid } = await trainAndValid(data);
  if (train.length === 0) throw new RangeError('no sequences to learn from');
  const tokenizer = await base.tokenizer.extendStream(passesOver(train)());
  const config = net.configFor(tokenizer);
  const initial = transplantParams(net.layout(net.config), net.params, net.layout(config), net.initial(config));
  const unit = tokenizer.jointName;
  const map = vocabularyMap(tokenizer.vocabulary(unit), base.tokenizer.vocabulary(unit));
  const encoded = train.map((s: EventSequence) => tokenizer.encode(s));
  const { soft } = await teacherTargets((s) => base.distributionMany!(s), train, encoded, map, base.tokenizer.vocabulary(unit).size, alpha);
  try {
    return { model: await net.fit(encoded, valid.map((s) => tokenizer.encode(s)), config, soft, initial), tokenizer };
  } finally {
    soft.release();
  }
}
