/**
 * @module models/transformer/adapter
 * The Transformer and the Longformer as `LanguageModel` kinds (`models/language-model.ts`): fits the tokenizer on
 * the training sequences, trains `AttentionModel` on the encoded token fields (early stopping on the validation
 * sequences, or on every 10th training sequence when there are none), saves `<kind>.json` / `<kind>.weights` /
 * `<kind>.onnx` into the model folder, scores batches of whole sequences through onnxruntime, scores event by event
 * with a key/value cache (`incremental()`, `./incremental.ts`), and gives the last layer's attention per predicted
 * event (`attentionMany`, for `explain`).
 */
import type { Sequence as EventSequence } from '../../features/sequences/sequence.js';
import { Tokenizer, type TokenField } from '../../features/tokens/tokenizer.js';
import { TraceError } from '../../trace/errors.js';
import type { LanguageModel, ModelKind, ModelSettings, SavedModel, SettingValue, TrainingData } from '../language-model.js';
import {
  checkpointHooks, describeModel, fieldSpecs, neuralTokenizer, numberSetting, predictedSurprise, predictSetting, smoothingOf, trainAndValid,
} from '../fit-data.js';
import type { IncrementalScorer } from '../stream.js';
import { AttentionIncrementalScorer } from './incremental.js';
import { AttentionModel, type AttentionRow } from './model.js';
import { transformerInitialParams, transformerParamLayout, type TransformerConfig } from './network.js';
import { learnWithoutForgetting, UPDATE_ALPHA } from '../update.js';
import { AUTO_FIELDS, chooseFields } from '../lstm/options.js';

export type AttentionKind = 'transformer' | 'longformer';

export class AttentionLanguageModel implements LanguageModel {
  constructor(readonly model: AttentionModel, readonly tokenizer: Tokenizer, readonly settings: ModelSettings) {}

  get kind(): AttentionKind {
    return this.model.kind;
  }

  logProbsMany(seqs: readonly EventSequence[]): Promise<Float64Array[]> {
    return this.model.logProbsMany(seqs.map((s) => this.tokenizer.encode(s)));
  }

  /** The model predicts the syscall name only: its surprise per predicted token. */
  async fieldSurpriseMany(seqs: readonly EventSequence[]): Promise<Record<string, Float64Array>[]> {
    return predictedSurprise(this.tokenizer.jointName, await this.logProbsMany(seqs));
  }

  /**
   * Per predicted token (`from`: event index, `events.length` = the end token), the `topK` earlier events it attended
   * to most in the last block, heads averaged (`to`: event indices, −1 = the start token; `weight` in (0, 1]).
   */
  attentionMany(seqs: readonly EventSequence[], topK: number): Promise<AttentionRow[][]> {
    return this.model.attentionMany(seqs.map((s) => this.tokenizer.encode(s)), topK);
  }

  /** The next-name distribution at every predicted position (`LanguageModel.distributionMany`): a teacher. */
  distributionMany(seqs: readonly EventSequence[]): Promise<Float32Array[]> {
    return this.model.distributionMany(seqs.map((s) => this.tokenizer.encode(s)));
  }

  /** This model after learning more normal data, without forgetting the old (`models/update.ts`). */
  updated(data: TrainingData): Promise<LanguageModel> {
    return updateAttention(this, data);
  }

  incremental(): IncrementalScorer {
    return new AttentionIncrementalScorer(this.model.config, this.model.params, this.tokenizer);
  }

  save(dir: string): Promise<string[]> {
    return this.model.save(dir);
  }

  describe(): Record<string, SettingValue> {
    return describeModel(this.tokenizer, this.model.size, this.model.history, { window: this.model.config.window });
  }

  release(): Promise<void> {
    return this.model.release();
  }
}

/** `base` updated with more normal data, the old model's share of the soft targets `alpha` (`models/update.ts`). */
export async function updateAttention(base: AttentionLanguageModel, data: TrainingData, alpha = UPDATE_ALPHA): Promise<AttentionLanguageModel> {
  const kind = base.kind;
  const { model, tokenizer } = await learnWithoutForgetting(base, {
    config: base.model.config, params: base.model.params,
    configFor: (tok) => attentionConfig(kind, base.settings, tok), layout: transformerParamLayout, initial: transformerInitialParams,
    fit: (train, valid, config, soft, initial) => AttentionModel.fit(kind, train, valid, config, {}, soft, initial),
  }, data, alpha);
  return new AttentionLanguageModel(model, tokenizer, base.settings);
}

/** The network config for these settings and fitted vocabularies. */
export function attentionConfig(kind: AttentionKind, settings: ModelSettings, tokenizer: Tokenizer): TransformerConfig {
  const num = numberSetting(settings, kind);
  return {
    fields: fieldSpecs(tokenizer, num('embed')),
    positionDim: num('positionDim'), width: num('width'), layers: num('layers'), heads: num('heads'), ffn: num('ffn'),
    window: kind === 'transformer' ? num('context') : num('window'), globalStart: kind === 'longformer',
    chunk: num('chunk'), batch: num('batch'), epochs: num('epochs'), patience: num('patience'), lr: num('lr'),
    warmupSteps: num('warmup'), weightDecay: 0.01, clipNorm: 1, labelSmoothing: smoothingOf(settings), dropout: num('dropout'),
    threads: num('threads'), seed: num('seed'),
  };
}

/** The model kind `kind` (registered lazily in `MODEL_KINDS`). */
export function attentionKind(kind: AttentionKind): ModelKind {
  return {
    kind,
    async fit(data: TrainingData, settings: ModelSettings): Promise<LanguageModel> {
      const { train, valid } = await trainAndValid(data);
      const fields = settings.fields === AUTO_FIELDS ? chooseFields(train) : String(settings.fields).split(',') as TokenField[];
      const tokenizer = neuralTokenizer(fields, predictSetting(settings), settings.minCount as number).fit(train);
      const config = attentionConfig(kind, settings, tokenizer);
      const model = await AttentionModel.fit(kind, train.map((s) => tokenizer.encode(s)), valid.map((s) => tokenizer.encode(s)), config,
        checkpointHooks(settings));
      return new AttentionLanguageModel(model, tokenizer, settings);
    },
    async load(dir: string, saved: SavedModel): Promise<LanguageModel> {
      const tokenizer = Tokenizer.fromJSON(saved.tokenizer);
      const model = await AttentionModel.load(dir, kind);
      const expected = attentionConfig(kind, saved.settings, tokenizer);
      const c = model.config;
      const same = JSON.stringify(expected.fields) === JSON.stringify(c.fields) && expected.width === c.width && expected.layers === c.layers &&
        expected.heads === c.heads && expected.ffn === c.ffn && expected.window === c.window && expected.positionDim === c.positionDim &&
        expected.globalStart === c.globalStart;
      if (!same) {
        await model.release();
        throw new TraceError(dir, 0, `the ${kind} weights do not fit the manifest (fields, vocabularies or sizes differ)`);
      }
      return new AttentionLanguageModel(model, tokenizer, saved.settings);
    },
  };
}

export const TRANSFORMER_KIND: ModelKind = attentionKind('transformer');
