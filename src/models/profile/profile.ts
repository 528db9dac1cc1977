/**
 * @module models/profile
 * The call-profile model (`train --model profile`): which system calls a sequence makes, in what proportions, as a
 * whole — a one-class SVM over the sequences' call mixes. Where the language models read the order of the calls, it
 * reads their composition: a trace that makes the usual calls in an unusual mix, or a few calls normal traces never
 * make beside each other, stands out to it even when every local transition looks normal.
 *
 * Features: each sequence's share of every call name (vocabulary fitted on training; names it has never seen share
 * the `<unk>` column), square-rooted: x_j = √(c_j / T). These are unit vectors, and ‖x − y‖² = 2 − 2 Σ √(p_j q_j) is
 * twice the squared Hellinger distance of the two mixes, so the RBF kernel K = exp(−γ ‖x − y‖²) lies in
 * [exp(−2γ), 1] whatever the data. libsvm's one-class SVM (ν) fits the support of the normal mixes: support
 * vectors s_i with weights α_i.
 *
 * Score: S = −ln( Σ α_i K(s_i, x) / Σ α_i ) ≥ 0 nats, how much less dense than its normal neighbourhood the sequence's
 * mix lies, by the SVM's own weights. It is a monotone function of libsvm's decision value Σ α_i K − ρ (the same
 * ranking), but unlike that value it is never negative and reads as a surprise. Computed here from the support vectors,
 * not by libsvm-js: its one-class prediction gives only ±1, and the explanation needs the kernel terms.
 *
 * Measured on ADFA-LD (`npm run eval -- profile`, Training_Data_Master only): ROC AUC 0.83 alone, below the
 * language models; but it errs on other traces than they do, and beside the LSTM (`evaluate --model lstm/ --model
 * profile/`) the ensemble reaches 0.87 where the LSTM alone gives 0.815 (docs/adfa-ld.md).
 *
 * As a `LanguageModel` (like the timing model): a sequence's mix is known when it ends, so every event's
 * log-probability is 0 and the end (or truncate) token carries −S · (T + 1), T events: its perplexity is exp(S).
 * Explanations (`sequenceFacts`): the calls whose share departs most from the normal mixes near it (the support
 * vectors weighted by α_i K_i), each with its part of S.
 *
 * Training keeps at most `PROFILE_SAMPLE` sequences (reservoir sampling with a seeded draw per sequence index, so
 * memory and the SVM's quadratic cost stay bounded); the folder stores that sample, so an update (`syscall-anomaly
 * update`) continues the reservoir with the new sequences and fits again — what fitting on the old and new data at
 * once would give.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Sequence } from '../../features/sequences/sequence.js';
import { Tokenizer } from '../../features/tokens/tokenizer.js';
import { N_SPECIAL, UNKNOWN, type Vocabulary } from '../../features/tokens/vocabulary.js';
import { rng } from '../../features/preprocess/matrix.js';
import type { SyscallEvent } from '../../trace/event.js';
import { loadLibsvm } from '../classifiers/svm.js';
import type { LanguageModel, ModelKind, ModelSettings, SavedModel, SequenceFact, SettingValue, TrainingData } from '../language-model.js';
import { endLogProb, WholeSequenceScorer, wholeSequenceLogProbs, type IncrementalScorer } from '../stream.js';
import { arrayReader, decodeTensors, encodeTensors, type TensorArray } from '../tensor-file.js';

/** At most this many training sequences are kept (a reservoir sample) and given to the SVM. */
export const PROFILE_SAMPLE = 5000;
/** Seed of the reservoir's draws. */
const SAMPLE_SEED = 1;
const PROFILE_FILE = 'profile.bin';
/** A fact is shown when its call carries at least this share of S, at most `MAX_FACTS` of them. */
const FACT_SHARE = 0.02;
const MAX_FACTS = 8;

/** How often a sequence makes each call (by name). */
export type CallCounts = Map<string, number>;

/** Counts one more call of `ev`'s name in `m`. */
function countCall(m: CallCounts, ev: SyscallEvent): void {
  m.set(ev.name, (m.get(ev.name) ?? 0) + 1);
}

export function callCounts(events: readonly SyscallEvent[]): CallCounts {
  const m: CallCounts = new Map();
  for (const ev of events) countCall(m, ev);
  return m;
}

/** A sparse feature vector: its non-zero columns and their values, as arrays (scoring walks them once per support vector). */
interface SparseVector {
  ids: Int32Array;
  vals: Float64Array;
}

/** The feature vector of `counts`: (column id, √share) over `names` (unseen names in `<unk>`). */
function profileOf(counts: ReadonlyMap<string, number>, names: Vocabulary): SparseVector {
  let total = 0;
  for (const c of counts.values()) total += c;
  const byId = new Map<number, number>();
  for (const [name, c] of counts) {
    const id = names.id(name);
    byId.set(id, (byId.get(id) ?? 0) + c);
  }
  return { ids: Int32Array.from(byId.keys()), vals: Float64Array.from(byId.values(), (c) => Math.sqrt(c / total)) };
}

