/**
 * @module features/tokens/tokenizer
 * Turns each event of a sequence into a tuple of tokens over Fournier et al.'s seven fields — syscall name, phase
 * (entry/exit/complete), time since the previous event of the sequence (log2 buckets of ns), process name, pid, tid,
 * return-value class (success/error/none) — and each field into integer ids through its own fitted `Vocabulary`.
 * Two extra fields, not among the seven (`EXTRA_TOKEN_FIELDS`): `lat`, the log2 bucket of the call's own duration
 * (`latency` ns; `none` without one), and `size`, the log2 bucket of the return value of calls that return a byte
 * count (`BYTE_COUNT_SYSCALLS`: read/write family, recv/send, sendfile, splice…; `e<errno>` when they fail, `none`
 * for every other call — so addresses (mmap) and pids never become tokens).
 * The leading `joined` fields of a tokenizer share one vocabulary over their `|`-joined tokens (`name|lat|size` →
 * `read|12|7`): the *predicted unit*, which every language model predicts (the `--predict` setting). A tokenizer
 * whose fields are all joined (`new Tokenizer(fields, minCount, fields.length)`) is *joint*: the n-gram's; the
 * neural models read the predicted unit and then each further field on its own (`new Tokenizer([name, lat, size,
 * phase, dt], 1, 3)` → units `name|lat|size`, `phase`, `dt`).
 * An encoded sequence is `<s> e1 … en </s>` (`<trunc>` instead of `</s>` when the segmenter cut the sequence).
 */
import type { SyscallEvent } from '../../trace/event.js';
import type { Sequence } from '../sequences/sequence.js';
import { END, START, TRUNCATE, Vocabulary, type VocabularyJSON } from './vocabulary.js';

export type TokenField = 'name' | 'phase' | 'dt' | 'proc' | 'pid' | 'tid' | 'ret' | 'lat' | 'size';
/** Fournier et al.'s seven fields (the LSTM's and transformer's default inputs). */
export const TOKEN_FIELDS: readonly TokenField[] = ['name', 'phase', 'dt', 'proc', 'pid', 'tid', 'ret'];
/** Fields beyond the seven: the call's latency bucket and its returned byte count's bucket. */
export const EXTRA_TOKEN_FIELDS: readonly TokenField[] = ['lat', 'size'];
/** Every field a tokenizer accepts (validate field names against this). */
export const KNOWN_TOKEN_FIELDS: readonly TokenField[] = [...TOKEN_FIELDS, ...EXTRA_TOKEN_FIELDS];

/** Syscalls whose non-negative return value is a count of bytes (or of messages, for the *mmsg calls). */
export const BYTE_COUNT_SYSCALLS: ReadonlySet<string> = new Set([
  'read', 'write', 'pread', 'pwrite', 'pread64', 'pwrite64', 'readv', 'writev', 'preadv', 'pwritev', 'preadv2', 'pwritev2',
  'recv', 'recvfrom', 'recvmsg', 'recvmmsg', 'send', 'sendto', 'sendmsg', 'sendmmsg', 'sendfile', 'sendfile64',
  'splice', 'tee', 'vmsplice', 'copy_file_range', 'getdents', 'getdents64', 'readlink', 'readlinkat', 'getrandom',
]);

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

/** The `lat` token: log2 bucket of the call's duration in ns (as `dtBucket`), `none` when the event has none. */
export function latencyToken(ev: SyscallEvent): string {
  const l = ev.latency;
  if (l === undefined || !Number.isFinite(l)) return 'none';
  return String(dtBucket(BigInt(Math.max(0, Math.trunc(l)))));
}

/**
 * The `size` token: for a call in `BYTE_COUNT_SYSCALLS`, the log2 bucket of its non-negative return value (as
 * `dtBucket`) or `e<errno>` for an error; `none` for other calls and for events without a return value.
 */
export function sizeToken(ev: SyscallEvent): string {
  const r = ev.ret;
  if (r === undefined || !BYTE_COUNT_SYSCALLS.has(ev.name)) return 'none';
  const n = typeof r === 'bigint' ? r : BigInt(Math.trunc(r));
  if (n < 0n) return n > -4096n ? `e${-n}` : 'none';
  return String(dtBucket(n));
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
    case 'lat': return latencyToken(ev);
    case 'size': return sizeToken(ev);
  }
}

