/**
 * @module models/ngram/ngram
 * An n-gram language model over integer tokens (syscall-name ids from `features/tokens`, `<s>` first, `</s>` or
 * `<trunc>` last) with interpolated modified Kneser-Ney smoothing (Chen & Goodman 1998, as in KenLM):
 *
 *   P_k(w | h) = max(a(hw) − D_k(a(hw)), 0) / Σ_v a(hv)  +  γ(h) · P_{k−1}(w | h⁻),
 *   γ(h) = (D_k1·N1(h•) + D_k2·N2(h•) + D_k3+·N3+(h•)) / Σ_v a(hv),       P_0(w) = 1 / |predictable vocabulary|
 *
 * where h⁻ drops the oldest token of h, a() is the raw count for the highest order and for n-grams that begin with
 * `<s>`, and the continuation count N1+(• g) (distinct left neighbours) otherwise; N_j(h•) counts the words after h
 * whose adjusted count is j; and per order k: Y = n1/(n1+2n2), D1 = 1−2Y·n2/n1, D2 = 2−3Y·n3/n2, D3+ = 3−4Y·n4/n3
 * from the count-of-counts n_j (n-grams of that order whose adjusted count is exactly j), clamped to [0.05, j].
 * A level whose context was never seen (or never followed) passes the lower-order probability through unchanged.
 * `<pad>` and `<s>` are never predicted.
 *
 * Storage: a trie of n-grams with integer node ids; children are found in one `Map<number, number>` keyed by
 * `parentId · V + token` (exact in a double for any realistic model), so fitting is a few map operations per token.
 */
import { PAD, START } from '../../features/tokens/vocabulary.js';

export const MIN_DISCOUNT = 0.05;

export interface NgramJSON {
  magic: 'syscall-anomaly/ngram';
  version: 1;
  order: number;
  vocabSize: number;
  /** Per trie node (node 0 = empty context), base64 of little-endian typed arrays. */
  parent: string;
  token: string;
  count: string;
  cont: string;
}

/** Modified Kneser-Ney discounts of one order from its count-of-counts n1..n4 (index 1..4). */
export function knDiscounts(n: readonly number[]): [number, number, number] {
  const [n1, n2, n3, n4] = [n[1] ?? 0, n[2] ?? 0, n[3] ?? 0, n[4] ?? 0];
  const y = n1 + 2 * n2 > 0 ? n1 / (n1 + 2 * n2) : 0.5;
  let d1 = n1 > 0 ? 1 - (2 * y * n2) / n1 : 0.5;
  if (!Number.isFinite(d1)) d1 = 0.5;
  let d2 = n2 > 0 ? 2 - (3 * y * n3) / n2 : d1;
  let d3 = n3 > 0 ? 3 - (4 * y * n4) / n3 : d2;
  const clamp = (d: number, hi: number) => Math.min(hi, Math.max(MIN_DISCOUNT, d));
  d1 = clamp(d1, 1);
  d2 = clamp(d2, 2);
  d3 = clamp(d3, 3);
  return [d1, d2, d3];
}

/** Accumulates n-gram counts; `build()` gives the model. Sequences may be added one at a time (streaming). */
export class NgramBuilder {
  readonly parent: number[] = [-1];
  readonly token: number[] = [-1];
  readonly count: number[] = [0];
  readonly cont: number[] = [0];
  readonly child = new Map<number, number>();
  private readonly ctx: Int32Array;
  private readonly next: Int32Array;

  constructor(readonly order: number, readonly vocabSize: number) {
    if (!Number.isInteger(order) || order < 1 || order > 12) throw new RangeError(`n-gram order must be 1..12, got ${order}`);
    if (!Number.isInteger(vocabSize) || vocabSize <= START + 1) throw new RangeError(`bad vocabulary size ${vocabSize}`);
    this.ctx = new Int32Array(order);
    this.next = new Int32Array(order);
  }