/**
 * A reservoir of at most `PROFILE_SAMPLE` call counts (Algorithm R). Sequence n (counted from 0 over all data ever
 * added) replaces slot j = ⌊u · (n + 1)⌋ when j < PROFILE_SAMPLE, u drawn from a PRNG seeded by n alone — so adding
 * more data later gives the sample one pass over everything would have given.
 */
export class Reservoir {
  constructor(readonly rows: CallCounts[] = [], public seen = 0) {}

  add(counts: CallCounts): void {
    const n = this.seen++;
    if (n < PROFILE_SAMPLE) {
      this.rows.push(counts);
      return;
    }
    const j = Math.floor(rng((SAMPLE_SEED + Math.imul(n, 0x9e3779b1)) >>> 0)() * (n + 1));
    if (j < PROFILE_SAMPLE) this.rows[j] = counts;
  }

  async addAll(seqs: AsyncIterable<Sequence>): Promise<void> {
    for await (const seq of seqs) if (seq.events.length > 0) this.add(callCounts(seq.events));
  }

  copy(): Reservoir {
    return new Reservoir([...this.rows], this.seen);
  }
}

/** The fitted SVM: support vectors (dense rows over the name vocabulary) and their weights α. */
export interface ProfileSvm {
  /** [nSV, D], D = the name vocabulary's size. */
  support: Float64Array;
  /** [nSV] */
  alpha: Float64Array;
  gamma: number;
}

/** The SVM of `sample` (libsvm-js, one-class, RBF) over `names`. */
async function fitSvm(sample: readonly CallCounts[], names: Vocabulary, nu: number, gamma: number): Promise<ProfileSvm> {
  const D = names.size;
  const dense = sample.map((counts) => {
    const row = new Array<number>(D).fill(0);
    const { ids, vals } = profileOf(counts, names);
    ids.forEach((id, k) => (row[id] = vals[k]!));
    return row;
  });
  const Svm = await loadLibsvm();
  const svm = new Svm({ type: Svm.SVM_TYPES.ONE_CLASS, kernel: Svm.KERNEL_TYPES.RBF, nu, gamma, quiet: true });
  try {
    svm.train(dense, new Array<number>(dense.length).fill(0));
    const indices = svm.getSVIndices();
    // the weights are in the model's text: after the `SV` line, one row per support vector, "α idx:value …"
    const text = svm.serializeModel();
    const rows = text.slice(text.indexOf('\nSV\n') + 4).split('\n').filter((l) => l.trim() !== '');
    if (rows.length !== indices.length) throw new Error(`libsvm gave ${indices.length} support vectors but ${rows.length} weight rows`);
    const support = new Float64Array(indices.length * D);
    indices.forEach((r, i) => support.set(dense[r]!, i * D));
    return { support, alpha: Float64Array.from(rows, (l) => Number(l.split(' ')[0])), gamma };
  } finally {
    svm.free();
  }
}

export class ProfileModel implements LanguageModel {
  readonly kind = 'profile';
  /** Every event scores 0 and the end token carries the whole surprise: running sequences cannot alert. */
  readonly sequenceLevel = true;
  private readonly sq: Float64Array;
  private readonly logAlphaSum: number;

  constructor(readonly tokenizer: Tokenizer, readonly svm: ProfileSvm, readonly settings: ModelSettings,
    /** The training sample the SVM was fitted on, kept for updates. */
    readonly sample: Reservoir) {
    const D = this.width;
    this.sq = new Float64Array(svm.alpha.length);
    for (let i = 0; i < svm.alpha.length; i++) {
      let s = 0;
      for (let j = 0; j < D; j++) s += svm.support[i * D + j]! ** 2;
      this.sq[i] = s;
    }
    this.logAlphaSum = Math.log(svm.alpha.reduce((a, b) => a + b, 0));
  }

  private get names(): Vocabulary {
    return this.tokenizer.vocabulary('name');
  }

  /** D: the name vocabulary's size (special ids included, `<unk>` the column of unseen names). */
  get width(): number {
    return this.names.size;
  }

