/**
 * @module models/transformer/network
 * The attention language models' network (Transformer and Longformer: the same declaration, they differ in who
 * attends to whom — `models/attention.ts`), declared once as engine graphs:
 *
 *   token fields + position [B, T] → field codes (models/embedding) [B, T, E] → linear → [B, T, d]
 *   L pre-norm blocks:  x += W_o · attention(LN(x))          (H heads of d/H; causal window w, global start token)
 *                       x += W_2 · (silu(LN(x) W_1) ⊙ LN(x) W_3)   (SwiGLU, inner width F)
 *   → LN → linear → logits over the next syscall name [B, T, V]
 *
 * A Transformer's window is its context (T ≤ context: plain causal attention); a Longformer has a small window
 * and a global start token. Graphs: the forward graph (scoring; per (B, T) bucket, optionally the last layer's
 * head-averaged attention as an output), the training graph (cross-entropy with label smoothing, dropout masks fed as
 * an input, AdamW appended) and the step graph of incremental scoring (one new token per sequence against a
 * key/value cache of C slots). All three declare the same parameters in the same order, so one flat buffer serves.
 */
import { Graph, type FloatType, type Value } from '../../engine/graph.js';
import { forwardModel, trainingModel, type BuiltGraph } from '../../engine/session.js';
import type { AdamConfig } from '../../engine/optim.js';
import { cachedAttention, causalAttention } from '../attention.js';
import { checkFields, embedFields, fieldTables, inputWidth, type FieldSpec } from '../embedding.js';
import { checkTrainSettings, integerSetting, softTargetLoss, type TrainSettings } from '../training.js';

export interface TransformerConfig extends TrainSettings {
  /** Input fields; fields[0] is the syscall name, the one predicted. */
  fields: readonly FieldSpec[];
  /** Width of the sinusoidal code of each token's position in its sequence (0: none). */
  positionDim: number;
  /** Model width d, blocks L, heads H (d % H = 0), SwiGLU inner width F. */
  width: number;
  layers: number;
  heads: number;
  ffn: number;
  /** Attention window w: position t sees t − w < j ≤ t (a Transformer's context). */
  window: number;
  /** Every position also sees the start token (Longformer). */
  globalStart: boolean;
  /** Tokens per training row (longer sequences are cut into pieces that keep the start token). */
  chunk: number;
  /** Rows per training step at length `chunk` (shorter buckets get proportionally more). */
  batch: number;
  /** Dropout on the input projection and on each block's two branch outputs, in training only. */
  dropout: number;
}

/** Checks what the graph builders rely on; throws RangeError naming the bad setting. */
export function checkConfig(cfg: TransformerConfig): void {
  checkFields(cfg.fields, cfg.positionDim, 'attention model');
  const posInt = integerSetting('attention model');
  for (const k of ['width', 'layers', 'heads', 'ffn', 'window', 'chunk', 'batch'] as const) posInt(k, cfg[k]);
  if (cfg.width % cfg.heads !== 0) throw new RangeError(`attention model width ${cfg.width} is not a multiple of heads ${cfg.heads}`);
  checkTrainSettings(cfg, 'attention model');
}

interface BlockParams {
  ln1g: Value; ln1b: Value; wqkv: Value; wo: Value;
  ln2g: Value; ln2b: Value; w13: Value; w2: Value;
}

interface Params {
  tables: (Value | null)[];
  inW: Value; inB: Value;
  blocks: BlockParams[];
  lnfG: Value; lnfB: Value; outW: Value; outB: Value;
}

