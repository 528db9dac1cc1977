/**
 * @module engine/autodiff
 * Reverse-mode differentiation on an {@link Graph}: appends gradient nodes for every primitive op the builder emits
 * and returns the gradient of a scalar loss with respect to chosen values (usually the parameter views). Broadcast
 * operands get their gradient summed over the broadcast axes (ReduceSum keepdims + Reshape); a value used several
 * times gets the Sum of its contributions.
 */
import { size, type Graph, type GraphNode, type Value } from './graph.js';

/** Ops whose outputs carry no gradient (comparisons, casts, counts, fills). */
const NON_DIFFERENTIABLE = new Set(['Equal', 'Greater', 'Not', 'Cast', 'Max', 'ConstantOfShape']);

/** Sums `grad` [broadcast shape] down to `shape`. */
function unbroadcast(g: Graph, grad: Value, shape: readonly number[]): Value {
  if (grad.shape.length === shape.length && grad.shape.every((d, i) => d === shape[i])) return grad;
  const lead = grad.shape.length - shape.length;
  const axes: number[] = [];
  grad.shape.forEach((d, i) => {
    if (i < lead || (shape[i - lead] === 1 && d !== 1)) axes.push(i);
  });
  const reduced = axes.length === 0 ? grad : g.reduceSum(grad, axes, true);
  return g.reshape(reduced, shape);
}

/**
 * A gradient contribution: a value, or a deferred weight gradient a^T @ gy (a [rows, K], gy [rows, N]) of a 2-D
 * MatMul operand. Deferred terms of the same weight (an RNN's recurrent matrix gets one per time step) are summed as
 * ONE product of the row-concatenated operands instead of T small products and a Sum.
 */
type Contribution = Value | { a: Value; gy: Value };

interface Ctx {
  g: Graph;
  /** Memoized transposes of forward values (a weight used at every time step is transposed once). */
  transposed: Map<string, Value>;
}

/** Swaps the last two axes (memoized per value). */
function swapLast(ctx: Ctx, x: Value): Value {
  const hit = ctx.transposed.get(x.name);
  if (hit) return hit;
  const t = swapLastOnce(ctx.g, x);
  ctx.transposed.set(x.name, t);
  return t;
}

function swapLastOnce(g: Graph, x: Value): Value {
  const r = x.shape.length;
  const perm = Array.from({ length: r }, (_, i) => i);
  perm[r - 2] = r - 1;
  perm[r - 1] = r - 2;
  return g.transpose(x, perm);
}

function attrInt(node: GraphNode, name: string): number {
  const a = node.attrs[name];
  if (a?.kind !== 'int') throw new Error(`autodiff: ${node.op} lacks int attribute ${name}`);
  return a.value;
}

function constOf(g: Graph, node: GraphNode, index: number): readonly number[] {
  const v = node.inputs[index];
  const data = v ? g.constantData(v) : undefined;
  if (data === undefined) throw new Error(`autodiff: ${node.op} input ${index} must be a constant`);
  return data;
}

