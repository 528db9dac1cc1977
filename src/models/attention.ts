/**
 * @module models/attention
 * Causal multi-head attention over a sliding window, optionally with a global start token, as engine graph pieces
 * (shared by the Transformer and the Longformer, `models/transformer/network.ts`).
 *
 * Who sees whom: position t attends to the positions j with t − w < j ≤ t (w = the window; a Transformer's window
 * is its context, so every sequence no longer than it gets plain causal attention), and, when the start token is
 * global, to position 0 too. The start token itself sees only itself: global attention never reaches the future.
 *
 * - `dense`: scores [B, H, T, T] with an additive mask (−1e9 where j may not be seen); used when T ≤ w.
 * - `blockwise`: T split into blocks of w; block i's queries [w] meet the keys of blocks i − 1 and i [2w] plus the
 *   global key: scores [B, H, T/w, w, 2w + 1], so memory and time are linear in T (T a multiple of w).
 * - `cached`: one new query per sequence against a key/value cache [N, H, C, dh] (incremental scoring), with a
 *   per-sequence additive mask over the cache slots.
 */
import type { Graph, Value } from '../engine/graph.js';

/** Additive mask value: exp(score − 1e9) is exactly 0 in float32 and float64. */
export const MASKED = -1e9;

export interface AttentionResult {
  /** [B, H, T, dh] */
  out: Value;
  /** The attention probabilities (dense: [B, H, T, T]; blockwise: [B, H, T/w, w, 2w + 1], slot 0 = global). */
  probs: Value;
}

/**
 * q [..., dh] · 1/√dh, by a constant [dh] vector rather than a scalar: onnxruntime fuses a scalar Mul beside a MatMul
 * (forward, or in the gradient) into FusedMatMul, whose float32 alpha costs float64 graphs ~1e-8 of precision.
 */
function scaled(g: Graph, q: Value): Value {
  const dh = q.shape[q.shape.length - 1]!;
  return g.mul(q, g.const(new Array<number>(dh).fill(1 / Math.sqrt(dh)), [dh])); // [..., dh]
}

/** May position t see position j (window w, global start token)? */
export function visible(t: number, j: number, w: number, globalStart: boolean): boolean {
  return j <= t && (j > t - w || (globalStart && j === 0));
}

/** q, k, v [B, H, T, dh] → causal attention over the window, dense ([T, T] scores). */
export function denseAttention(g: Graph, q: Value, k: Value, v: Value, w: number, globalStart: boolean): AttentionResult {
  const T = q.shape[2]!;
  const mask: number[] = [];
  for (let t = 0; t < T; t++) for (let j = 0; j < T; j++) mask.push(visible(t, j, w, globalStart) ? 0 : MASKED);
  const scores = g.add(g.matmul(scaled(g, q), g.transpose(k, [0, 1, 3, 2])), g.const(mask, [T, T])); // [B, H, T, T]
  const probs = g.softmax(scores, -1); // [B, H, T, T]
  return { out: g.matmul(probs, v), probs }; // [B, H, T, dh]
}

/** The additive mask of blockwise attention: [T/w, w, 2w + 1] (slot 0 global, 1..w previous block, w+1..2w own block). */
export function blockMask(T: number, w: number, globalStart: boolean): number[] {
  const nb = T / w;
  const out: number[] = [];
  for (let i = 0; i < nb; i++) {
    for (let r = 0; r < w; r++) {
      const t = i * w + r;
      out.push(globalStart && !visible(t, 0, w, false) ? 0 : MASKED); // global slot: only when 0 is outside the window
      for (let s = 0; s < w; s++) out.push(i > 0 && visible(t, (i - 1) * w + s, w, false) ? 0 : MASKED);
      for (let s = 0; s < w; s++) out.push(visible(t, i * w + s, w, false) ? 0 : MASKED);
    }
  }
  return out;
}