/** Declares every parameter, in the one order all graphs share. */
function declareParams(g: Graph, cfg: TransformerConfig): Params {
  const d = cfg.width;
  const E = inputWidth(cfg.fields, cfg.positionDim);
  const F = cfg.ffn;
  const std = 0.02;
  const residual = 0.02 / Math.sqrt(2 * cfg.layers);
  const ones = { kind: 'const', value: 1 } as const;
  const zeros = { kind: 'const', value: 0 } as const;
  const tables = fieldTables(g, cfg.fields);
  const inW = g.param('in.w', [E, d], { kind: 'uniform', limit: 1 / Math.sqrt(E) }, true); // [E, d]
  const inB = g.param('in.b', [d], zeros, false); // [d]
  const blocks = Array.from({ length: cfg.layers }, (_, l): BlockParams => ({
    ln1g: g.param(`l${l}.ln1.g`, [d], ones, false),
    ln1b: g.param(`l${l}.ln1.b`, [d], zeros, false),
    wqkv: g.param(`l${l}.wqkv`, [d, 3 * d], { kind: 'normal', std }, true), // [d, 3d]: q | k | v
    wo: g.param(`l${l}.wo`, [d, d], { kind: 'normal', std: residual }, true), // [d, d]
    ln2g: g.param(`l${l}.ln2.g`, [d], ones, false),
    ln2b: g.param(`l${l}.ln2.b`, [d], zeros, false),
    w13: g.param(`l${l}.w13`, [d, 2 * F], { kind: 'normal', std }, true), // [d, 2F]: gate | value
    w2: g.param(`l${l}.w2`, [F, d], { kind: 'normal', std: residual }, true), // [F, d]
  }));
  const V = cfg.fields[0]!.vocab;
  return {
    tables, inW, inB, blocks,
    lnfG: g.param('lnf.g', [d], ones, false), lnfB: g.param('lnf.b', [d], zeros, false),
    outW: g.param('out.w', [d, V], { kind: 'normal', std }, true), outB: g.param('out.b', [V], zeros, false),
  };
}

/** x [B, T, d] → [B, H, T, d/H]. */
function splitHeads(g: Graph, x: Value, H: number): Value {
  const [B, T, d] = x.shape as [number, number, number];
  return g.transpose(g.reshape(x, [B, T, H, d / H]), [0, 2, 1, 3]);
}

/** x [B, H, T, dh] → [B, T, H·dh]. */
function mergeHeads(g: Graph, x: Value): Value {
  const [B, H, T, dh] = x.shape as [number, number, number, number];
  return g.reshape(g.transpose(x, [0, 2, 1, 3]), [B, T, H * dh]);
}

/**
 * silu(x) = x·σ(x). onnxruntime fuses x·σ(x) into its float32-only QuickGelu kernel, which fails in a float64 graph
 * (gradient and parity checks): there the same function is written x·(1 + tanh(x/2))/2.
 */
export function silu(g: Graph, x: Value): Value {
  if (g.float === 'float32') return g.mul(x, g.sigmoid(x));
  return g.mul(g.mul(x, g.scalar(0.5)), g.add(g.tanh(g.mul(x, g.scalar(0.5))), g.scalar(1)));
}

/**
 * The SwiGLU branch of a block: x [B, T, d] → [B, T, d]. The weight is split, not the activations: onnxruntime's
 * Split along a last axis of [B, T, 2F] was the slowest node of a training step.
 */
function swiglu(g: Graph, x: Value, w13: Value, w2: Value): Value {
  const F = w2.shape[0]!;
  const [w1, w3] = g.split(w13, 1, [F, F]) as [Value, Value]; // each [d, F]
  return g.matmul(g.mul(silu(g, g.matmul(x, w1)), g.matmul(x, w3)), w2); // [B, T, F] → [B, T, d]
}

/**
 * Per-head projection x [B, T, d] · w [d, d] → [B, H, T, d/H], one product per head against w's columns of that head.
 * Keys go this way (not through {@link splitHeads}): the attention transposes their last two axes, which onnxruntime
 * folds into the score MatMul — after a head-splitting Transpose its optimizer merged the two into one generic 5-D
 * Transpose, the slowest node of a blockwise forward pass.
 */