/** Gradients of `node`'s inputs given its outputs' gradients (null: input needs none / has none). */
function backward(ctx: Ctx, node: GraphNode, gys: readonly (Value | null)[]): (Contribution | null)[] {
  const g = ctx.g;
  const [a, b] = node.inputs as [Value, Value];
  const y = node.outputs[0]!;
  const gy = gys[0]!;
  switch (node.op) {
    case 'Identity':
      return [gy];
    case 'Add':
      return [unbroadcast(g, gy, a.shape), unbroadcast(g, gy, b.shape)];
    case 'Sub':
      return [unbroadcast(g, gy, a.shape), unbroadcast(g, g.neg(gy), b.shape)];
    case 'Mul':
      return [unbroadcast(g, g.mul(gy, b), a.shape), unbroadcast(g, g.mul(gy, a), b.shape)];
    case 'Div':
      return [unbroadcast(g, g.div(gy, b), a.shape), unbroadcast(g, g.neg(g.div(g.mul(gy, y), b)), b.shape)];
    case 'Pow': {
      const p = constOf(g, node, 1);
      if (p.length !== 1) throw new Error('autodiff: Pow needs a scalar constant exponent');
      const dx = g.mul(g.scalar(p[0]!), g.pow(a, p[0]! - 1)); // d/dx x^p
      return [unbroadcast(g, g.mul(gy, dx), a.shape), null];
    }
    case 'Neg':
      return [g.neg(gy)];
    case 'Tanh':
      return [g.mul(gy, g.sub(g.scalar(1), g.mul(y, y)))];
    case 'Sigmoid':
      return [g.mul(gy, g.mul(y, g.sub(g.scalar(1), y)))];
    case 'Relu':
      return [g.where(g.greater(a, g.scalar(0)), gy, g.scalar(0))];
    case 'Exp':
      return [g.mul(gy, y)];
    case 'Log':
      return [g.div(gy, a)];
    case 'Sin':
      return [g.mul(gy, g.cos(a))];
    case 'Cos':
      return [g.neg(g.mul(gy, g.sin(a)))];
    case 'Sqrt':
      return [g.div(g.mul(gy, g.scalar(0.5)), y)];
    case 'Softmax': {
      const axis = attrInt(node, 'axis');
      const dot = g.reduceSum(g.mul(gy, y), [axis], true);
      return [g.mul(y, g.sub(gy, dot))];
    }
    case 'LogSoftmax': {
      const axis = attrInt(node, 'axis');
      return [g.sub(gy, g.mul(g.exp(y), g.reduceSum(gy, [axis], true)))];
    }
    case 'MatMul': {
      // a [..., M, K] @ b [..., K, N] = y [..., M, N]
      const ga = unbroadcast(g, g.matmul(gy, swapLast(ctx, b)), a.shape); // [..., M, K]
      if (b.shape.length === 2) {
        // Shared weight: fold the batch dims into the rows; deferred so that uses of one weight share a product.
        const k = a.shape[a.shape.length - 1]!;
        const n = b.shape[1]!;
        const rowsA = a.shape.length === 2 ? a : g.reshape(a, [-1, k]); // [rows, K]
        const rowsG = gy.shape.length === 2 ? gy : g.reshape(gy, [-1, n]); // [rows, N]
        return [ga, { a: rowsA, gy: rowsG }];
      }
      return [ga, unbroadcast(g, g.matmul(swapLastOnce(g, a), gy), b.shape)]; // [..., K, N]
    }
    case 'Gather': {
      if (attrInt(node, 'axis') !== 0) throw new Error('autodiff: Gather gradient only along axis 0');
      // data [V, ...rest], indices [...] -> y [..., ...rest]; scatter-add rows of gy [N, D] back into [V, D].
      const v = a.shape[0]!;
      const d = size(a.shape.slice(1));
      const n = size(b.shape);
      const rows = g.expand(g.reshape(b, [n, 1]), [n, d]); // [N, D] int64
      const gd = g.scatterAddRows([v, d], rows, g.reshape(gy, [n, d])); // [V, D]
      return [g.reshape(gd, a.shape), null];
    }
    case 'LayerNormalization': {
      // y = xhat · gamma + beta, xhat = (x − mean) · inv over the last axis (mean, inv: the node's other outputs).
      const [x, gamma, beta] = node.inputs as [Value, Value, Value];
      const [, mean, inv] = node.outputs as [Value, Value, Value];
      const xhat = g.mul(g.sub(x, mean), inv); // [..., C]
      const dxhat = g.mul(gy, gamma); // [..., C]
      const m1 = g.reduceMean(dxhat, [-1], true); // [..., 1]
      const m2 = g.reduceMean(g.mul(dxhat, xhat), [-1], true); // [..., 1]
      const gx = g.mul(g.sub(g.sub(dxhat, m1), g.mul(xhat, m2)), inv); // [..., C]
      return [gx, unbroadcast(g, g.mul(gy, xhat), gamma.shape), unbroadcast(g, gy, beta.shape)];
    }
    case 'Reshape':
      return [g.reshape(gy, a.shape), null];
    case 'Transpose': {
      const perm = node.attrs['perm'];
      if (perm?.kind !== 'ints') throw new Error('autodiff: Transpose without perm');
      const inv: number[] = [];
      perm.value.forEach((p, i) => { inv[p] = i; });
      return [g.transpose(gy, inv)];
    }
    case 'Concat': {
      const axis = attrInt(node, 'axis');
      const inputs = node.inputs as Value[];
      if (inputs.length === 1) return [gy];
      return g.split(gy, axis, inputs.map((x) => x.shape[axis]!));
    }
    case 'Split': {
      const axis = attrInt(node, 'axis');
      const parts = node.outputs.map((o, i) => gys[i] ?? g.fill(o.shape));
      return [g.concat(parts, axis), null];
    }
    case 'Slice': {
      const [start] = constOf(g, node, 1);
      const [end] = constOf(g, node, 2);
      const [axis] = constOf(g, node, 3);
      const r = a.shape.length;
      const pads = new Array<number>(2 * r).fill(0);
      pads[axis!] = start!;
      pads[r + axis!] = a.shape[axis!]! - end!;
      return [g.pad(gy, pads), null, null, null];
    }
    case 'ReduceSum':
    case 'ReduceMean': {
      const axes = constOf(g, node, 1);
      const keptShape = a.shape.map((d, i) => (axes.includes(i) ? 1 : d));
      let gx = g.expand(g.reshape(gy, keptShape), a.shape);
      if (node.op === 'ReduceMean') gx = g.mul(gx, g.scalar(1 / axes.reduce((s, i) => s * a.shape[i]!, 1)));
      return [gx, null];
    }
    case 'Expand':
      return [unbroadcast(g, gy, a.shape), null];
    case 'Where': {
      const [cond, x, z] = node.inputs as [Value, Value, Value];
      const zero = g.scalar(0);
      return [null, unbroadcast(g, g.where(cond, gy, zero), x.shape), unbroadcast(g, g.where(cond, zero, gy), z.shape)];
    }
    default:
      throw new Error(`autodiff: no gradient rule for ${node.op}`);
  }
}

