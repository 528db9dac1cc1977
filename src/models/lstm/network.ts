/**
 * @module models/lstm/network
 * The LSTM language model's network, declared once as an engine graph per (batch B, chunk T) bucket:
 *
 *   tokens of each field [B, T] ─┬─ learned field: Gather from a [vocab, dim] table        → [B, T, dim]
 *                                └─ sinusoidal field: [sin(id·w_k), cos(id·w_k)], fixed    → [B, T, dim]
 *   position in the sequence [B, T] (optional) ── sinusoidal                               → [B, T, positionDim]
 *   concat → [B, T, E] → L unrolled LSTM layers ([T, B, 4H] input products, one [B, H] @ [H, 4H] per step)
 *   → [B, T, H] → linear → logits over the next syscall name [B, T, V]
 *
 * Field 0 is the predicted one (the syscall name) and must be learned. Sinusoidal codes suit fields whose ids are
 * magnitudes or arbitrary labels (time-delta bucket, pid, tid, position): nearby values get nearby codes and unseen
 * values still get one. Gate layout along 4H: [input, forget, output | candidate]; the forget gate's bias is offset
 * by a constant +1. The same declaration serves scoring (forward graph), training (loss, gradients and AdamW
 * appended) and the float64 parity test against PyTorch (`lstmLoss`).
 */
import { Graph, type FloatType, type Value } from '../../engine/graph.js';
import { forwardModel, trainingModel, type BuiltGraph } from '../../engine/session.js';
import type { AdamConfig } from '../../engine/optim.js';
import { checkFields, embedFields, type FieldSpec } from '../embedding.js';
import { checkTrainSettings, integerSetting, softTargetLoss, type TrainSettings } from '../training.js';

export { sinusoidalFrequencies } from '../embedding.js';

/** An input field: a learned [vocab, dim] table, or a fixed sinusoidal code of the id (`models/embedding`). */
export type LstmField = FieldSpec;

export interface LstmConfig extends TrainSettings {
  /** Input fields; fields[0] is the syscall name, the one predicted. */
  fields: readonly LstmField[];
  /** Width of the sinusoidal code of each token's position in its sequence (0: no position input). */
  positionDim: number;
  hidden: number;
  layers: number;
  /** Truncated-BPTT chunk length (tokens per graph run). */
  chunk: number;
  /** Parallel sequences per training step. */
  batch: number;
  /** Dropout rate on the network's input codes and on the last layer's output, in training only (0: none). */
  dropout: number;
}

/** Checks what the graph builder relies on; throws RangeError naming the bad setting. */
export function checkConfig(cfg: LstmConfig): void {
  checkFields(cfg.fields, cfg.positionDim, 'LSTM');
  const posInt = integerSetting('LSTM');
  for (const k of ['hidden', 'layers', 'chunk', 'batch'] as const) posInt(k, cfg[k]);
  checkTrainSettings(cfg, 'LSTM');
}

/**
 * The inputs of a bucket's graph: tok_<field> [B, T] int64, pos [B, T] int64 when positionDim > 0, h0 / c0
 * [L, B, H]; in a training graph with dropout, the masks keep_in [B, T, E] and keep_out [B, T, H] (entries 0 or
 * 1 / (1 - dropout), drawn by the trainer).
 */
export interface NetInputs {
  toks: Value[];
  pos: Value | null;
  keepIn: Value | null;
  keepOut: Value | null;
  h0: Value;
  c0: Value;
}

export interface Net {
  logits: Value; // [B, T, V]
  hOut: Value; // [L, B, H]
  cOut: Value; // [L, B, H]
}

/**
 * How the recurrence is computed: `unrolled` declares every time step with primitive ops (differentiable, for
 * training); `fused` hands each layer to ONNX's LSTM operator (same weights, re-laid out in the graph; inference only,
 * float32, about twice as fast for scoring).
 */
export type Recurrence = 'unrolled' | 'fused';

/** Our gate blocks [i, f, o, c] along the last axis of x [..., 4H] reordered to ONNX LSTM's [i, o, f, c]. */
function onnxGateOrder(g: Graph, x: Value, H: number): Value {
  const [i, f, o, c] = g.split(x, -1, [H, H, H, H]) as [Value, Value, Value, Value];
  return g.concat([i, o, f, c], x.shape.length - 1);
}

/** One layer through ONNX's LSTM operator: x [T, B, E] → ys [T, B, H], final h, c [1, B, H]. */
function fusedLayer(g: Graph, x: Value, wx: Value, wh: Value, bias: Value, h0: Value, c0: Value): { ys: Value; h: Value; c: Value } {
  const [T, B, E] = x.shape as [number, number, number];
  const H = wh.shape[0]!;
  const w = g.reshape(g.transpose(onnxGateOrder(g, wx, H), [1, 0]), [1, 4 * H, E]); // [1, 4H, E]
  const r = g.reshape(g.transpose(onnxGateOrder(g, wh, H), [1, 0]), [1, 4 * H, H]); // [1, 4H, H]
  const b = g.reshape(g.concat([onnxGateOrder(g, bias, H), g.fill([4 * H])], 0), [1, 8 * H]); // [1, 8H]: Wb, Rb
  const [y, h, c] = g.emit('LSTM', [x, w, r, b, null, h0, c0],
    [[g.float, [T, 1, B, H]], [g.float, [1, B, H]], [g.float, [1, B, H]]],
    { hidden_size: { kind: 'int', value: H } }) as [Value, Value, Value];
  return { ys: g.reshape(y, [T, B, H]), h, c };
}