function headProjection(g: Graph, x: Value, w: Value, H: number): Value {
  const [B, T, d] = x.shape as [number, number, number];
  const wh = g.transpose(g.reshape(w, [d, H, d / H]), [1, 0, 2]); // [H, d, dh]
  return g.matmul(g.reshape(x, [B, 1, T, d]), wh); // [B, H, T, dh]
}

/** Queries, keys and values of x [B, T, d], each [B, H, T, d/H] (the [d, 3d] weight split, as in {@link swiglu}). */
function qkv(g: Graph, x: Value, wqkv: Value, H: number): Value[] {
  const d = x.shape[2]!;
  const [wq, wk, wv] = g.split(wqkv, 1, [d, d, d]) as [Value, Value, Value];
  return [splitHeads(g, g.matmul(x, wq), H), headProjection(g, x, wk, H), splitHeads(g, g.matmul(x, wv), H)];
}

/** The inputs of a (B, T) graph: tok_<field> [B, T] int64, pos [B, T] int64, keep [2L + 1, B, T, d] (training, dropout). */
export interface NetInputs {
  toks: Value[];
  pos: Value;
  keep: Value | null;
}

export interface Net {
  logits: Value; // [B, T, V]
  /** The last block's attention probabilities, averaged over heads: [B, T, T] dense, [B, T/w, w, 2w + 1] blockwise. */
  attention: Value;
}

/** Declares the inputs and the network of a (B, T) bucket; T ≤ window, or a multiple of it. */
export function transformerNet(g: Graph, cfg: TransformerConfig, B: number, T: number, training = false): { inputs: NetInputs; net: Net } {
  const d = cfg.width;
  const H = cfg.heads;
  const L = cfg.layers;
  const p = declareParams(g, cfg);
  const toks = cfg.fields.map((f) => g.input(`tok_${f.name}`, 'int64', [B, T])); // each [B, T]
  const pos = g.input('pos', 'int64', [B, T]); // [B, T]
  const keep = training && cfg.dropout > 0 ? g.input('keep', g.float, [2 * L + 1, B, T, d]) : null; // [2L + 1, B, T, d]
  const masks = keep === null ? [] : g.split(keep, 0, new Array<number>(2 * L + 1).fill(1)).map((m) => g.reshape(m, [B, T, d])); // each [B, T, d]
  const drop = (x: Value, i: number): Value => (keep === null ? x : g.mul(x, masks[i]!)); // [B, T, d]
  const e = embedFields(g, cfg.fields, toks, pos, cfg.positionDim, p.tables); // [B, T, E]
  let x = drop(g.add(g.matmul(e, p.inW), p.inB), 0); // [B, T, d]
  let attention: Value | null = null;
  p.blocks.forEach((b, l) => {
    const a = g.layerNormalization(x, b.ln1g, b.ln1b); // [B, T, d]
    const [q, k, v] = qkv(g, a, b.wqkv, H) as [Value, Value, Value]; // each [B, H, T, dh]
    const att = causalAttention(g, q, k, v, cfg.window, cfg.globalStart); // out [B, H, T, dh]
    if (l === L - 1) attention = g.reduceMean(att.probs, [1], false); // [B, T, T] or [B, nb, w, 2w + 1]
    x = g.add(x, drop(g.matmul(mergeHeads(g, att.out), b.wo), 1 + 2 * l)); // [B, T, d]
    x = g.add(x, drop(swiglu(g, g.layerNormalization(x, b.ln2g, b.ln2b), b.w13, b.w2), 2 + 2 * l)); // [B, T, d]
  });
  const logits = g.add(g.matmul(g.layerNormalization(x, p.lnfG, p.lnfB), p.outW), p.outB); // [B, T, V]
  return { inputs: { toks, pos, keep }, net: { logits, attention: attention! } };
}

