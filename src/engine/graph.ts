/**
 * @module engine/graph
 * A small builder for ONNX forward graphs with static shapes. Each op method appends ONNX nodes and returns a
 * {@link Value} handle carrying its inferred dtype and shape; {@link Graph.toModel} prunes to the requested outputs and
 * serializes. Composite ops (`layerNorm`, `crossEntropy`) are decomposed into primitives so that `engine/autodiff`
 * only needs one gradient rule per primitive ONNX op.
 *
 * Parameters live in ONE flat input named `params` ([P], float): `g.param()` declares a slice of it and returns the
 * reshaped view, so the optimizer works on one buffer and the forward graph alone is the inference model (fed the
 * same flat weights).
 */
import { encodeModel, type AttrValue, type DType, type NodeData, type TensorData } from './onnx-proto.js';

export type { DType } from './onnx-proto.js';
export type FloatType = 'float32' | 'float64';

/** A tensor flowing through the graph (an ONNX value name plus its static type). */
export interface Value {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
}

/** One ONNX node, with handles instead of names (null: an omitted optional input). */
export interface GraphNode {
  readonly op: string;
  readonly inputs: readonly (Value | null)[];
  readonly outputs: readonly Value[];
  readonly attrs: Readonly<Record<string, AttrValue>>;
}

/** How a parameter is initialised (seeded, see {@link Graph.initialParams}). */
export type ParamInit =
  | { kind: 'normal'; std: number }
  | { kind: 'uniform'; limit: number }
  | { kind: 'const'; value: number };

export interface ParamSpec {
  readonly name: string;
  readonly shape: readonly number[];
  /** Offset and length inside the flat `params` buffer. */
  readonly offset: number;
  readonly size: number;
  readonly init: ParamInit;
  /** Whether AdamW's decoupled weight decay applies (matrices yes, biases and gains no). */
  readonly decay: boolean;
  /** The reshaped view the model computes with; gradients are taken with respect to it. */
  readonly value: Value;
}

export const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** Numpy-style broadcast of two shapes; throws when they are incompatible. */
export function broadcastShape(a: readonly number[], b: readonly number[]): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1;
    const y = b[b.length - n + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) throw new RangeError(`broadcast: [${a.join(', ')}] vs [${b.join(', ')}]`);
    out.push(x === 1 ? y : x);
  }
  return out;
}

function normAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new RangeError(`axis ${axis} out of range for rank ${rank}`);
  return a;
}

const ints = (value: readonly number[]): AttrValue => ({ kind: 'ints', value });
const int = (value: number): AttrValue => ({ kind: 'int', value });