/**
 * q, k, v [B, H, T, dh] → causal sliding-window attention computed block by block (T a multiple of w, T > w).
 * Each block's scores against the previous and its own block are separate products whose key operand is only
 * transposed in its last two axes, which onnxruntime folds into the MatMul — provided the keys do not come out of a
 * Transpose themselves (the Transformer's keys come from a per-head product, `headProjection` in
 * transformer/network.ts). Concatenating the two key blocks first and transposing the [.., 2w, dh] result, after a
 * head-splitting Transpose, cost a generic 5-D Transpose: the slowest node of the whole forward pass.
 */
export function blockwiseAttention(g: Graph, q: Value, k: Value, v: Value, w: number, globalStart: boolean): AttentionResult {
  const [B, H, T, dh] = q.shape as [number, number, number, number];
  if (T % w !== 0) throw new RangeError(`blockwise attention: length ${T} is not a multiple of the window ${w}`);
  const nb = T / w;
  const blocks = (x: Value): Value => g.reshape(x, [B, H, nb, w, dh]); // [B, H, nb, w, dh]
  const previous = (xb: Value): Value => g.concat([g.fill([B, H, 1, w, dh]), g.slice(xb, 2, 0, nb - 1)], 2); // [B, H, nb, w, dh]: block i − 1, zeros for block 0
  const keysT = (x: Value): Value => g.transpose(x, [0, 1, 2, 4, 3]); // [B, H, nb, dh, w]
  const qs = scaled(g, q); // [B, H, T, dh]
  const qb = blocks(qs); // [B, H, nb, w, dh]
  const kb = blocks(k); // [B, H, nb, w, dh]
  const vb = blocks(v); // [B, H, nb, w, dh]
  const k0 = g.slice(k, 2, 0, 1); // [B, H, 1, dh]: the start token's key
  const v0 = g.reshape(g.slice(v, 2, 0, 1), [B, H, 1, 1, dh]); // [B, H, 1, 1, dh]
  const global = g.reshape(g.matmul(qs, g.transpose(k0, [0, 1, 3, 2])), [B, H, nb, w, 1]); // [B, H, nb, w, 1]
  const before = g.matmul(qb, keysT(previous(kb))); // [B, H, nb, w, w]
  const own = g.matmul(qb, keysT(kb)); // [B, H, nb, w, w]
  const scores = g.add(g.concat([global, before, own], 4), g.const(blockMask(T, w, globalStart), [nb, w, 2 * w + 1])); // [B, H, nb, w, 2w + 1]
  const probs = g.softmax(scores, -1); // [B, H, nb, w, 2w + 1]
  const [pg, pb, po] = g.split(probs, 4, [1, w, w]) as [Value, Value, Value]; // [.., 1], [.., w], [.., w]
  const out = g.add(g.add(g.matmul(pb, previous(vb)), g.matmul(po, vb)), g.mul(pg, v0)); // [B, H, nb, w, dh]
  return { out: g.reshape(out, [B, H, T, dh]), probs };
}

/** Dense when T ≤ w, else blockwise (T must then be a multiple of w). */
export function causalAttention(g: Graph, q: Value, k: Value, v: Value, w: number, globalStart: boolean): AttentionResult {
  return q.shape[2]! <= w ? denseAttention(g, q, k, v, w, globalStart) : blockwiseAttention(g, q, k, v, w, globalStart);
}

/**
 * One new query per sequence: q, kNew, vNew [N, H, 1, dh] against cached keys / values [N, H, C, dh] whose slots
 * carry the additive mask [N, 1, 1, C] (0 = a position the query sees). Returns [N, H, 1, dh].
 */
export function cachedAttention(g: Graph, q: Value, kNew: Value, vNew: Value, kCache: Value, vCache: Value, mask: Value): Value {
  const N = q.shape[0]!;
  const k = g.concat([kCache, kNew], 2); // [N, H, C + 1, dh]
  const v = g.concat([vCache, vNew], 2); // [N, H, C + 1, dh]
  const fullMask = g.concat([mask, g.fill([N, 1, 1, 1])], 3); // [N, 1, 1, C + 1]: the new token sees itself
  const scores = g.add(g.matmul(scaled(g, q), g.transpose(k, [0, 1, 3, 2])), fullMask); // [N, H, 1, C + 1]
  return g.matmul(g.softmax(scores, -1), v); // [N, H, 1, dh]
}