/** The composite token of several fields: their tokens joined by `|`. */
export function jointToken(fields: readonly TokenField[], ev: SyscallEvent, prev: SyscallEvent | undefined): string {
  if (fields.length === 1) return fieldToken(fields[0]!, ev, prev);
  let s = fieldToken(fields[0]!, ev, prev);
  for (let i = 1; i < fields.length; i++) s += '|' + fieldToken(fields[i]!, ev, prev);
  return s;
}

export interface TokenizerJSON {
  magic: 'syscall-anomaly/tokenizer';
  version: 1;
  fields: TokenField[];
  minCount: number;
  /** Present (true) for a joint tokenizer: one vocabulary, keyed by the `|`-joined field names. */
  joint?: true;
  /** Present (2 … fields − 1) when only the leading `joined` fields share the first vocabulary. */
  joined?: number;
  vocabularies: Record<string, VocabularyJSON>;
}

export class Tokenizer {
  private vocabs: Vocabulary[] | undefined;
  /** Field groups, each with one vocabulary: the first `joined` fields together, then one group per field. */
  private readonly units: readonly (readonly TokenField[])[];

  /** `joined`: how many leading fields share the first vocabulary (1: none; `fields.length`: a joint tokenizer). */
  constructor(readonly fields: readonly TokenField[], readonly minCount: number, readonly joined = 1) {
    if (fields.length === 0) throw new RangeError('a tokenizer needs at least one field');
    for (const f of fields) {
      if (!KNOWN_TOKEN_FIELDS.includes(f)) throw new RangeError(`unknown token field '${f}' (known: ${KNOWN_TOKEN_FIELDS.join(', ')})`);
    }
    if (new Set(fields).size !== fields.length) throw new RangeError('duplicate token field');
    if (!Number.isInteger(minCount) || minCount < 1) throw new RangeError(`minCount must be a positive integer, got ${minCount}`);
    if (!Number.isInteger(joined) || joined < 1 || joined > fields.length) throw new RangeError(`joined must be an integer in 1..${fields.length}, got ${joined}`);
    this.units = [fields.slice(0, joined), ...fields.slice(joined).map((f) => [f])];
  }

  /** True when every field shares one vocabulary (and there are several). */
  get joint(): boolean {
    return this.units.length === 1 && this.fields.length > 1;
  }

  /** The fields of the predicted unit (the first vocabulary): `['name']`, or e.g. `['name', 'lat', 'size']`. */
  get predicted(): readonly TokenField[] {
    return this.units[0]!;
  }

  /** The name of the predicted unit: `name`, or the `|`-joined names of its fields (`name|lat|size`). */
  get jointName(): string {
    return this.unitName(0);
  }

  /** The name of every unit, in order (`['name|lat|size', 'phase', 'dt']`): the keys of `vocabulary` and `encodeField`. */
  get unitNames(): string[] {
    return this.units.map((_, u) => this.unitName(u));
  }

  private unitName(u: number): string {
    return this.units[u]!.join('|');
  }

  private counters(): Map<string, number>[] {
    return this.units.map(() => new Map<string, number>());
  }