  /**
   * S of the feature vector `x` (sparse), and each support vector's share w_i = α_i K_i / Σ α K of the density there.
   * Computed in the log domain (a log-sum-exp), so that S stays finite however far x lies from every support vector.
   */
  private densityAt({ ids, vals }: SparseVector): { surprise: number; w: Float64Array } {
    const { support, alpha, gamma } = this.svm;
    const D = this.width;
    let xx = 0;
    for (let k = 0; k < vals.length; k++) xx += vals[k]! * vals[k]!;
    const w = new Float64Array(alpha.length); // first ln(α_i K_i), then the shares
    let max = -Infinity;
    for (let i = 0; i < alpha.length; i++) {
      let dot = 0;
      const row = i * D;
      for (let k = 0; k < ids.length; k++) dot += vals[k]! * support[row + ids[k]!]!;
      w[i] = Math.log(alpha[i]!) - gamma * Math.max(0, xx + this.sq[i]! - 2 * dot);
      if (w[i]! > max) max = w[i]!;
    }
    let z = 0;
    for (let i = 0; i < w.length; i++) z += (w[i] = Math.exp(w[i]! - max));
    for (let i = 0; i < w.length; i++) w[i]! /= z;
    return { surprise: this.logAlphaSum - max - Math.log(z), w };
  }

  /** S of a sequence that made `counts` calls (an empty sequence: the zero vector). */
  surpriseOf(counts: ReadonlyMap<string, number>): number {
    return this.densityAt(profileOf(counts, this.names)).surprise;
  }

  surprise(seq: Sequence): number {
    return this.surpriseOf(callCounts(seq.events));
  }

  /** S, and the normal mix near the sequence: Σ w_i s_i ([D], square-rooted shares). */
  private terms(x: SparseVector): { surprise: number; near: Float64Array } {
    const { surprise, w } = this.densityAt(x);
    const D = this.width;
    const near = new Float64Array(D);
    for (let i = 0; i < w.length; i++) for (let j = 0; j < D; j++) near[j] += w[i]! * this.svm.support[i * D + j]!;
    return { surprise, near };
  }

  async logProbsMany(seqs: readonly Sequence[]): Promise<Float64Array[]> {
    return wholeSequenceLogProbs(seqs, (seq) => this.surprise(seq));
  }

  /** One field, `calls`: the whole surprise on the end token (the mix is a property of the whole sequence). */
  async fieldSurpriseMany(seqs: readonly Sequence[]): Promise<Record<string, Float64Array>[]> {
    return seqs.map((seq) => {
      const T = seq.events.length;
      const calls = new Float64Array(T + 1); // [T + 1]
      calls[T] = -endLogProb(T, this.surprise(seq));
      return { calls };
    });
  }

  /**
   * The calls whose share departs most from the normal mixes near the sequence. Each call's part of S is S times its
   * share of the squared distance to that normal mix, (√p_j − m_j)² / Σ (√p − m)²; its z is ±√(2 · part) (so ½z² is
   * the part, as for the timing model's Gaussians), positive when the sequence makes the call more often than normal.
   * Calls carrying at least 2 % of S, at most 8, the largest first.
   */
  sequenceFacts(seq: Sequence): SequenceFact[] {
    return this.factsOf(callCounts(seq.events));
  }

  /** `sequenceFacts` of a sequence's call counts (also of an open one, for live alerts). */
  factsOf(counts: ReadonlyMap<string, number>): SequenceFact[] {
    const sparse = profileOf(counts, this.names);
    const { surprise, near } = this.terms(sparse);
    const x = new Float64Array(near.length); // [D], dense
    sparse.ids.forEach((id, k) => (x[id] = sparse.vals[k]!));
    const parts: { id: number; d2: number }[] = [];
    let sum = 0;
    for (let j = 0; j < near.length; j++) {
      const d2 = (x[j]! - near[j]!) ** 2;
      if (d2 > 0) parts.push({ id: j, d2 });
      sum += d2;
    }
    if (sum === 0) return [];
    const against = `the normal call mixes nearest to it (${this.svm.alpha.length.toLocaleString('en-US')} support vectors of ${this.sample.seen.toLocaleString('en-US')} training sequences)`;
    return parts
      .map(({ id, d2 }) => ({ id, part: (surprise * d2) / sum }))
      .filter((p) => p.part >= FACT_SHARE * surprise)
      .sort((a, b) => b.part - a.part)
      .slice(0, MAX_FACTS)
      .map(({ id, part }) => {
        const share = x[id]! ** 2;
        const normal = near[id]! ** 2;
        const name = id === UNKNOWN ? 'calls never seen in training' : this.names.token(id);
        return { name, what: 'share of the calls', value: 100 * share, normal: 100 * normal, unit: '%', z: Math.sign(share - normal) * Math.sqrt(2 * part), surprise: part, against };
      });
  }

  /** Event by event: call counts per open sequence; every event scores 0, the end token the whole surprise. */
  incremental(): IncrementalScorer {
    return new WholeSequenceScorer<CallCounts>(() => new Map(), countCall, (m) => this.surpriseOf(m), (m) => this.factsOf(m));
  }

