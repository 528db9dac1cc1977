/**
 * @module engine/gradcheck
 * Checks the gradients `engine/autodiff` appends against float64 central finite differences: the function under test
 * is built as a double-precision graph, reduced to a scalar by a fixed random projection, and both the analytic
 * gradient and the perturbed losses are computed by onnxruntime itself.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { gradients } from './autodiff.js';
import { Graph, seededRandom, size, type Value } from './graph.js';

/** One gradient check: a name, the inputs' shapes and draws, and the graph function under test. */
export type GradCheckCase = [name: string, inputs: CheckInput[], fn: (g: Graph, xs: Value[]) => Value];

/**
 * Registers one test per case (for test files): the gradient must be real (max > 1e-3) and within `tol` relative
 * error of float64 central differences.
 */
export function gradCheckTests(cases: readonly GradCheckCase[], tol: number): void {
  for (const [name, inputs, fn] of cases) {
    test(`gradient of ${name} matches float64 central differences`, async (t) => {
      const r = await gradCheck(inputs, fn);
      t.diagnostic(`relative error ${r.relError.toExponential(2)}`);
      assert.ok(r.maxGrad > 1e-3, `gradient is vacuous (max ${r.maxGrad})`);
      assert.ok(r.relError < tol, `relative error ${r.relError.toExponential(2)} >= ${tol}`);
    });
  }
}

/** How to draw an input's entries: any sign, positive (for log/sqrt/pow), or |x| >= 0.2 (kinks of relu). */
export type Draw = 'normal' | 'positive' | 'awayFromZero';

export interface CheckInput {
  shape: readonly number[];
  draw: Draw;
}

export interface GradCheckResult {
  /** max |analytic - numeric| / max(max |numeric|, 1e-8), worst over all inputs. */
  relError: number;
  /** max |numeric| seen (to tell a vacuous zero gradient from a real one). */
  maxGrad: number;
}

function draw(rand: () => number, kind: Draw): number {
  const u = rand() * 2 - 1;
  if (kind === 'positive') return 0.5 + rand() * 1.5;
  if (kind === 'awayFromZero') return Math.sign(u || 1) * (0.2 + Math.abs(u));
  return u * 1.5;
}

/**
 * Builds `fn(g, xs)` over float64 inputs of the given shapes, projects its output on a random tensor to a scalar,
 * and compares the autodiff gradient of that scalar with central differences (step `h`).
 */
export async function gradCheck(
  inputs: readonly CheckInput[],
  fn: (g: Graph, xs: Value[]) => Value,
  seed = 1,
  h = 1e-5,
): Promise<GradCheckResult> {
  const rand = seededRandom(seed);
  const g = new Graph('float64');
  const xs = inputs.map((inp, i) => g.input(`x${i}`, 'float64', inp.shape));
  const y = fn(g, xs);
  const proj = g.const(Array.from({ length: size(y.shape) }, () => rand() * 2 - 1), y.shape);
  const loss = y.shape.length === 0 ? g.mul(y, proj) : g.reduceSum(g.mul(y, proj), y.shape.map((_, i) => i), false);
  const lossOnly = await ort.InferenceSession.create(g.toModel({ loss }));
  // Parameters (slices of the flat `params` input) are checked as one more input: the flat buffer.
  const paramViews = g.params.map((p) => p.value);
  const grads = gradients(g, loss, [...xs, ...paramViews]);
  const outputs: Record<string, Value> = { loss };
  xs.forEach((_, i) => { outputs[`g${i}`] = grads[i]!; });
  if (paramViews.length > 0) {
    outputs[`g${xs.length}`] = g.concat(grads.slice(xs.length).map((gr) => g.reshape(gr, [size(gr.shape)])), 0);
  }
  const withGrads = await ort.InferenceSession.create(g.toModel(outputs));

  const values: Float64Array[] = inputs.map((inp) => Float64Array.from({ length: size(inp.shape) }, () => draw(rand, inp.draw)));
  const names = inputs.map((_, i) => `x${i}`);
  const shapes = inputs.map((inp) => [...inp.shape]);
  if (paramViews.length > 0) {
    values.push(g.initialParams(seed + 1));
    names.push('params');
    shapes.push([g.paramCount]);
  }
  const feeds = (): Record<string, ort.Tensor> =>
    Object.fromEntries(values.map((v, i) => [names[i]!, new ort.Tensor('float64', Float64Array.from(v), shapes[i]!)]));
  const lossAt = async (): Promise<number> => ((await lossOnly.run(feeds()))['loss']!.data as Float64Array)[0]!;

  const analytic = await withGrads.run(feeds());
  let worst = 0;
  let maxGrad = 0;
  for (let i = 0; i < values.length; i++) {
    const a = analytic[`g${i}`]!.data as Float64Array;
    const v = values[i]!;
    const numeric = new Float64Array(v.length);
    for (let j = 0; j < v.length; j++) {
      const x0 = v[j]!;
      v[j] = x0 + h;
      const up = await lossAt();
      v[j] = x0 - h;
      const down = await lossAt();
      v[j] = x0;
      numeric[j] = (up - down) / (2 * h);
    }
    let err = 0;
    let scale = 1e-8;
    for (let j = 0; j < v.length; j++) {
      err = Math.max(err, Math.abs(a[j]! - numeric[j]!));
      scale = Math.max(scale, Math.abs(numeric[j]!));
    }
    worst = Math.max(worst, err / scale);
    maxGrad = Math.max(maxGrad, scale);
  }
  await lossOnly.release();
  await withGrads.release();
  return { relError: worst, maxGrad };
}

/**
 * Compares a flat gradient with a reference (e.g. PyTorch's, for parity tests), parameter by parameter: each
 * parameter's reference gradient must be real (max |grad| > 1e-6) and the largest difference within `tol` of it.
 * Returns each parameter's max |ours − reference| / max |reference|.
 */
export function assertParamGradients(params: readonly { name: string; offset: number; size: number }[], ours: ArrayLike<number>,
  reference: ArrayLike<number>, tol: number): { name: string; relative: number }[] {
  return params.map((p) => {
    let worst = 0;
    let scale = 0;
    for (let i = p.offset; i < p.offset + p.size; i++) {
      worst = Math.max(worst, Math.abs(ours[i]! - reference[i]!));
      scale = Math.max(scale, Math.abs(reference[i]!));
    }
    assert.ok(scale > 1e-6, `${p.name}: the reference gradient is vacuous`);
    assert.ok(worst <= tol * scale, `${p.name}: max |ours - PyTorch| ${worst.toExponential(2)} vs max |grad| ${scale.toExponential(2)}`);
    return { name: p.name, relative: worst / scale };
  });
}