/** Declares the inputs and the network for a (B, T) bucket. */
export function lstmNet(g: Graph, cfg: LstmConfig, B: number, T: number, recurrence: Recurrence = 'unrolled',
  training = false): { inputs: NetInputs; net: Net } {
  const H = cfg.hidden;
  const L = cfg.layers;
  const toks = cfg.fields.map((f) => g.input(`tok_${f.name}`, 'int64', [B, T])); // each [B, T]
  const pos = cfg.positionDim > 0 ? g.input('pos', 'int64', [B, T]) : null; // [B, T]
  const h0 = g.input('h0', g.float, [L, B, H]);
  const c0 = g.input('c0', g.float, [L, B, H]);
  let xb = embedFields(g, cfg.fields, toks, pos, cfg.positionDim); // [B, T, E]
  const dropout = training && cfg.dropout > 0;
  const keepIn = dropout ? g.input('keep_in', g.float, xb.shape) : null; // [B, T, E]
  const keepOut = dropout ? g.input('keep_out', g.float, [B, T, H]) : null; // [B, T, H]
  if (keepIn !== null) xb = g.mul(xb, keepIn); // [B, T, E]
  let x = g.transpose(xb, [1, 0, 2]); // [T, B, E]: time-major, so per-step slices are contiguous
  const hInit = L === 1 ? [h0] : g.split(h0, 0, new Array<number>(L).fill(1)); // each [1, B, H]
  const cInit = L === 1 ? [c0] : g.split(c0, 0, new Array<number>(L).fill(1)); // each [1, B, H]
  const hLast: Value[] = [];
  const cLast: Value[] = [];
  const forgetBias = g.const(Array.from({ length: 4 * H }, (_, i) => (i >= H && i < 2 * H ? 1 : 0)), [4 * H]); // [4H]
  for (let l = 0; l < L; l++) {
    const inDim = x.shape[2]!;
    const k = 1 / Math.sqrt(H);
    const wx = g.param(`l${l}.wx`, [inDim, 4 * H], { kind: 'uniform', limit: k }, true); // [E_l, 4H]
    const wh = g.param(`l${l}.wh`, [H, 4 * H], { kind: 'uniform', limit: k }, true); // [H, 4H]
    const b = g.param(`l${l}.b`, [4 * H], { kind: 'const', value: 0 }, false); // [4H]
    if (recurrence === 'fused') {
      const r = fusedLayer(g, x, wx, wh, g.add(b, forgetBias), hInit[l]!, cInit[l]!);
      hLast.push(r.h);
      cLast.push(r.c);
      x = r.ys; // [T, B, H]
      continue;
    }
    const xw = g.add(g.matmul(x, wx), g.add(b, forgetBias)); // [T, B, 4H], all steps in one product
    const steps = T === 1 ? [xw] : g.split(xw, 0, new Array<number>(T).fill(1)); // each [1, B, 4H]
    let h = g.reshape(hInit[l]!, [B, H]); // [B, H]
    let c = g.reshape(cInit[l]!, [B, H]); // [B, H]
    const hs: Value[] = [];
    for (let t = 0; t < T; t++) {
      const z = g.add(g.reshape(steps[t]!, [B, 4 * H]), g.matmul(h, wh)); // [B, 4H]
      const [sig, cand] = g.split(z, 1, [3 * H, H]) as [Value, Value]; // [B, 3H], [B, H]
      const [i, f, o] = g.split(g.sigmoid(sig), 1, [H, H, H]) as [Value, Value, Value]; // each [B, H]
      c = g.add(g.mul(f, c), g.mul(i, g.tanh(cand))); // [B, H]
      h = g.mul(o, g.tanh(c)); // [B, H]
      hs.push(g.reshape(h, [1, B, H])); // [1, B, H]
    }
    hLast.push(hs[T - 1]!);
    cLast.push(g.reshape(c, [1, B, H]));
    x = T === 1 ? hs[0]! : g.concat(hs, 0); // [T, B, H]
  }
  x = g.transpose(x, [1, 0, 2]); // [B, T, H]
  if (keepOut !== null) x = g.mul(x, keepOut); // [B, T, H]
  const V = cfg.fields[0]!.vocab;
  const wo = g.param('out.w', [H, V], { kind: 'uniform', limit: 1 / Math.sqrt(H) }, true); // [H, V]
  const bo = g.param('out.b', [V], { kind: 'const', value: 0 }, false); // [V]
  const logits = g.add(g.matmul(x, wo), bo); // [B, T, V]
  const stack = (vs: Value[]): Value => (vs.length === 1 ? vs[0]! : g.concat(vs, 0)); // [L, B, H]
  return { inputs: { toks, pos, keepIn, keepOut, h0, c0 }, net: { logits, hOut: stack(hLast), cOut: stack(cLast) } };
}