/** log P(target) per position from logits [B, T, V] and targets [B, T] (< 0: none, scored 0) → [B, T]. */
function pickTargets(g: Graph, logits: Value, targets: Value): Value {
  const [B, T, V] = logits.shape as [number, number, number];
  const logp = g.logSoftmax(g.reshape(logits, [B * T, V])); // [B*T, V]
  const has = g.greater(targets, g.const([-1], [], 'int64')); // [B, T] bool
  const safe = g.where(has, targets, g.const([0], [], 'int64')); // [B, T]
  const rowBase = g.const(Array.from({ length: B * T }, (_, r) => r * V), [B * T], 'int64'); // [B*T]
  const picked = g.reshape(g.gather(g.reshape(logp, [B * T * V, 1]), g.add(g.reshape(safe, [B * T]), rowBase)), [B, T]); // [B, T]
  return g.where(has, picked, g.scalar(0)); // [B, T]
}

/**
 * Forward (inference) graph of a (B, T) bucket: extra input targets [B, T] int64 (< 0 where there is none); output
 * logp [B, T]; with `withAttention`, also attn (see {@link Net.attention}).
 */
export function transformerForwardGraph(cfg: TransformerConfig, B: number, T: number, withAttention = false, float: FloatType = 'float32'): BuiltGraph {
  const g = new Graph(float);
  const { net } = transformerNet(g, cfg, B, T);
  const targets = g.input('targets', 'int64', [B, T]); // [B, T]
  const logp = pickTargets(g, net.logits, targets); // [B, T]
  return forwardModel(g, withAttention ? { logp, attn: net.attention } : { logp });
}

/** The training loss: mean cross-entropy (label smoothing) of the next-name logits against targets [B, T] (−1 = none). */
export function transformerLoss(g: Graph, cfg: TransformerConfig, B: number, T: number, training = true): { inputs: NetInputs; targets: Value; net: Net; loss: Value } {
  const { inputs, net } = transformerNet(g, cfg, B, T, training);
  const targets = g.input('targets', 'int64', [B, T]); // [B, T]
  const V = cfg.fields[0]!.vocab;
  const loss = g.crossEntropy(g.reshape(net.logits, [B * T, V]), g.reshape(targets, [B * T]), cfg.labelSmoothing, -1); // []
  return { inputs, targets, net, loss };
}

/**
 * The distillation loss (a lifelong update's soft targets, `models/update.ts`): mean cross-entropy of the next-name
 * logits against target distributions `soft` [B, T, V], over the positions whose target [B, T] int64 is ≥ 0.
 */
export function transformerSoftLoss(g: Graph, cfg: TransformerConfig, B: number, T: number): { inputs: NetInputs; targets: Value; soft: Value; net: Net; loss: Value } {
  const { inputs, net } = transformerNet(g, cfg, B, T, true);
  const targets = g.input('targets', 'int64', [B, T]); // [B, T]
  return { inputs, targets, net, ...softTargetLoss(g, net.logits, targets) };
}

/** Training graph: the loss (`soft`: the distillation loss) and the AdamW step (see engine/optim). */
export function transformerTrainGraph(cfg: TransformerConfig, adam: AdamConfig, B: number, T: number, float: FloatType = 'float32', soft = false): BuiltGraph {
  const g = new Graph(float);
  const { loss } = soft ? transformerSoftLoss(g, cfg, B, T) : transformerLoss(g, cfg, B, T);
  return trainingModel(g, loss, adam, {});
}

/** Inference graph of the whole next-name distribution of a (B, T) bucket: output probs [B, T, V]. */
export function transformerDistributionGraph(cfg: TransformerConfig, B: number, T: number): BuiltGraph {
  const g = new Graph('float32');
  const { net } = transformerNet(g, cfg, B, T);
  return forwardModel(g, { probs: g.softmax(net.logits) }); // [B, T, V]
}

/**
 * Step graph of incremental scoring for N sequences and C cache slots: inputs tok_<field> / pos [N, 1], kcache /
 * vcache [L, N, H, C, dh], mask [N, 1, 1, C] (0 = slot seen, −1e9 = not); outputs logp_all [N, V] (the next-token
 * distribution after the new token) and k_new / v_new [L, N, H, 1, dh] (the new token's keys and values).
 */