/** mulberry32: a small seeded generator for reproducible initial weights. */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Graph {
  readonly nodes: GraphNode[] = [];
  readonly inputs: Value[] = [];
  readonly params: ParamSpec[] = [];
  private readonly initializers = new Map<string, TensorData>();
  private readonly constCache = new Map<string, Value>();
  private flat: { name: string; dtype: DType; shape: number[] } | null = null;
  private paramTotal = 0;
  private counter = 0;

  /** `float` is the dtype of parameters, constants and activations (float64 for gradient checks). */
  constructor(readonly float: FloatType) {}

  get paramCount(): number {
    return this.paramTotal;
  }

  private fresh(dtype: DType, shape: readonly number[]): Value {
    return { name: `v${this.counter++}`, dtype, shape: [...shape] };
  }

  /** Appends a node with the given output types; returns its outputs. */
  emit(op: string, inputs: readonly (Value | null)[], outs: readonly [DType, readonly number[]][],
    attrs: Record<string, AttrValue> = {}): Value[] {
    const outputs = outs.map(([d, s]) => this.fresh(d, s));
    this.nodes.push({ op, inputs, outputs, attrs });
    return outputs;
  }

  private emit1(op: string, inputs: readonly (Value | null)[], dtype: DType, shape: readonly number[],
    attrs: Record<string, AttrValue> = {}): Value {
    return this.emit(op, inputs, [[dtype, shape]], attrs)[0]!;
  }

  // ---- inputs, parameters, constants -------------------------------------------------------------------------

  input(name: string, dtype: DType, shape: readonly number[]): Value {
    if (name === 'params' || this.inputs.some((i) => i.name === name)) throw new Error(`input ${name} declared twice`);
    const v: Value = { name, dtype, shape: [...shape] };
    this.inputs.push(v);
    return v;
  }

  /** Declares a parameter: a slice of the flat `params` input, reshaped to `shape`. */
  param(name: string, shape: readonly number[], init: ParamInit, decay: boolean): Value {
    if (this.params.some((p) => p.name === name)) throw new Error(`param ${name} declared twice`);
    if (this.flat === null) this.flat = { name: 'params', dtype: this.float, shape: [0] };
    const n = size(shape);
    const offset = this.paramTotal;
    this.paramTotal += n;
    this.flat.shape[0] = this.paramTotal;
    const piece = this.emit1('Slice', [this.flat, this.const([offset], [1], 'int64'),
      this.const([offset + n], [1], 'int64'), this.const([0], [1], 'int64')], this.float, [n]);
    const value = this.reshape(piece, shape);
    this.params.push({ name, shape: [...shape], offset, size: n, init, decay, value });
    return value;
  }

  /** The flat parameter input ([P]); present once a parameter was declared. */
  get paramsInput(): Value {
    if (this.flat === null) throw new Error('graph has no parameters');
    return this.flat;
  }

  /** A constant tensor (an initializer); scalars have shape []. Defaults to the graph's float type. */
  const(data: readonly number[], shape: readonly number[], dtype: DType = this.float): Value {
    const key = data.length <= 16 ? `${dtype}|${shape.join(',')}|${data.join(',')}` : null;
    const hit = key === null ? undefined : this.constCache.get(key);
    if (hit !== undefined) return hit;
    const v = this.fresh(dtype, shape);
    this.initializers.set(v.name, { name: v.name, dtype, dims: [...shape], data: [...data] });
    if (key !== null) this.constCache.set(key, v);
    return v;
  }

  /** The data of a constant made by {@link Graph.const}, or undefined for any other value. */
  constantData(v: Value): readonly number[] | undefined {
    return this.initializers.get(v.name)?.data as readonly number[] | undefined;
  }

  scalar(x: number): Value {
    return this.const([x], []);
  }

  /** A tensor of `value` (default 0) in the graph's float type, built at run time (ConstantOfShape). */
  fill(shape: readonly number[], value = 0, dtype: DType = this.float): Value {
    return this.emit1('ConstantOfShape', [this.const(shape, [shape.length], 'int64')], dtype, shape,
      { value: { kind: 'tensor', value: { name: 'value', dtype, dims: [1], data: [value] } } });
  }

  // ---- elementwise -----------------------------------------------------------------------------------------------

  private binary(op: string, a: Value, b: Value, outType?: DType): Value {
    return this.emit1(op, [a, b], outType ?? a.dtype, broadcastShape(a.shape, b.shape));
  }
  add(a: Value, b: Value): Value { return this.binary('Add', a, b); }
  sub(a: Value, b: Value): Value { return this.binary('Sub', a, b); }
  mul(a: Value, b: Value): Value { return this.binary('Mul', a, b); }
  div(a: Value, b: Value): Value { return this.binary('Div', a, b); }
  /** Elementwise maximum (no gradient rule: for counts and guards). */
  max(a: Value, b: Value): Value { return this.binary('Max', a, b); }
  equal(a: Value, b: Value): Value { return this.binary('Equal', a, b, 'bool'); }
  greater(a: Value, b: Value): Value { return this.binary('Greater', a, b, 'bool'); }
  not(a: Value): Value { return this.emit1('Not', [a], 'bool', a.shape); }
  /** x ** p for a constant exponent p. */
  pow(x: Value, p: number): Value { return this.binary('Pow', x, this.scalar(p)); }
  where(cond: Value, a: Value, b: Value): Value {
    return this.emit1('Where', [cond, a, b], a.dtype, broadcastShape(cond.shape, broadcastShape(a.shape, b.shape)));
  }

  private unary(op: string, x: Value): Value { return this.emit1(op, [x], x.dtype, x.shape); }
  neg(x: Value): Value { return this.unary('Neg', x); }
  tanh(x: Value): Value { return this.unary('Tanh', x); }
  sigmoid(x: Value): Value { return this.unary('Sigmoid', x); }
  relu(x: Value): Value { return this.unary('Relu', x); }
  exp(x: Value): Value { return this.unary('Exp', x); }
  log(x: Value): Value { return this.unary('Log', x); }
  sqrt(x: Value): Value { return this.unary('Sqrt', x); }
  sin(x: Value): Value { return this.unary('Sin', x); }
  cos(x: Value): Value { return this.unary('Cos', x); }
  identity(x: Value): Value { return this.unary('Identity', x); }
  cast(x: Value, dtype: DType): Value {
    return this.emit1('Cast', [x], dtype, x.shape, { to: int({ float32: 1, int64: 7, bool: 9, float64: 11 }[dtype]) });
  }

  // ---- linear algebra and normalisations --------------------------------------------------------------------------

  /** Batched matrix product: a [..., M, K] @ b [..., K, N] -> [..., M, N] (batch dims broadcast; ranks >= 2). */
  matmul(a: Value, b: Value): Value {
    if (a.shape.length < 2 || b.shape.length < 2) throw new RangeError('matmul: operands need rank >= 2');
    const [m, k] = a.shape.slice(-2) as [number, number];
    const [k2, n] = b.shape.slice(-2) as [number, number];
    if (k !== k2) throw new RangeError(`matmul: [${a.shape.join(', ')}] @ [${b.shape.join(', ')}]`);
    const batch = broadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
    return this.emit1('MatMul', [a, b], a.dtype, [...batch, m, n]);
  }

  softmax(x: Value, axis = -1): Value {
    return this.emit1('Softmax', [x], x.dtype, x.shape, { axis: int(normAxis(axis, x.shape.length)) });
  }
  logSoftmax(x: Value, axis = -1): Value {
    return this.emit1('LogSoftmax', [x], x.dtype, x.shape, { axis: int(normAxis(axis, x.shape.length)) });
  }

  /** Layer normalisation over the last axis, decomposed into primitives: x [..., C], gamma/beta [C]. */
  layerNorm(x: Value, gamma: Value, beta: Value, eps = 1e-5): Value {
    const mean = this.reduceMean(x, [-1], true); // [..., 1]
    const xc = this.sub(x, mean); // [..., C]
    const variance = this.reduceMean(this.mul(xc, xc), [-1], true); // [..., 1]
    const inv = this.div(this.scalar(1), this.sqrt(this.add(variance, this.scalar(eps)))); // [..., 1]
    return this.add(this.mul(this.mul(xc, inv), gamma), beta);
  }

  /**
   * Layer normalisation over the last axis as ONE ONNX `LayerNormalization` node (opset 17): x [..., C], gamma/beta
   * [C]. Its Mean and InvStdDev outputs ([..., 1]) are kept for the gradient rule (`engine/autodiff`), which needs
   * about half the ops of the decomposed {@link Graph.layerNorm}'s gradient; the forward pass is one kernel.
   * onnxruntime's CPU kernel keeps its statistics in float32 only, so a float64 graph gets {@link Graph.layerNorm}.
   */
  layerNormalization(x: Value, gamma: Value, beta: Value, eps = 1e-5): Value {
    if (x.dtype !== 'float32') return this.layerNorm(x, gamma, beta, eps);
    const stats = [...x.shape.slice(0, -1), 1];
    return this.emit('LayerNormalization', [x, gamma, beta], [[x.dtype, x.shape], [x.dtype, stats], [x.dtype, stats]], {
      axis: int(-1), epsilon: { kind: 'float', value: eps }, stash_type: int(1),
    })[0]!;
  }

  /**
   * Mean cross-entropy of logits [N, V] against int64 targets [N], with label smoothing `smoothing` (target
   * distribution (1 - s) * onehot + s / V) and targets equal to `ignoreIndex` excluded from the mean. Returns [].
   */
  crossEntropy(logits: Value, targets: Value, smoothing: number, ignoreIndex: number): Value {
    const [n, v] = logits.shape as [number, number];
    if (logits.shape.length !== 2 || targets.shape.length !== 1 || targets.shape[0] !== n) {
      throw new RangeError(`crossEntropy: logits [${logits.shape.join(', ')}], targets [${targets.shape.join(', ')}]`);
    }
    const logp = this.logSoftmax(logits); // [N, V]
    const classes = this.const(Array.from({ length: v }, (_, i) => i), [1, v], 'int64'); // [1, V]
    const onehot = this.cast(this.equal(this.reshape(targets, [n, 1]), classes), this.float); // [N, V]
    const q = smoothing === 0 ? onehot
      : this.add(this.mul(onehot, this.scalar(1 - smoothing)), this.scalar(smoothing / v)); // [N, V]
    const perToken = this.neg(this.reduceSum(this.mul(q, logp), [1], false)); // [N]
    const mask = this.cast(this.not(this.equal(targets, this.const([ignoreIndex], [], 'int64'))), this.float); // [N]
    const count = this.max(this.reduceSum(mask, [0], false), this.scalar(1)); // []
    return this.div(this.reduceSum(this.mul(perToken, mask), [0], false), count);
  }

  /**
   * Mean cross-entropy of logits [N, V] against soft target distributions q [N, V] (rows summing to 1, e.g. a
   * teacher's next-token probabilities mixed with the one-hot label, for distillation): −Σ_v q log softmax(logits),
   * averaged over the rows where `mask` [N] (float, 0 or 1) is 1. Returns []. Decomposed into primitives.
   */
  softCrossEntropy(logits: Value, q: Value, mask: Value): Value {
    const [n, v] = logits.shape as [number, number];
    if (logits.shape.length !== 2 || q.shape.length !== 2 || q.shape[0] !== n || q.shape[1] !== v || mask.shape.length !== 1 || mask.shape[0] !== n) {
      throw new RangeError(`softCrossEntropy: logits [${logits.shape.join(', ')}], q [${q.shape.join(', ')}], mask [${mask.shape.join(', ')}]`);
    }
    const perRow = this.neg(this.reduceSum(this.mul(q, this.logSoftmax(logits)), [1], false)); // [N]
    const count = this.max(this.reduceSum(mask, [0], false), this.scalar(1)); // []
    return this.div(this.reduceSum(this.mul(perRow, mask), [0], false), count);
  }

  // ---- indexing and shape -------------------------------------------------------------------------------------------

  /** Embedding lookup / Gather: data [V, ...rest] indexed by int64 indices [...] -> [..., ...rest] (axis 0). */
  gather(data: Value, indices: Value): Value {
    return this.emit1('Gather', [data, indices], data.dtype, [...indices.shape, ...data.shape.slice(1)], { axis: int(0) });
  }

  /** ScatterElements with reduction add into zeros of `shape` along axis 0 (Gather's gradient). */
  scatterAddRows(shape: readonly number[], indices: Value, updates: Value): Value {
    return this.emit1('ScatterElements', [this.fill(shape), indices, updates], updates.dtype, shape,
      { axis: int(0), reduction: { kind: 'string', value: 'add' } });
  }

  /** Reshape to `shape`, which may hold one -1. */
  reshape(x: Value, shape: readonly number[]): Value {
    const known = shape.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
    const resolved = shape.map((d) => (d === -1 ? size(x.shape) / known : d));
    if (size(resolved) !== size(x.shape) || !resolved.every(Number.isInteger)) {
      throw new RangeError(`reshape: [${x.shape.join(', ')}] to [${shape.join(', ')}]`);
    }
    return this.emit1('Reshape', [x, this.const(resolved, [resolved.length], 'int64')], x.dtype, resolved);
  }

  transpose(x: Value, perm: readonly number[]): Value {
    if (perm.length !== x.shape.length) throw new RangeError('transpose: perm length differs from rank');
    return this.emit1('Transpose', [x], x.dtype, perm.map((p) => x.shape[p]!), { perm: ints(perm) });
  }

  concat(xs: readonly Value[], axis: number): Value {
    const a = normAxis(axis, xs[0]!.shape.length);
    const shape = [...xs[0]!.shape];
    shape[a] = xs.reduce((s, x) => s + x.shape[a]!, 0);
    return this.emit1('Concat', xs, xs[0]!.dtype, shape, { axis: int(a) });
  }

  /** x[..., start:end, ...] along one axis (step 1). */
  slice(x: Value, axis: number, start: number, end: number): Value {
    const a = normAxis(axis, x.shape.length);
    if (!(0 <= start && start < end && end <= x.shape[a]!)) throw new RangeError(`slice: ${start}:${end} of ${x.shape[a]}`);
    const shape = [...x.shape];
    shape[a] = end - start;
    return this.emit1('Slice', [x, this.const([start], [1], 'int64'), this.const([end], [1], 'int64'),
      this.const([a], [1], 'int64')], x.dtype, shape);
  }

  /** Splits along one axis into pieces of the given sizes. */
  split(x: Value, axis: number, sizes: readonly number[]): Value[] {
    const a = normAxis(axis, x.shape.length);
    if (sizes.reduce((s, n) => s + n, 0) !== x.shape[a]) throw new RangeError('split: sizes do not cover the axis');
    return this.emit('Split', [x, this.const(sizes, [sizes.length], 'int64')],
      sizes.map((n) => { const s = [...x.shape]; s[a] = n; return [x.dtype, s] as [DType, number[]]; }), { axis: int(a) });
  }

  /** Zero padding: `pads` = [begin_0, ..., begin_r-1, end_0, ..., end_r-1] (Slice's gradient). */
  pad(x: Value, pads: readonly number[]): Value {
    const r = x.shape.length;
    return this.emit1('Pad', [x, this.const(pads, [2 * r], 'int64')], x.dtype, x.shape.map((d, i) => d + pads[i]! + pads[i + r]!));
  }

  expand(x: Value, shape: readonly number[]): Value {
    return this.emit1('Expand', [x, this.const(shape, [shape.length], 'int64')], x.dtype, broadcastShape(x.shape, shape));
  }

  private reduce(op: string, x: Value, axes: readonly number[], keepdims: boolean): Value {
    const ax = axes.map((a) => normAxis(a, x.shape.length));
    const shape = keepdims ? x.shape.map((d, i) => (ax.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !ax.includes(i));
    return this.emit1(op, [x, this.const(ax, [ax.length], 'int64')], x.dtype, shape, { keepdims: int(keepdims ? 1 : 0) });
  }
  reduceSum(x: Value, axes: readonly number[], keepdims: boolean): Value { return this.reduce('ReduceSum', x, axes, keepdims); }
  reduceMean(x: Value, axes: readonly number[], keepdims: boolean): Value { return this.reduce('ReduceMean', x, axes, keepdims); }

  // ---- initial values and serialization -----------------------------------------------------------------------------

  /** Initial flat parameter values, reproducible from `seed`. */
  initialParams(seed: number): Float64Array {
    const rand = seededRandom(seed);
    const out = new Float64Array(this.paramTotal);
    for (const p of this.params) {
      for (let i = 0; i < p.size; i++) {
        const init = p.init;
        out[p.offset + i] = init.kind === 'const' ? init.value
          : init.kind === 'uniform' ? (2 * rand() - 1) * init.limit
            : init.std * Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
      }
    }
    return out;
  }

  /**
   * ONNX bytes of the sub-graph computing `outputs` (named by the record's keys via Identity nodes). All declared
   * inputs stay inputs, so feeds are the same whatever is pruned.
   */
  toModel(outputs: Readonly<Record<string, Value>>, name = 'graph', frozen?: ArrayLike<number>): Uint8Array {
    const outNodes: GraphNode[] = Object.entries(outputs).map(([n, v]) => ({
      op: 'Identity', inputs: [v], outputs: [{ name: n, dtype: v.dtype, shape: v.shape }], attrs: {},
    }));
    const all = [...this.nodes, ...outNodes];
    const needed = new Set<string>(Object.keys(outputs));
    const keep: boolean[] = new Array<boolean>(all.length).fill(false);
    for (let i = all.length - 1; i >= 0; i--) {
      const node = all[i]!;
      if (!node.outputs.some((o) => needed.has(o.name))) continue;
      keep[i] = true;
      for (const inp of node.inputs) if (inp !== null) needed.add(inp.name);
    }
    const nodes: NodeData[] = all.filter((_, i) => keep[i]).map((n, i) => ({
      opType: n.op, inputs: n.inputs.map((v) => v?.name ?? ''), outputs: n.outputs.map((v) => v.name),
      attrs: n.attrs, name: `n${i}`, domain: '',
    }));
    const flat = this.flat;
    const frozenFlat: TensorData[] = [];
    if (frozen !== undefined && flat !== null) {
      if (frozen.length !== this.paramTotal) throw new RangeError(`frozen parameters: ${frozen.length} values for ${this.paramTotal}`);
      frozenFlat.push({ name: flat.name, dtype: flat.dtype, dims: [...flat.shape], data: frozen });
    }
    const inputs = flat === null || frozenFlat.length > 0 ? this.inputs : [flat, ...this.inputs];
    return encodeModel({
      name,
      nodes,
      initializers: [...frozenFlat, ...[...this.initializers.values()].filter((t) => needed.has(t.name))],
      inputs: inputs.map((v) => ({ name: v.name, dtype: v.dtype, shape: v.shape })),
      outputs: outNodes.map((n) => ({ name: n.outputs[0]!.name, dtype: n.outputs[0]!.dtype, shape: n.outputs[0]!.shape })),
    });
  }
}