  private getOrCreate(p: number, w: number, suffix: number): number {
    const key = p * this.vocabSize + w;
    let x = this.child.get(key);
    if (x === undefined) {
      x = this.parent.length;
      this.parent.push(p);
      this.token.push(w);
      this.count.push(0);
      this.cont.push(0);
      this.child.set(key, x);
      if (suffix > 0) this.cont[suffix]++; // one more distinct left neighbour of the suffix
    }
    return x;
  }

  /** Adds one token sequence (`<s>` first). */
  add(seq: Int32Array): void {
    checkSequence(seq, this.vocabSize);
    const ctx = this.ctx;
    const next = this.next;
    ctx[0] = 0;
    const startNode = this.getOrCreate(0, START, 0);
    if (this.order > 1) ctx[1] = startNode;
    let valid = Math.min(2, this.order);
    for (let i = 1; i < seq.length; i++) {
      const w = seq[i];
      next[0] = 0;
      let prevNode = 0;
      for (let k = 0; k < valid; k++) {
        const x = this.getOrCreate(ctx[k], w, prevNode);
        this.count[x]++;
        prevNode = x;
        if (k + 1 < this.order) next[k + 1] = x;
      }
      valid = Math.min(valid + 1, this.order);
      ctx.set(next);
    }
  }

  build(): NgramModel {
    return new NgramModel(
      this.order, this.vocabSize, Int32Array.from(this.parent), Int32Array.from(this.token),
      Float64Array.from(this.count), Int32Array.from(this.cont), this.child,
    );
  }
}

function checkSequence(seq: Int32Array, vocabSize: number): void {
  if (seq.length < 2 || seq[0] !== START) throw new RangeError('a token sequence must start with <s> and hold at least one more token');
  for (let i = 1; i < seq.length; i++) {
    const w = seq[i];
    if (w < 0 || w >= vocabSize || w === PAD || w === START) throw new RangeError(`token ${w} at position ${i} cannot be predicted (vocabulary size ${vocabSize})`);
  }
}

function b64(a: Int32Array | Float64Array): string {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
}
function fromB64<T extends Int32Array | Float64Array>(s: string, ctor: { new (b: ArrayBuffer): T; BYTES_PER_ELEMENT: number }): T {
  const buf = Buffer.from(s, 'base64');
  if (buf.byteLength % ctor.BYTES_PER_ELEMENT !== 0) throw new Error('n-gram JSON: array length is not a whole number of elements');
  const copy = new ArrayBuffer(buf.byteLength);
  new Uint8Array(copy).set(buf);
  return new ctor(copy);
}

export class NgramModel {
  /** Number of predictable tokens (all but `<pad>` and `<s>`): the uniform base distribution's support. */
  readonly predictable: number;
  private readonly adj: Float64Array;
  private readonly total: Float64Array;
  private readonly gamma: Float64Array;
  /** [order + 1][3]: D1, D2, D3+ per order (index 0 unused). */
  readonly discounts: [number, number, number][];
  private readonly ctx: Int32Array;
  private readonly next: Int32Array;

  constructor(
    readonly order: number,
    readonly vocabSize: number,
    private readonly parent: Int32Array,
    private readonly token: Int32Array,
    private readonly count: Float64Array,
    private readonly cont: Int32Array,
    private readonly child: Map<number, number>,
  ) {
    const n = parent.length;
    this.predictable = vocabSize - 2;
    const len = new Uint8Array(n);
    const first = new Int32Array(n);
    this.adj = new Float64Array(n);
    first[0] = -1;
    const coc = Array.from({ length: order + 1 }, () => [0, 0, 0, 0, 0]);
    for (let x = 1; x < n; x++) {
      const p = parent[x];
      if (p >= x) throw new Error('n-gram trie: a parent must precede its children');
      len[x] = len[p] + 1;
      first[x] = p === 0 ? token[x] : first[p];
      const a = len[x] === order || first[x] === START ? count[x] : cont[x];
      this.adj[x] = a;
      if (a >= 1 && a <= 4) coc[len[x]][a]++;
    }
    this.discounts = coc.map((c) => knDiscounts(c));
    this.total = new Float64Array(n);
    const nj = new Float64Array(n); // Σ D_j · N_j(h•), γ's numerator
    for (let x = 1; x < n; x++) {
      const a = this.adj[x];
      if (a <= 0) continue;
      const p = parent[x];
      this.total[p] += a;
      const d = this.discounts[len[x]];
      nj[p] += a === 1 ? d[0] : a === 2 ? d[1] : d[2];
    }
    this.gamma = new Float64Array(n);
    for (let h = 0; h < n; h++) if (this.total[h] > 0) this.gamma[h] = nj[h] / this.total[h];
    this.ctx = new Int32Array(order);
    this.next = new Int32Array(order);
  }

