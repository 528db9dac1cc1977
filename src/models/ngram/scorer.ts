/**
 * @module models/ngram/scorer
 * The n-gram model on sequences of events: a tokenizer (`features/tokens`) plus an `NgramModel`, fitted together,
 * scoring each event by its surprise (−ln P) and a sequence by its mean surprise, and saved as one JSON document
 * (magic + version). By default it predicts the syscall name; given more fields to predict (`name,lat,size`) it
 * predicts their joint token — one vocabulary over the `|`-joined field tokens (a joint `Tokenizer`), so an event's
 * surprise is that of its name, latency bucket and size bucket together.
 */
import type { Sequence } from '../../features/sequences/sequence.js';
import { Tokenizer, type TokenField, type TokenizerJSON } from '../../features/tokens/tokenizer.js';
import { NgramBuilder, NgramModel, type NgramJSON } from './ngram.js';

export interface NgramScorerJSON {
  magic: 'syscall-anomaly/ngram-scorer';
  version: 1;
  tokenizer: TokenizerJSON;
  model: NgramJSON;
}

export { DEFAULT_PREDICT, parsePredict } from '../options.js';

/** The tokenizer predicting `fields`: the plain name tokenizer for `name` alone, else a joint one. */
export function predictTokenizer(fields: readonly TokenField[], minCount: number): Tokenizer {
  return new Tokenizer(fields, minCount, fields.length);
}

export class NgramScorer {
  /** The tokenizer field the model predicts: `name`, or the joint field's name (`name|lat|size`). */
  readonly field: string;

  constructor(readonly tokenizer: Tokenizer, readonly model: NgramModel) {
    if (tokenizer.fields[0] !== 'name') throw new RangeError('the n-gram scorer predicts the syscall name first');
    if (tokenizer.fields.length > 1 && !tokenizer.joint) throw new RangeError('the n-gram scorer needs a joint tokenizer to predict several fields');
    this.field = tokenizer.jointName;
    if (tokenizer.vocabulary(this.field).size !== model.vocabSize) throw new RangeError('tokenizer and model vocabulary sizes differ');
  }

  /** The predicted fields (`['name']` by default). */
  get predict(): readonly TokenField[] {
    return this.tokenizer.fields;
  }

  /** Fits vocabulary then counts on in-memory training sequences. */
  static fit(sequences: readonly Sequence[], order: number, minCount: number, predict: readonly TokenField[] = ['name']): NgramScorer {
    const tok = predictTokenizer(predict, minCount).fit(sequences);
    const b = new NgramBuilder(order, tok.vocabulary(tok.jointName).size);
    for (const s of sequences) b.add(tok.encodeField(s, tok.jointName));
    return new NgramScorer(tok, b.build());
  }

  /** Fits in two streaming passes over the training data (`sequences()` is called twice). */
  static async fitStream(sequences: () => AsyncIterable<Sequence>, order: number, minCount: number,
    predict: readonly TokenField[] = ['name']): Promise<NgramScorer> {
    const tok = await predictTokenizer(predict, minCount).fitStream(sequences());
    const b = new NgramBuilder(order, tok.vocabulary(tok.jointName).size);
    for await (const s of sequences()) b.add(tok.encodeField(s, tok.jointName));
    return new NgramScorer(tok, b.build());
  }

  /**
   * This model updated with more normal training data (lifelong learning, `syscall-anomaly update`), in two streaming
   * passes (`sequences()` is called twice): vocabulary grown (`Tokenizer.extendStream`), counts added. With
   * `minCount` 1 it scores every sequence as a model fitted on the old and the new data together would.
   */
  async updatedStream(sequences: () => AsyncIterable<Sequence>): Promise<NgramScorer> {
    const tok = await this.tokenizer.extendStream(sequences());
    const b = this.model.toBuilder(tok.vocabulary(tok.jointName).size);
    for await (const s of sequences()) b.add(tok.encodeField(s, tok.jointName));
    return new NgramScorer(tok, b.build());
  }

  /** The predicted token ids of a sequence: `[T + 2]`. */
  encode(seq: Sequence): Int32Array {
    return this.tokenizer.encodeField(seq, this.field);
  }

  /** Surprise (−ln P, nats) of each event and then of the end token: `[T + 1]`. */
  eventNll(seq: Sequence): Float64Array {
    const lp = this.model.logProbs(this.encode(seq));
    for (let i = 0; i < lp.length; i++) lp[i] = -lp[i];
    return lp;
  }

  /** Mean surprise per predicted token (the log-perplexity). */
  score(seq: Sequence): number {
    return this.model.meanNll(this.encode(seq));
  }

  toJSON(): NgramScorerJSON {
    return { magic: 'syscall-anomaly/ngram-scorer', version: 1, tokenizer: this.tokenizer.toJSON(), model: this.model.toJSON() };
  }

  static fromJSON(j: NgramScorerJSON): NgramScorer {
    if (j?.magic !== 'syscall-anomaly/ngram-scorer') throw new Error('not a syscall-anomaly n-gram scorer (bad magic)');
    if (j.version !== 1) throw new Error(`unsupported n-gram scorer version ${j.version}`);
    return new NgramScorer(Tokenizer.fromJSON(j.tokenizer), NgramModel.fromJSON(j.model));
  }
}
