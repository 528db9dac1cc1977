/**
 * @module models/ngram/scorer
 * The n-gram model on sequences of events: a syscall-name tokenizer (`features/tokens`) plus an `NgramModel`,
 * fitted together, scoring each event by its surprise (−ln P) and a sequence by its mean surprise, and saved as one
 * JSON document (magic + version).
 */
import type { Sequence } from '../../features/sequences/sequence.js';
import { Tokenizer, type TokenizerJSON } from '../../features/tokens/tokenizer.js';
import { NgramBuilder, NgramModel, type NgramJSON } from './ngram.js';

export interface NgramScorerJSON {
  magic: 'syscall-anomaly/ngram-scorer';
  version: 1;
  tokenizer: TokenizerJSON;
  model: NgramJSON;
}

export class NgramScorer {
  constructor(readonly tokenizer: Tokenizer, readonly model: NgramModel) {
    if (tokenizer.fields.length !== 1 || tokenizer.fields[0] !== 'name') throw new RangeError('the n-gram scorer models the syscall-name field only');
    if (tokenizer.vocabulary('name').size !== model.vocabSize) throw new RangeError('tokenizer and model vocabulary sizes differ');
  }

  /** Fits vocabulary then counts on in-memory training sequences. */
  static fit(sequences: readonly Sequence[], order: number, minCount: number): NgramScorer {
    const tok = new Tokenizer(['name'], minCount).fit(sequences);
    const b = new NgramBuilder(order, tok.vocabulary('name').size);
    for (const s of sequences) b.add(tok.encodeField(s, 'name'));
    return new NgramScorer(tok, b.build());
  }

  /** Fits in two streaming passes over the training data (`sequences()` is called twice). */
  static async fitStream(sequences: () => AsyncIterable<Sequence>, order: number, minCount: number): Promise<NgramScorer> {
    const tok = await new Tokenizer(['name'], minCount).fitStream(sequences());
    const b = new NgramBuilder(order, tok.vocabulary('name').size);
    for await (const s of sequences()) b.add(tok.encodeField(s, 'name'));
    return new NgramScorer(tok, b.build());
  }

  /** Surprise (−ln P, nats) of each event and then of the end token: `[T + 1]`. */
  eventNll(seq: Sequence): Float64Array {
    const lp = this.model.logProbs(this.tokenizer.encodeField(seq, 'name'));
    for (let i = 0; i < lp.length; i++) lp[i] = -lp[i];
    return lp;
  }

  /** Mean surprise per predicted token (the log-perplexity). */
  score(seq: Sequence): number {
    return this.model.meanNll(this.tokenizer.encodeField(seq, 'name'));
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
