/**
 * @module models/lstm/adapter
 * The LSTM as a `LanguageModel` kind (`models/language-model.ts`): fits the tokenizer on the training sequences,
 * trains `LstmModel` on the encoded token fields (early stopping on the validation sequences, or on every 10th
 * training sequence when there are none), saves `lstm.json` / `lstm.weights` / `lstm.onnx` into the model folder,
 * and scores batches of sequences through onnxruntime (`LstmModel.logProbsMany`).
 */
import type { Sequence as EventSequence } from '../../features/sequences/sequence.js';
import { Tokenizer, type TokenField } from '../../features/tokens/tokenizer.js';
import { TraceError } from '../../trace/errors.js';
import type { LanguageModel, ModelKind, ModelSettings, SavedModel, SettingValue, TrainingData } from '../language-model.js';
import { LstmModel, lstmInitialParams, lstmParamLayout, type LstmConfig, type Sequence } from './lstm.js';
import { learnWithoutForgetting, UPDATE_ALPHA } from '../update.js';
import { AUTO_FIELDS, chooseFields } from './options.js';
import {
  checkpointHooks, describeModel, fieldSpecs, neuralTokenizer, numberSetting, predictedSurprise, predictSetting, smoothingOf, trainAndValid,
} from '../fit-data.js';
import { LstmIncrementalScorer } from './incremental.js';

export class LstmLanguageModel implements LanguageModel {
  readonly kind = 'lstm';

  constructor(readonly model: LstmModel, readonly tokenizer: Tokenizer, readonly settings: ModelSettings) {}

  private encode(seq: EventSequence): Sequence {
    return this.tokenizer.encode(seq);
  }

  /** Batched onnxruntime scoring: `config.batch` sequences per run, each from a zero state. */
  logProbsMany(seqs: readonly EventSequence[]): Promise<Float64Array[]> {
    return this.model.logProbsMany(seqs.map((s) => this.encode(s)));
  }

  /** The LSTM predicts the syscall name only: its surprise per predicted token. */
  async fieldSurpriseMany(seqs: readonly EventSequence[]): Promise<Record<string, Float64Array>[]> {
    return predictedSurprise(this.tokenizer.jointName, await this.logProbsMany(seqs));
  }

  save(dir: string): Promise<string[]> {
    return this.model.save(dir);
  }

  describe(): Record<string, SettingValue> {
    return describeModel(this.tokenizer, this.model.size, this.model.history);
  }

  release(): Promise<void> {
    return this.model.release();
  }

  /** The next-name distribution at every predicted position (`LanguageModel.distributionMany`): a teacher. */
  distributionMany(seqs: readonly EventSequence[]): Promise<Float32Array[]> {
    return this.model.distributionMany(seqs.map((s) => this.encode(s)));
  }

  /** This model after learning more normal data, without forgetting the old (`models/update.ts`). */
  async updated(data: TrainingData): Promise<LanguageModel> {
    return updateLstm(this, data);
  }

  /** Event-by-event scoring with per-sequence (h, c) state: one T = 1 graph run per push (`./incremental.ts`). */
  incremental(): LstmIncrementalScorer {
    return new LstmIncrementalScorer(this.model.config, this.model.params, this.tokenizer);
  }
}

/** `base` updated with more normal data, the old model's share of the soft targets `alpha` (`models/update.ts`). */
export async function updateLstm(base: LstmLanguageModel, data: TrainingData, alpha = UPDATE_ALPHA): Promise<LstmLanguageModel> {
  const { model, tokenizer } = await learnWithoutForgetting(base, {
    config: base.model.config, params: base.model.params,
    configFor: (tok) => lstmConfig(base.settings, tok), layout: lstmParamLayout, initial: lstmInitialParams,
    fit: (train, valid, config, soft, initial) => LstmModel.fit(train, valid, config, {}, soft, initial),
  }, data, alpha);
  return new LstmLanguageModel(model, tokenizer, base.settings);
}

/** The LSTM config for these settings and fitted vocabularies. */
export function lstmConfig(settings: ModelSettings, tokenizer: Tokenizer): LstmConfig {
  const num = numberSetting(settings, 'LSTM');
  return {
    fields: fieldSpecs(tokenizer, num('embed')),
    positionDim: num('positionDim'), hidden: num('hidden'), layers: num('layers'), chunk: num('chunk'), batch: num('batch'),
    epochs: num('epochs'), patience: num('patience'), lr: num('lr'), warmupSteps: 50, weightDecay: 0.01, clipNorm: 1,
    labelSmoothing: smoothingOf(settings), dropout: num('dropout'), threads: num('threads'), seed: num('seed'),
  };
}

export const LSTM_KIND: ModelKind = {
  kind: 'lstm',
  async fit(data: TrainingData, settings: ModelSettings): Promise<LanguageModel> {
    const { train, valid } = await trainAndValid(data);
    const fields = settings.fields === AUTO_FIELDS ? chooseFields(train) : String(settings.fields).split(',') as TokenField[];
    const tokenizer = neuralTokenizer(fields, predictSetting(settings), settings.minCount as number).fit(train);
    const config = lstmConfig(settings, tokenizer);
    const model = await LstmModel.fit(train.map((s) => tokenizer.encode(s)), valid.map((s) => tokenizer.encode(s)), config,
      checkpointHooks(settings));
    return new LstmLanguageModel(model, tokenizer, settings);
  },
  async load(dir: string, saved: SavedModel): Promise<LanguageModel> {
    const tokenizer = Tokenizer.fromJSON(saved.tokenizer);
    const model = await LstmModel.load(dir);
    const expected = lstmConfig(saved.settings, tokenizer);
    const same = JSON.stringify(expected.fields) === JSON.stringify(model.config.fields) && expected.hidden === model.config.hidden &&
      expected.layers === model.config.layers && expected.positionDim === model.config.positionDim;
    if (!same) {
      await model.release();
      throw new TraceError(dir, 0, 'the LSTM weights do not fit the manifest (fields, vocabularies or sizes differ)');
    }
    return new LstmLanguageModel(model, tokenizer, saved.settings);
  },
};