  /** Fits a model on token sequences (each `<s>` … `</s>`). */
  static fit(sequences: Iterable<Int32Array>, order: number, vocabSize: number): NgramModel {
    const b = new NgramBuilder(order, vocabSize);
    for (const s of sequences) b.add(s);
    return b.build();
  }

  /** Number of trie nodes (distinct n-grams of all orders, plus the root). */
  get size(): number {
    return this.parent.length;
  }

  private childOf(h: number, w: number): number {
    return h < 0 ? -1 : this.child.get(h * this.vocabSize + w) ?? -1;
  }

  /** Kneser-Ney discounted count of trie node `x` (−1: the token was never seen there) at context depth `k`. */
  private discounted(x: number, k: number): number {
    if (x < 0) return 0;
    const a = this.adj[x];
    const d = this.discounts[k + 1];
    return Math.max(a - (a === 1 ? d[0] : a === 2 ? d[1] : d[2]), 0);
  }

  /**
   * P(w | context) where `ctxNodes[k]` is the trie node of the last k context tokens (k = 0..m; node 0 = empty),
   * -1 where that context was never seen.
   */
  private prob(ctxNodes: Int32Array, m: number, w: number): number {
    let p = 1 / this.predictable;
    for (let k = 0; k <= m; k++) {
      const h = ctxNodes[k];
      if (h < 0) break;
      const tot = this.total[h];
      if (tot <= 0) continue;
      p = this.discounted(this.childOf(h, w), k) / tot + this.gamma[h] * p;
    }
    return p;
  }

  /** Probability of token `w` after the context tokens `context` (oldest first; only the last order−1 are used). */
  probability(context: ArrayLike<number>, w: number): number {
    const m = Math.min(context.length, this.order - 1);
    const nodes = new Int32Array(m + 1);
    for (let k = 1; k <= m; k++) {
      // node of the last k context tokens: walk from the root, oldest of them first
      let h = 0;
      for (let j = context.length - k; j < context.length && h >= 0; j++) h = this.childOf(h, context[j]);
      nodes[k] = h;
    }
    for (let k = 1; k <= m; k++) if (nodes[k - 1] < 0) nodes[k] = -1;
    return this.prob(nodes, m, w);
  }

  /** Natural-log probability of each predicted token (positions 1..T−1, so `</s>` included): `[T − 1]`. */
  logProbs(seq: Int32Array): Float64Array {
    checkSequence(seq, this.vocabSize);
    const out = new Float64Array(seq.length - 1);
    const ctx = this.ctx;
    const next = this.next;
    ctx[0] = 0;
    if (this.order > 1) ctx[1] = this.childOf(0, START);
    let valid = Math.min(2, this.order);
    for (let i = 1; i < seq.length; i++) {
      const w = seq[i];
      out[i - 1] = Math.log(this.prob(ctx, valid - 1, w));
      next[0] = 0;
      for (let k = 0; k + 1 < this.order && k < valid; k++) next[k + 1] = this.childOf(ctx[k], w);
      valid = Math.min(valid + 1, this.order);
      ctx.set(next);
    }
    return out;
  }

  /**
   * Incremental scoring (`./incremental.ts`): the state of a sequence is the trie nodes of its last 0..order−1
   * tokens, `nodes[base + k]` for k < `valid` (k = 0: the root). `startState` writes the state after `<s>` and
   * returns its `valid`; `step` returns ln P(w | state) — the same arithmetic as `logProbs` — and advances the state
   * past `w` in place, returning the new `valid`.
   */
  startState(nodes: Int32Array, base: number): number {
    nodes[base] = 0;
    if (this.order > 1) nodes[base + 1] = this.childOf(0, START);
    return Math.min(2, this.order);
  }

