/**
 * @module models/ngram/ngram.test
 * Interpolated modified Kneser-Ney checked three ways: probabilities worked out by hand on a tiny corpus (formulas
 * written out below), a plain string-keyed re-implementation on random corpora, and normalisation (Σ_w P(w|h) = 1).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { END, START } from '../../features/tokens/vocabulary.js';
import { NgramModel, knDiscounts } from './ngram.js';

const close = (a: number, b: number, eps = 1e-12) => assert.ok(Math.abs(a - b) <= eps * Math.max(1, Math.abs(b)), `${a} ≠ ${b}`);

// Token ids: specials 0..4 (<pad>, <unk>, <s>, </s>, <trunc>), then a=5, b=6, c=7; V = 8, predictable = 6.
const A = 5, B = 6, C = 7, V = 8;
const seq = (...t: number[]) => Int32Array.from([START, ...t, END]);

test('knDiscounts follows Chen & Goodman', () => {
  // n1=6, n2=2, n3=1, n4=1: Y = 6/10; D1 = 1 − 2·0.6·2/6 = 0.6; D2 = 2 − 3·0.6·1/2 = 1.1; D3+ = 3 − 4·0.6·1/1 = 0.6
  const [d1, d2, d3] = knDiscounts([0, 6, 2, 1, 1]);
  close(d1, 0.6); close(d2, 1.1); close(d3, 0.6);
  const clamped = knDiscounts([0, 1, 1, 1, 9]); // D3+ = 3 − 4·(1/3)·9 < 0 → floor
  close(clamped[2], 0.05);
});

test('bigram probabilities worked out by hand', () => {
  // corpus: bbc, bb, ccab, cb, b
  const m = NgramModel.fit([seq(B, B, C), seq(B, B), seq(C, C, A, B), seq(C, B), seq(B)], 2, V);
  // bigram counts (highest order: raw): <s>b 3, <s>c 2, bb 2, bc 1, b</s> 4, cc 1, ca 1, cb 1, c</s> 1, ab 1
  //   count-of-counts n1=6 n2=2 n3=1 n4=1 → D1=0.6, D2=1.1, D3+=0.6
  // unigram continuation counts N1+(•w): b {<s>,b,a,c}=4, c {<s>,b,c}=3, </s> {b,c}=2, a {c}=1; Σ=10
  //   n1=n2=n3=n4=1 → Y=1/3, D1=1/3, D2=1, D3+=5/3
  //   γ(ε) = (D1·1 + D2·1 + D3+·2)/10 = 7/15, uniform base 1/6
  //   P1(b) = (4−5/3)/10 + 7/90 = 28/90; P1(c) = (3−5/3)/10 + 7/90 = 19/90; P1(</s>) = (2−1)/10 + 7/90 = 16/90;
  //   P1(a) = (1−1/3)/10 + 7/90 = 13/90; P1(<unk>) = P1(<trunc>) = 7/90
  const d = m.discounts;
  close(d[2][0], 0.6); close(d[2][1], 1.1); close(d[2][2], 0.6);
  close(d[1][0], 1 / 3); close(d[1][1], 1); close(d[1][2], 5 / 3);
  close(m.probability([], B), 28 / 90);
  close(m.probability([], C), 19 / 90);
  close(m.probability([], END), 16 / 90);
  close(m.probability([], A), 13 / 90);
  close(m.probability([], 1), 7 / 90);
  // context b: bb 2, bc 1, b</s> 4 → Σ=7, γ(b) = (D2 + D1 + D3+)/7 = 2.3/7
  close(m.probability([B], END), (4 - 0.6) / 7 + (2.3 / 7) * (16 / 90));
  close(m.probability([B], A), (2.3 / 7) * (13 / 90));
  // context <s>: <s>b 3, <s>c 2 → Σ=5, γ(<s>) = (D3+ + D2)/5 = 1.7/5
  const pBgivenS = (3 - 0.6) / 5 + (1.7 / 5) * (28 / 90);
  // context c: four singletons → Σ=4, γ(c) = 4·0.6/4 = 0.6
  const pEgivenC = (1 - 0.6) / 4 + 0.6 * (16 / 90);
  const pCgivenB = (1 - 0.6) / 7 + (2.3 / 7) * (19 / 90);
  const lp = m.logProbs(seq(B, C));
  assert.equal(lp.length, 3);
  close(lp[0], Math.log(pBgivenS)); close(lp[1], Math.log(pCgivenB)); close(lp[2], Math.log(pEgivenC));
  close(m.perplexity(seq(B, C)), Math.exp(-(Math.log(pBgivenS) + Math.log(pCgivenB) + Math.log(pEgivenC)) / 3));
  // an unseen context falls back to the unigram distribution
  close(m.probability([1], B), 28 / 90);
});

/** A plain re-implementation: string keys, recursion, no trie. */
function reference(corpus: Int32Array[], n: number, vocab: number) {
  const raw = new Map<string, number>();
  for (const s of corpus) {
    for (let i = 1; i < s.length; i++) {
      for (let k = 1; k <= n && i - k + 1 >= 0; k++) {
        const key = Array.from(s.slice(i - k + 1, i + 1)).join(',');
        raw.set(key, (raw.get(key) ?? 0) + 1);
      }
    }
  }
  const cont = new Map<string, number>();
  for (const key of raw.keys()) {
    const parts = key.split(',');
    if (parts.length < 2) continue;
    const suffix = parts.slice(1).join(',');
    cont.set(suffix, (cont.get(suffix) ?? 0) + 1);
  }
  const adj = (key: string) => {
    const parts = key.split(',');
    return parts.length === n || Number(parts[0]) === START ? raw.get(key) ?? 0 : cont.get(key) ?? 0;
  };
  const coc: number[][] = Array.from({ length: n + 1 }, () => [0, 0, 0, 0, 0]);
  for (const key of new Set([...raw.keys(), ...cont.keys()])) {
    const a = adj(key);
    if (a >= 1 && a <= 4) coc[key.split(',').length][a]++;
  }
  const D = coc.map((c) => knDiscounts(c));
  const prob = (ctx: number[], w: number): number => {
    if (ctx.length === 0 && n === 0) return 1 / (vocab - 2);
    const lower = ctx.length === 0 ? 1 / (vocab - 2) : prob(ctx.slice(1), w);
    const k = ctx.length + 1;
    let total = 0, gammaNum = 0;
    for (let v = 0; v < vocab; v++) {
      const a = adj([...ctx, v].join(','));
      if (a <= 0) continue;
      total += a;
      gammaNum += a === 1 ? D[k][0] : a === 2 ? D[k][1] : D[k][2];
    }
    if (total === 0) return lower;
    const a = adj([...ctx, w].join(','));
    const disc = a === 0 ? 0 : a === 1 ? D[k][0] : a === 2 ? D[k][1] : D[k][2];
    return Math.max(a - disc, 0) / total + (gammaNum / total) * lower;
  };
  return prob;
}

