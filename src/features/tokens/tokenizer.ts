/**
 * @module features/tokens/tokenizer
 * Turns each event of a sequence into a tuple of tokens over Fournier et al.'s seven fields — syscall name, phase
 * (entry/exit/complete), time since the previous event of the sequence (log2 buckets of ns), process name, pid, tid,
 * return-value class (success/error/none) — and each field into integer ids through its own fitted `Vocabulary`.
 * An encoded sequence is `<s> e1 … en </s>` (`<trunc>` instead of `</s>` when the segmenter cut the sequence).
 */
import type { SyscallEvent } from '../../trace/event.js';
import type { Sequence } from '../sequences/sequence.js';
import { END, START, TRUNCATE, Vocabulary, type VocabularyJSON } from './vocabulary.js';

export type TokenField = 'name' | 'phase' | 'dt' | 'proc' | 'pid' | 'tid' | 'ret';
export const TOKEN_FIELDS: readonly TokenField[] = ['name', 'phase', 'dt', 'proc', 'pid', 'tid', 'ret'];

/** Highest log2 bucket of the time delta (≥ 2^40 ns ≈ 18 min all share it). */
export const MAX_DT_BUCKET = 41;

/** Log2 bucket of a time delta in ns: 0 for ≤ 0 (and the first event), else floor(log2(dt)) + 1, capped. */
export function dtBucket(dtNs: bigint): number {
  if (dtNs <= 0n) return 0;
  let b = 0;
  let v = dtNs;
  while (v > 0n && b < MAX_DT_BUCKET) {
    v >>= 1n;
    b++;
  }
  return b;
}

/** Class of a return value: errors are -4095..-1 (the kernel's -errno range), `none` when the event has no result. */
export function retClass(ev: SyscallEvent): 'success' | 'error' | 'none' {
  const r = ev.ret;
  if (r === undefined) return 'none';
  const n = typeof r === 'bigint' ? Number(r) : r;
  return n < 0 && n > -4096 ? 'error' : 'success';
}

/** The string token of one field of an event; `prev` is the previous event of the same sequence. */
export function fieldToken(field: TokenField, ev: SyscallEvent, prev: SyscallEvent | undefined): string {
  switch (field) {
    case 'name': return ev.name;
    case 'phase': return ev.phase;
    case 'dt': return String(prev ? dtBucket(ev.ts - prev.ts) : 0);
    case 'proc': return ev.proc;
    case 'pid': return String(ev.pid);
    case 'tid': return String(ev.tid);
    case 'ret': return retClass(ev);
  }
}

export interface TokenizerJSON {
  magic: 'syscall-anomaly/tokenizer';
  version: 1;
  fields: TokenField[];
  minCount: number;
  vocabularies: Record<string, VocabularyJSON>;
}

export class Tokenizer {
  private vocabs: Vocabulary[] | undefined;

  constructor(readonly fields: readonly TokenField[], readonly minCount: number) {
    if (fields.length === 0) throw new RangeError('a tokenizer needs at least one field');
    for (const f of fields) if (!TOKEN_FIELDS.includes(f)) throw new RangeError(`unknown token field '${f}'`);
    if (new Set(fields).size !== fields.length) throw new RangeError('duplicate token field');
    if (!Number.isInteger(minCount) || minCount < 1) throw new RangeError(`minCount must be a positive integer, got ${minCount}`);
  }

  private counters(): Map<string, number>[] {
    return this.fields.map(() => new Map<string, number>());
  }

  private observe(counts: Map<string, number>[], seq: Sequence): void {
    let prev: SyscallEvent | undefined;
    for (const ev of seq.events) {
      for (let f = 0; f < this.fields.length; f++) {
        const t = fieldToken(this.fields[f], ev, prev);
        counts[f].set(t, (counts[f].get(t) ?? 0) + 1);
      }
      prev = ev;
    }
  }

  /** Fits every field's vocabulary on training sequences; returns this. */
  fit(sequences: Iterable<Sequence>): this {
    const counts = this.counters();
    for (const s of sequences) this.observe(counts, s);
    this.vocabs = counts.map((c) => Vocabulary.fit(c, this.minCount));
    return this;
  }

  /** `fit` over a stream of sequences. */
  async fitStream(sequences: AsyncIterable<Sequence>): Promise<this> {
    const counts = this.counters();
    for await (const s of sequences) this.observe(counts, s);
    this.vocabs = counts.map((c) => Vocabulary.fit(c, this.minCount));
    return this;
  }

  get fitted(): boolean {
    return this.vocabs !== undefined;
  }

  /** The vocabulary of one field. */
  vocabulary(field: TokenField): Vocabulary {
    const i = this.fields.indexOf(field);
    if (i < 0) throw new RangeError(`the tokenizer has no field '${field}' (fields: ${this.fields.join(', ')})`);
    return this.need()[i];
  }

  private need(): Vocabulary[] {
    if (!this.vocabs) throw new Error('tokenizer is not fitted');
    return this.vocabs;
  }

  /** One field of a sequence as ids: `[T + 2]` = `<s>`, one id per event, `</s>` or `<trunc>`. */
  encodeField(seq: Sequence, field: TokenField): Int32Array {
    const v = this.vocabulary(field);
    const n = seq.events.length;
    const out = new Int32Array(n + 2); // [T + 2]
    out[0] = START;
    let prev: SyscallEvent | undefined;
    for (let i = 0; i < n; i++) {
      const ev = seq.events[i];
      out[i + 1] = v.id(fieldToken(field, ev, prev));
      prev = ev;
    }
    out[n + 1] = seq.truncated ? TRUNCATE : END;
    return out;
  }

  /** Every field of a sequence, in the order of `fields`: `[F][T + 2]`. */
  encode(seq: Sequence): Int32Array[] {
    return this.fields.map((f) => this.encodeField(seq, f));
  }

  toJSON(): TokenizerJSON {
    const vocabs = this.need();
    const vocabularies: Record<string, VocabularyJSON> = {};
    this.fields.forEach((f, i) => (vocabularies[f] = vocabs[i].toJSON()));
    return { magic: 'syscall-anomaly/tokenizer', version: 1, fields: [...this.fields], minCount: this.minCount, vocabularies };
  }

  static fromJSON(j: TokenizerJSON): Tokenizer {
    if (j?.magic !== 'syscall-anomaly/tokenizer') throw new Error('not a syscall-anomaly tokenizer (bad magic)');
    if (j.version !== 1) throw new Error(`unsupported tokenizer version ${j.version}`);
    const t = new Tokenizer(j.fields, j.minCount);
    t.vocabs = j.fields.map((f) => {
      const v = j.vocabularies[f];
      if (!v) throw new Error(`tokenizer JSON: no vocabulary for field '${f}'`);
      return Vocabulary.fromJSON(v);
    });
    return t;
  }
}
