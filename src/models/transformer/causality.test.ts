/**
 * @module models/transformer/causality.test
 * No position sees a future token, for the Transformer (dense attention, and sliding past its context) and the
 * Longformer (blockwise sliding window plus the global start token): changing the input token at position s leaves
 * every log-probability at positions < s exactly as it was — the start token at position 0 included, since global
 * attention reaches it but it attends only to itself — and does change position s (the test is not vacuous). Also
 * checks the blockwise mask against the visibility rule.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { seededRandom } from '../../engine/graph.js';
import { Runner } from '../../engine/session.js';
import { blockMask, MASKED, visible } from '../attention.js';
import { fittedTokenizer, events, randomParams, smallConfig } from './fixture.js';
import { transformerForwardGraph, type TransformerConfig } from './network.js';

/** Row 0: random tokens; row s (1 ≤ s < T): the same with every field of position s changed. Targets shared. */
async function perturbedScores(cfg: TransformerConfig, T: number): Promise<Float32Array> {
  const B = T;
  const rand = seededRandom(17);
  const base = cfg.fields.map((f) => Array.from({ length: T }, () => Math.floor(rand() * f.vocab)));
  const feeds: Record<string, ort.Tensor> = {
    pos: new ort.Tensor('int64', BigInt64Array.from({ length: B * T }, (_, i) => BigInt(i % T)), [B, T]),
    targets: new ort.Tensor('int64', BigInt64Array.from({ length: B * T }, (_, i) => BigInt(((i % T) * 7) % cfg.fields[0]!.vocab)), [B, T]),
  };
  cfg.fields.forEach((f, fi) => {
    const ids = new BigInt64Array(B * T);
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T; t++) ids[b * T + t] = BigInt(b > 0 && t === b ? (base[fi]![t]! + 1) % f.vocab : base[fi]![t]!);
    }
    feeds[`tok_${f.name}`] = new ort.Tensor('int64', ids, [B, T]);
  });
  const runner = new Runner(randomParams(cfg), 1, () => transformerForwardGraph(cfg, B, T));
  const logp = Float32Array.from((await runner.forward('k', feeds))['logp']!);
  await runner.release();
  return logp;
}

const tokenizer = fittedTokenizer(events(8, 1));
const cases: [string, TransformerConfig, number][] = [
  ['Transformer, dense (T within the context)', smallConfig(tokenizer, 64, false), 32],
  ['Transformer, sliding past its context of 8 (blockwise)', smallConfig(tokenizer, 8, false), 48],
  ['Longformer, window 8 + global start token (blockwise)', smallConfig(tokenizer, 8, true), 48],
  ['Longformer, window 64 + global start token (dense)', smallConfig(tokenizer, 64, true), 32],
];

for (const [name, cfg, T] of cases) {
  test(`${name}: changing the token at s changes no log-probability before s`, async () => {
    const logp = await perturbedScores(cfg, T);
    for (let s = 1; s < T; s++) {
      for (let p = 0; p < s; p++) {
        assert.equal(logp[s * T + p], logp[p], `position ${p} changed when token ${s} did`);
      }
      assert.notEqual(logp[s * T + s], logp[s], `position ${s} did not see its own token`);
    }
  });
}

test('the Longformer\'s start token is seen from beyond the window; the Transformer\'s is not', async () => {
  // Changing token 0 must change a position far past the window only when the start token is global.
  for (const [globalStart, expectChange] of [[true, true], [false, false]] as const) {
    const cfg = smallConfig(tokenizer, 8, globalStart);
    const T = 48;
    const feeds = (first: number): Record<string, ort.Tensor> => {
      const r = seededRandom(4);
      const out: Record<string, ort.Tensor> = {
        pos: new ort.Tensor('int64', BigInt64Array.from({ length: T }, (_, i) => BigInt(i)), [1, T]),
        targets: new ort.Tensor('int64', BigInt64Array.from({ length: T }, () => BigInt(Math.floor(r() * 3))), [1, T]),
      };
      cfg.fields.forEach((f) => {
        out[`tok_${f.name}`] = new ort.Tensor('int64', BigInt64Array.from({ length: T }, (_, t) => BigInt(t === 0 ? first % f.vocab : Math.floor(r() * f.vocab))), [1, T]);
      });
      return out;
    };
    const runner = new Runner(randomParams(cfg), 1, () => transformerForwardGraph(cfg, 1, T));
    const a = Float32Array.from((await runner.forward('k', feeds(2)))['logp']!);
    const b = Float32Array.from((await runner.forward('k', feeds(5)))['logp']!);
    await runner.release();
    assert.equal(a[T - 1] !== b[T - 1], expectChange, `globalStart ${globalStart}`);
  }
});

test('the blockwise mask follows the visibility rule exactly once per seen position', () => {
  for (const globalStart of [false, true]) {
    const w = 4;
    const T = 16;
    const m = blockMask(T, w, globalStart);
    for (let t = 0; t < T; t++) {
      const i = Math.floor(t / w);
      const r = t % w;
      const seen = new Map<number, number>();
      const row = (i * w + r) * (2 * w + 1);
      if (m[row] === 0) seen.set(0, (seen.get(0) ?? 0) + 1);
      for (let s = 0; s < 2 * w; s++) {
        const j = (i - 1) * w + s;
        if (m[row + 1 + s] === 0) seen.set(j, (seen.get(j) ?? 0) + 1);
        else assert.equal(m[row + 1 + s], MASKED);
      }
      for (let j = 0; j < T; j++) assert.equal(seen.get(j) ?? 0, visible(t, j, w, globalStart) ? 1 : 0, `t ${t} j ${j} global ${globalStart}`);
    }
  }
});