function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

function randomCorpus(r: () => number, nSeq: number, maxLen: number, nTok: number): Int32Array[] {
  const out: Int32Array[] = [];
  for (let i = 0; i < nSeq; i++) {
    const len = 1 + Math.floor(r() * maxLen);
    const t: number[] = [];
    for (let j = 0; j < len; j++) t.push(5 + Math.floor(r() * r() * nTok)); // skewed towards low ids
    out.push(seq(...t));
  }
  return out;
}

for (const order of [1, 3, 4]) {
  test(`order ${order}: log-probabilities match a plain re-implementation; perplexity = exp(mean NLL)`, () => {
    const r = rng(order * 7919);
    const nTok = 6;
    const vocab = 5 + nTok;
    const corpus = randomCorpus(r, 60, 12, nTok);
    const m = NgramModel.fit(corpus, order, vocab);
    const ref = reference(corpus, order, vocab);
    const tests = [...corpus.slice(0, 5), ...randomCorpus(r, 5, 15, nTok + 1)]; // includes a never-seen token
    for (const s of tests) {
      const lp = m.logProbs(s);
      let nll = 0;
      for (let i = 1; i < s.length; i++) {
        const ctx = Array.from(s.slice(Math.max(0, i - order + 1), i));
        close(lp[i - 1], Math.log(ref(ctx, s[i])), 1e-9);
        nll -= Math.log(m.probability(Array.from(s.slice(0, i)), s[i]));
      }
      close(m.perplexity(s), Math.exp(nll / (s.length - 1)), 1e-9);
    }
  });

  test(`order ${order}: probabilities over the predictable vocabulary sum to 1 for random contexts`, () => {
    const r = rng(order * 104729);
    const nTok = 8;
    const vocab = 5 + nTok;
    const m = NgramModel.fit(randomCorpus(r, 80, 10, nTok), order, vocab);
    for (let trial = 0; trial < 40; trial++) {
      const ctx: number[] = r() < 0.5 ? [START] : [];
      const len = Math.floor(r() * 5);
      for (let j = 0; j < len; j++) ctx.push(r() < 0.1 ? 1 : 5 + Math.floor(r() * nTok));
      let sum = 0;
      for (let w = 0; w < vocab; w++) if (w !== 0 && w !== START) sum += m.probability(ctx, w);
      close(sum, 1, 1e-9);
    }
  });
}

test('JSON round trip gives the same log-probabilities; bad input is refused', () => {
  const r = rng(5);
  const corpus = randomCorpus(r, 30, 10, 5);
  const m = NgramModel.fit(corpus, 3, 10);
  const back = NgramModel.fromJSON(JSON.parse(JSON.stringify(m)));
  for (const s of corpus.slice(0, 5)) assert.deepEqual(back.logProbs(s), m.logProbs(s));
  assert.equal(back.size, m.size);
  assert.throws(() => NgramModel.fromJSON({ ...m.toJSON(), magic: 'nope' as 'syscall-anomaly/ngram' }), /magic/);
  assert.throws(() => m.logProbs(Int32Array.from([5, 6, END])), RangeError);
  assert.throws(() => m.logProbs(Int32Array.from([START, 42, END])), RangeError);
});
