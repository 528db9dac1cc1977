/**
 * @module models/attention.test
 * Gradients of the attention pieces against float64 central finite differences (`engine/gradcheck`): dense causal
 * attention (plain, and a band with the global start token), blockwise sliding-window attention with and without
 * the global token (the zero block before the first, the masked slots, the global slot's separate product), and the
 * SwiGLU gate silu(x)·y the blocks use. Also: blockwise and dense attention agree where both apply.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { gradCheckTests, type CheckInput, type GradCheckCase } from '../engine/gradcheck.js';
import { Graph, seededRandom } from '../engine/graph.js';
import { blockwiseAttention, denseAttention } from './attention.js';
import { silu } from './transformer/network.js';

const TOL = 1e-6;
const n = (...shape: number[]): CheckInput => ({ shape, draw: 'normal' });

const cases: GradCheckCase[] = [
  ['dense causal attention', [n(1, 2, 5, 3), n(1, 2, 5, 3), n(1, 2, 5, 3)], (g, [q, k, v]) => denseAttention(g, q!, k!, v!, 8, false).out],
  ['dense band attention (window 2) with the global start token', [n(2, 1, 5, 2), n(2, 1, 5, 2), n(2, 1, 5, 2)],
    (g, [q, k, v]) => denseAttention(g, q!, k!, v!, 2, true).out],
  ['blockwise attention (window 3, T 9) with the global start token', [n(1, 2, 9, 2), n(1, 2, 9, 2), n(1, 2, 9, 2)],
    (g, [q, k, v]) => blockwiseAttention(g, q!, k!, v!, 3, true).out],
  ['blockwise attention (window 2, T 6) without a global token', [n(2, 1, 6, 2), n(2, 1, 6, 2), n(2, 1, 6, 2)],
    (g, [q, k, v]) => blockwiseAttention(g, q!, k!, v!, 2, false).out],
  ['SwiGLU gate silu(x)·y (the float64 form)', [n(2, 4), n(2, 4)], (g, [x, y]) => g.mul(silu(g, x!), y!)],
];

gradCheckTests(cases, TOL);

test('blockwise and dense attention give the same outputs for the same window', async () => {
  for (const globalStart of [false, true]) {
    const [B, H, T, dh, w] = [2, 2, 12, 3, 4];
    const g = new Graph('float64');
    const q = g.input('q', 'float64', [B, H, T, dh]);
    const k = g.input('k', 'float64', [B, H, T, dh]);
    const v = g.input('v', 'float64', [B, H, T, dh]);
    const session = await ort.InferenceSession.create(g.toModel({
      dense: denseAttention(g, q, k, v, w, globalStart).out, blocks: blockwiseAttention(g, q, k, v, w, globalStart).out,
    }));
    const rand = seededRandom(globalStart ? 2 : 3);
    const feed = (): ort.Tensor => new ort.Tensor('float64', Float64Array.from({ length: B * H * T * dh }, () => 2 * rand() - 1), [B, H, T, dh]);
    const out = await session.run({ q: feed(), k: feed(), v: feed() });
    const a = out['dense']!.data as Float64Array;
    const b = out['blocks']!.data as Float64Array;
    for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) < 1e-12, `global ${globalStart}, entry ${i}: ${a[i]} vs ${b[i]}`);
    await session.release();
  }
});