/**
 * Forward (inference) graph. Extra input targets [B, T] int64 (any value < 0 where there is none); outputs
 * logp [B, T] (the log-probability of each target, 0 where there is none), h_out / c_out [L, B, H].
 */
export function lstmForwardGraph(cfg: LstmConfig, B: number, T: number, recurrence: Recurrence = 'fused'): BuiltGraph {
  const g = new Graph('float32');
  const { net } = lstmNet(g, cfg, B, T, recurrence);
  const V = cfg.fields[0]!.vocab;
  const targets = g.input('targets', 'int64', [B, T]); // [B, T]
  const logp = g.logSoftmax(g.reshape(net.logits, [B * T, V])); // [B*T, V]
  const has = g.greater(targets, g.const([-1], [], 'int64')); // [B, T] bool
  const safe = g.where(has, targets, g.const([0], [], 'int64')); // [B, T]
  const rowBase = g.const(Array.from({ length: B * T }, (_, r) => r * V), [B * T], 'int64'); // [B*T]
  const flatIndex = g.add(g.reshape(safe, [B * T]), rowBase); // [B*T]
  const picked = g.reshape(g.gather(g.reshape(logp, [B * T * V, 1]), flatIndex), [B, T]); // [B, T]
  return forwardModel(g, { logp: g.where(has, picked, g.scalar(0)), h_out: net.hOut, c_out: net.cOut });
}

/**
 * The training loss: mean cross-entropy (with label smoothing) of the next-name logits against targets [B, T]
 * int64 (-1 = no target), in a graph of float type `g.float`.
 */
export function lstmLoss(g: Graph, cfg: LstmConfig, B: number, T: number): { inputs: NetInputs; targets: Value; net: Net; loss: Value } {
  const { inputs, net } = lstmNet(g, cfg, B, T, 'unrolled', true);
  const targets = g.input('targets', 'int64', [B, T]); // [B, T]
  const V = cfg.fields[0]!.vocab;
  const loss = g.crossEntropy(g.reshape(net.logits, [B * T, V]), g.reshape(targets, [B * T]), cfg.labelSmoothing, -1); // []
  return { inputs, targets, net, loss };
}

/**
 * The distillation loss: mean cross-entropy of the next-name logits against soft target distributions, input
 * `soft` [B, T, V] (a teacher's next-name probabilities mixed with the one-hot label, made by the trainer), over
 * the positions whose target [B, T] int64 is >= 0.
 */
export function lstmSoftLoss(g: Graph, cfg: LstmConfig, B: number, T: number): { inputs: NetInputs; targets: Value; soft: Value; net: Net; loss: Value } {
  const { inputs, net } = lstmNet(g, cfg, B, T, 'unrolled', true);
  const targets = g.input('targets', 'int64', [B, T]); // [B, T]
  return { inputs, targets, net, ...softTargetLoss(g, net.logits, targets) };
}

/** Training graph: the loss, outputs h_out / c_out, and the AdamW step (see engine/optim); `soft`: the distillation loss. */
export function lstmTrainGraph(cfg: LstmConfig, adam: AdamConfig, B: number, T: number, float: FloatType = 'float32', soft = false): BuiltGraph {
  const g = new Graph(float);
  const { net, loss } = soft ? lstmSoftLoss(g, cfg, B, T) : lstmLoss(g, cfg, B, T);
  return trainingModel(g, loss, adam, { h_out: net.hOut, c_out: net.cOut });
}

/** Inference graph of the whole next-name distribution: outputs probs [B, T, V], h_out / c_out [L, B, H]. */
export function lstmDistributionGraph(cfg: LstmConfig, B: number, T: number): BuiltGraph {
  const g = new Graph('float32');
  const { net } = lstmNet(g, cfg, B, T, 'fused');
  return forwardModel(g, { probs: g.softmax(net.logits), h_out: net.hOut, c_out: net.cOut }); // probs [B, T, V]
}

/** The seeded initial flat parameters for `cfg`. */
export function lstmInitialParams(cfg: LstmConfig): Float32Array {
  const g = new Graph('float32');
  lstmNet(g, cfg, 1, 1);
  return Float32Array.from(g.initialParams(cfg.seed));
}

/** Name, offset and shape of each parameter in the flat buffer (for tools that map weights, e.g. the parity test). */
export function lstmParamLayout(cfg: LstmConfig): { name: string; offset: number; shape: number[] }[] {
  const g = new Graph('float32');
  lstmNet(g, cfg, 1, 1);
  return g.params.map((p) => ({ name: p.name, offset: p.offset, shape: [...p.shape] }));
}