/**
 * Appends to `g` the gradient of `loss` (any shape; seeded with ones) with respect to each of `wrt`; a value the loss
 * does not depend on gets zeros. Returns one gradient per `wrt`, each of that value's shape.
 */
export function gradients(g: Graph, loss: Value, wrt: readonly Value[]): Value[] {
  const nodes = g.nodes.slice(); // the forward graph as it stands; gradient nodes are appended after
  // Values that depend on `wrt` (through differentiable ops).
  const dependsOnWrt = new Set(wrt.map((v) => v.name));
  for (const n of nodes) {
    if (NON_DIFFERENTIABLE.has(n.op)) continue;
    if (n.inputs.some((i) => i !== null && dependsOnWrt.has(i.name))) for (const o of n.outputs) dependsOnWrt.add(o.name);
  }
  // Values the loss depends on.
  const feedsLoss = new Set([loss.name]);
  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i]!;
    if (n.outputs.some((o) => feedsLoss.has(o.name))) for (const x of n.inputs) if (x !== null) feedsLoss.add(x.name);
  }
  const relevant = (v: Value | null): v is Value => v !== null && dependsOnWrt.has(v.name) && feedsLoss.has(v.name);

  const ctx: Ctx = { g, transposed: new Map() };
  const contributions = new Map<string, Contribution[]>();
  const addGrad = (v: Value, grad: Contribution): void => {
    const list = contributions.get(v.name);
    if (list) list.push(grad);
    else contributions.set(v.name, [grad]);
  };
  const total = (v: Value): Value | null => {
    const list = contributions.get(v.name);
    if (!list) return null;
    const values: Value[] = [];
    const deferred: { a: Value; gy: Value }[] = [];
    for (const c of list) {
      if ('a' in c) deferred.push(c);
      else values.push(c);
    }
    if (deferred.length > 0) {
      const a = deferred.length === 1 ? deferred[0]!.a : g.concat(deferred.map((d) => d.a), 0); // [rows, K]
      const gy = deferred.length === 1 ? deferred[0]!.gy : g.concat(deferred.map((d) => d.gy), 0); // [rows, N]
      values.push(g.matmul(g.transpose(a, [1, 0]), gy)); // [K, N]
    }
    const sum = values.length === 1 ? values[0]! : g.emit('Sum', values, [[v.dtype, v.shape]])[0]!;
    contributions.set(v.name, [sum]);
    return sum;
  };

  addGrad(loss, loss.shape.length === 0 ? g.scalar(1) : g.fill(loss.shape, 1));
  for (let i = nodes.length - 1; i >= 0; i--) {
    const node = nodes[i]!;
    if (!node.outputs.some(relevant) || !node.inputs.some(relevant)) continue;
    if (NON_DIFFERENTIABLE.has(node.op)) continue;
    const gys = node.outputs.map((o) => total(o));
    if (gys.every((x) => x === null)) continue;
    if (node.op !== 'Split' && gys[0] === null) continue;
    const gxs = backward(ctx, node, gys);
    node.inputs.forEach((x, k) => {
      const gx = gxs[k];
      if (relevant(x) && gx) addGrad(x, gx);
    });
  }
  return wrt.map((v) => total(v) ?? g.fill(v.shape));
}