  /**
   * This model with more normal data (`syscall-anomaly update`): the vocabulary of call names grows, the reservoir
   * goes on with the new sequences where it stopped, and the SVM is fitted again on it.
   */
  async updated(data: TrainingData): Promise<ProfileModel> {
    const tokenizer = await this.tokenizer.extendStream(data.train());
    const sample = this.sample.copy();
    await sample.addAll(data.train());
    return fitModel(tokenizer, sample, this.settings);
  }

  async save(dir: string): Promise<string[]> {
    // The sample as sparse rows over the name vocabulary (row k's (id, count) pairs end at ends[k]).
    const ids: number[] = [];
    const counts: number[] = [];
    const ends: number[] = [];
    for (const row of this.sample.rows) {
      for (const [name, c] of row) {
        ids.push(this.names.id(name));
        counts.push(c);
      }
      ends.push(ids.length);
    }
    await writeFile(join(dir, PROFILE_FILE), encodeTensors(new Map<string, TensorArray>([
      ['support', this.svm.support], ['alpha', this.svm.alpha], ['gamma', Float64Array.of(this.svm.gamma)],
      ['sampleIds', Int32Array.from(ids)], ['sampleCounts', Int32Array.from(counts)], ['sampleEnds', Int32Array.from(ends)],
      ['seen', Float64Array.of(this.sample.seen)],
    ])));
    return [PROFILE_FILE];
  }

  describe(): Record<string, SettingValue> {
    return {
      'call names': this.width - N_SPECIAL,
      'support vectors': this.svm.alpha.length,
      'sequences sampled': this.sample.rows.length,
      'sequences seen': this.sample.seen,
    };
  }

  async release(): Promise<void> {}

  static async load(dir: string, saved: SavedModel): Promise<ProfileModel> {
    const file = join(dir, PROFILE_FILE);
    const arrays = decodeTensors(await readFile(file), file);
    const { bad, get } = arrayReader(file, arrays, 'profile model');
    const tokenizer = Tokenizer.fromJSON(saved.tokenizer);
    const names = tokenizer.vocabulary('name');
    const D = names.size;
    const alpha = get('alpha', Float64Array);
    const support = get('support', Float64Array, alpha.length * D);
    const gamma = get('gamma', Float64Array, 1)[0]!;
    if (alpha.length === 0 || !alpha.every((a) => Number.isFinite(a) && a > 0)) throw bad('no support vectors, or a weight that is not positive');
    if (!support.every((v) => Number.isFinite(v) && v >= 0 && v <= 1)) throw bad('a support vector value outside [0, 1]');
    if (!(gamma > 0) || gamma !== saved.settings.gamma) throw bad(`gamma ${gamma}, but the manifest says ${saved.settings.gamma}`);
    const ends = get('sampleEnds', Int32Array);
    const ids = get('sampleIds', Int32Array);
    const counts = get('sampleCounts', Int32Array, ids.length);
    const seen = get('seen', Float64Array, 1)[0]!;
    if (!(Number.isSafeInteger(seen) && seen >= ends.length)) throw bad(`${seen} sequences seen, fewer than the ${ends.length} sampled`);
    const rows: CallCounts[] = [];
    let from = 0;
    for (let k = 0; k < ends.length; k++) {
      const to = ends[k]!;
      if (to < from || to > ids.length) throw bad(`sample row ${k} ends at ${to}, outside ${from}..${ids.length}`);
      const row: CallCounts = new Map();
      for (let i = from; i < to; i++) {
        if (!(ids[i]! >= N_SPECIAL && ids[i]! < D) || !(counts[i]! > 0)) throw bad(`sample row ${k}: name id ${ids[i]} or count ${counts[i]} out of range`);
        row.set(names.token(ids[i]!), counts[i]!);
      }
      rows.push(row);
      from = to;
    }
    return new ProfileModel(tokenizer, { support, alpha, gamma }, saved.settings, new Reservoir(rows, seen));
  }
}

/** The model of `sample` with `settings`' ν and γ. */
async function fitModel(tokenizer: Tokenizer, sample: Reservoir, settings: ModelSettings): Promise<ProfileModel> {
  if (sample.rows.length === 0) throw new RangeError('profile: no training sequence has events');
  const svm = await fitSvm(sample.rows, tokenizer.vocabulary('name'), Number(settings.nu), Number(settings.gamma));
  return new ProfileModel(tokenizer, svm, settings, sample);
}

export const PROFILE_KIND: ModelKind = {
  kind: 'profile',
  async fit(data: TrainingData, settings: ModelSettings): Promise<LanguageModel> {
    // Two passes: the call names (the vocabulary the model folder records), then the reservoir of call counts.
    const tokenizer = await new Tokenizer(['name'], 1).fitStream(data.train());
    const sample = new Reservoir();
    await sample.addAll(data.train());
    return fitModel(tokenizer, sample, settings);
  },
  load: (dir, saved) => ProfileModel.load(dir, saved),
};