export function transformerStepGraph(cfg: TransformerConfig, N: number, C: number): BuiltGraph {
  const g = new Graph('float32');
  const d = cfg.width;
  const H = cfg.heads;
  const L = cfg.layers;
  const dh = d / H;
  const p = declareParams(g, cfg);
  const toks = cfg.fields.map((f) => g.input(`tok_${f.name}`, 'int64', [N, 1])); // each [N, 1]
  const pos = g.input('pos', 'int64', [N, 1]); // [N, 1]
  const kcache = g.input('kcache', 'float32', [L, N, H, C, dh]); // [L, N, H, C, dh]
  const vcache = g.input('vcache', 'float32', [L, N, H, C, dh]); // [L, N, H, C, dh]
  const mask = g.input('mask', 'float32', [N, 1, 1, C]); // [N, 1, 1, C]
  const layerOf = (x: Value, l: number): Value => g.reshape(L === 1 ? x : g.slice(x, 0, l, l + 1), [N, H, C, dh]); // [N, H, C, dh]
  let x = g.add(g.matmul(embedFields(g, cfg.fields, toks, pos, cfg.positionDim, p.tables), p.inW), p.inB); // [N, 1, d]
  const ks: Value[] = [];
  const vs: Value[] = [];
  p.blocks.forEach((b, l) => {
    const a = g.layerNormalization(x, b.ln1g, b.ln1b); // [N, 1, d]
    const [q, k, v] = qkv(g, a, b.wqkv, H) as [Value, Value, Value]; // each [N, H, 1, dh]
    ks.push(g.reshape(k, [1, N, H, 1, dh]));
    vs.push(g.reshape(v, [1, N, H, 1, dh]));
    const out = cachedAttention(g, q, k, v, layerOf(kcache, l), layerOf(vcache, l), mask); // [N, H, 1, dh]
    x = g.add(x, g.matmul(mergeHeads(g, out), b.wo)); // [N, 1, d]
    x = g.add(x, swiglu(g, g.layerNormalization(x, b.ln2g, b.ln2b), b.w13, b.w2)); // [N, 1, d]
  });
  const V = cfg.fields[0]!.vocab;
  const logits = g.add(g.matmul(g.layerNormalization(x, p.lnfG, p.lnfB), p.outW), p.outB); // [N, 1, V]
  const logpAll = g.logSoftmax(g.reshape(logits, [N, V])); // [N, V]
  const stack = (xs: Value[]): Value => (xs.length === 1 ? xs[0]! : g.concat(xs, 0)); // [L, N, H, 1, dh]
  return forwardModel(g, { logp_all: logpAll, k_new: stack(ks), v_new: stack(vs) });
}

/** The seeded initial flat parameters for `cfg`. */
export function transformerInitialParams(cfg: TransformerConfig): Float32Array {
  const g = new Graph('float32');
  declareParams(g, cfg);
  return Float32Array.from(g.initialParams(cfg.seed));
}

/** Name, offset and shape of each parameter in the flat buffer (for the parity test and tools that map weights). */
export function transformerParamLayout(cfg: TransformerConfig): { name: string; offset: number; shape: number[] }[] {
  const g = new Graph('float32');
  declareParams(g, cfg);
  return g.params.map((q) => ({ name: q.name, offset: q.offset, shape: [...q.shape] }));
}

/**
 * The padded length a sequence of n inputs is scored at: powers of two from 8 up to the window, then a power-of-two
 * number of windows (so that blockwise attention applies and few distinct sessions are built).
 */
export function bucketLength(n: number, window: number): number {
  let t = 8;
  while (t < n && t < window) t *= 2;
  if (n <= t && t <= window) return t;
  if (n <= window) return window;
  let blocks = 1;
  while (blocks * window < n) blocks *= 2;
  return blocks * window;
}