  /** See {@link startState}; `out[outAt]` receives ln P(w | state). */
  step(nodes: Int32Array, base: number, valid: number, w: number, out: Float64Array, outAt: number): number {
    if (w < 0 || w >= this.vocabSize || w === PAD || w === START) throw new RangeError(`token ${w} cannot be predicted (vocabulary size ${this.vocabSize})`);
    // The child of context k under w is both the n-gram scored at level k and the next state's context k + 1:
    // one look-up serves both (`next` holds them; a context never seen has no longer ones either).
    const next = this.next;
    let p = 1 / this.predictable;
    let k = 0;
    for (; k < valid; k++) {
      const h = nodes[base + k];
      if (h < 0) break;
      const x = this.childOf(h, w);
      next[k] = x;
      const tot = this.total[h];
      if (tot <= 0) continue;
      p = this.discounted(x, k) / tot + this.gamma[h] * p;
    }
    for (; k < valid; k++) next[k] = -1;
    out[outAt] = Math.log(p);
    const m = Math.min(valid, this.order - 1);
    for (let j = 0; j < m; j++) nodes[base + j + 1] = next[j];
    return Math.min(valid + 1, this.order);
  }

  /** Mean negative log-likelihood per predicted token (nats). */
  meanNll(seq: Int32Array): number {
    const lp = this.logProbs(seq);
    let s = 0;
    for (let i = 0; i < lp.length; i++) s -= lp[i];
    return s / lp.length;
  }

  /** exp(mean NLL). */
  perplexity(seq: Int32Array): number {
    return Math.exp(this.meanNll(seq));
  }

  toJSON(): NgramJSON {
    return {
      magic: 'syscall-anomaly/ngram', version: 1, order: this.order, vocabSize: this.vocabSize,
      parent: b64(this.parent), token: b64(this.token), count: b64(this.count), cont: b64(this.cont),
    };
  }

  /**
   * A builder holding this model's counts over a vocabulary of `vocabSize` ≥ this one's (ids kept, new ones after):
   * adding sequences to it and building gives the model of this one's training data and theirs together, exactly
   * as fitting on both would (Kneser-Ney needs only the counts and continuation counts, which the trie keeps).
   */
  toBuilder(vocabSize: number = this.vocabSize): NgramBuilder {
    if (vocabSize < this.vocabSize) throw new RangeError(`a vocabulary of ${vocabSize} cannot hold this model's ${this.vocabSize} ids`);
    const b = new NgramBuilder(this.order, vocabSize);
    for (let x = 1; x < this.parent.length; x++) {
      b.parent.push(this.parent[x]);
      b.token.push(this.token[x]);
      b.count.push(this.count[x]);
      b.cont.push(this.cont[x]);
      b.child.set(this.parent[x] * vocabSize + this.token[x], x);
    }
    return b;
  }

  static fromJSON(j: NgramJSON): NgramModel {
    if (j?.magic !== 'syscall-anomaly/ngram') throw new Error('not a syscall-anomaly n-gram model (bad magic)');
    if (j.version !== 1) throw new Error(`unsupported n-gram model version ${j.version}`);
    const parent = fromB64(j.parent, Int32Array);
    const token = fromB64(j.token, Int32Array);
    const count = fromB64(j.count, Float64Array);
    const cont = fromB64(j.cont, Int32Array);
    const n = parent.length;
    if (token.length !== n || count.length !== n || cont.length !== n || n === 0) throw new Error('n-gram JSON: arrays of different lengths');
    const child = new Map<number, number>();
    for (let x = 1; x < n; x++) {
      if (token[x] < 0 || token[x] >= j.vocabSize) throw new Error(`n-gram JSON: token ${token[x]} out of range`);
      child.set(parent[x] * j.vocabSize + token[x], x);
    }
    return new NgramModel(j.order, j.vocabSize, parent, token, count, cont, child);
  }
}