  private observe(counts: Map<string, number>[], seq: Sequence): void {
    let prev: SyscallEvent | undefined;
    for (const ev of seq.events) {
      for (let u = 0; u < this.units.length; u++) {
        const t = jointToken(this.units[u]!, ev, prev);
        counts[u].set(t, (counts[u].get(t) ?? 0) + 1);
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

  /**
   * A tokenizer whose vocabularies keep every id of this one and grow by the strings of `sequences` it lacks
   * (`Vocabulary.extend`): the tokenizer of a lifelong update. This one is unchanged.
   */
  async extendStream(sequences: AsyncIterable<Sequence>): Promise<Tokenizer> {
    const vocabs = this.need();
    const counts = this.counters();
    for await (const s of sequences) this.observe(counts, s);
    const t = new Tokenizer(this.fields, this.minCount, this.joined);
    t.vocabs = vocabs.map((v, u) => v.extend(counts[u]!));
    return t;
  }

  get fitted(): boolean {
    return this.vocabs !== undefined;
  }

  private unitIndex(field: string): number {
    for (let u = 0; u < this.units.length; u++) if (this.unitName(u) === field) return u;
    const known = this.units.map((_, u) => this.unitName(u)).join(', ');
    throw new RangeError(`the tokenizer has no field '${field}' (fields: ${known})`);
  }

  /** The vocabulary of one field (of a joint tokenizer: its one vocabulary, under `jointName`). */
  vocabulary(field: TokenField | string): Vocabulary {
    return this.need()[this.unitIndex(field)];
  }

  private need(): Vocabulary[] {
    if (!this.vocabs) throw new Error('tokenizer is not fitted');
    return this.vocabs;
  }

  /**
   * One field of a sequence as ids: `[T + 2]` = `<s>`, one id per event, `</s>` or `<trunc>`. Of a joint tokenizer,
   * `field` is its `jointName`.
   */
  encodeField(seq: Sequence, field: TokenField | string): Int32Array {
    const u = this.unitIndex(field);
    const v = this.need()[u];
    const unit = this.units[u]!;
    const n = seq.events.length;
    const out = new Int32Array(n + 2); // [T + 2]
    out[0] = START;
    let prev: SyscallEvent | undefined;
    for (let i = 0; i < n; i++) {
      const ev = seq.events[i];
      out[i + 1] = v.id(jointToken(unit, ev, prev));
      prev = ev;
    }
    out[n + 1] = seq.truncated ? TRUNCATE : END;
    return out;
  }

  /** The id of one event in the first (a joint tokenizer's only) vocabulary; `prev`: the sequence's previous event. */
  firstId(ev: SyscallEvent, prev: SyscallEvent | undefined): number {
    return this.need()[0].id(jointToken(this.units[0]!, ev, prev));
  }

  /** The ids of one event, one per unit, written to `out` from `at` (incremental scoring). */
  eventIds(ev: SyscallEvent, prev: SyscallEvent | undefined, out: Int32Array | number[], at = 0): void {
    const v = this.need();
    for (let u = 0; u < this.units.length; u++) out[at + u] = v[u]!.id(jointToken(this.units[u]!, ev, prev));
  }

  /** Every unit of a sequence, in order (`unitNames`): `[U][T + 2]` (a joint tokenizer: `[1][T + 2]`). */
  encode(seq: Sequence): Int32Array[] {
    return this.units.map((_, u) => this.encodeField(seq, this.unitName(u)));
  }

  toJSON(): TokenizerJSON {
    const vocabs = this.need();
    const vocabularies: Record<string, VocabularyJSON> = {};
    this.units.forEach((_, u) => (vocabularies[this.unitName(u)] = vocabs[u].toJSON()));
    const base = { magic: 'syscall-anomaly/tokenizer' as const, version: 1 as const, fields: [...this.fields], minCount: this.minCount };
    if (this.joint) return { ...base, joint: true, vocabularies };
    return this.joined > 1 ? { ...base, joined: this.joined, vocabularies } : { ...base, vocabularies };
  }

  static fromJSON(j: TokenizerJSON): Tokenizer {
    if (j?.magic !== 'syscall-anomaly/tokenizer') throw new Error('not a syscall-anomaly tokenizer (bad magic)');
    if (j.version !== 1) throw new Error(`unsupported tokenizer version ${j.version}`);
    if (j.joint !== undefined && j.joint !== true) throw new Error('tokenizer JSON: joint must be true when present');
    if (j.joined !== undefined && (j.joint !== undefined || !Number.isInteger(j.joined))) throw new Error('tokenizer JSON: bad joined');
    const t = new Tokenizer(j.fields, j.minCount, j.joint === true ? j.fields.length : j.joined ?? 1);
    t.vocabs = t.units.map((_, u) => {
      const name = t.unitName(u);
      const v = j.vocabularies[name];
      if (!v) throw new Error(`tokenizer JSON: no vocabulary for field '${name}'`);
      return Vocabulary.fromJSON(v);
    });
    return t;
  }
}
