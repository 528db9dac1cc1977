/**
 * @module models/lstm/cpu
 * A synchronous, dependency-free scorer for a trained LSTM: the network of `./network.ts` evaluated token by token
 * in TypeScript over the same flat float32 weights, for callers that need log-probabilities without awaiting
 * onnxruntime (the `LanguageModel` interface is synchronous). One sequence at a time, float64 arithmetic; much
 * slower than the ONNX forward graph (`LstmModel.logProbsMany`) on large batches, and tested against it.
 */
import { sinusoidalFrequencies, lstmParamLayout, type LstmConfig } from './network.js';
import type { Sequence } from './chunks.js';

interface Layer {
  inDim: number;
  wx: Float32Array; // [in, 4H]
  wh: Float32Array; // [H, 4H]
  b: Float32Array; // [4H]
}

export class LstmCpuScorer {
  private readonly emb: (Float32Array | null)[];
  private readonly freqs: Float64Array[];
  private readonly posFreqs: Float64Array;
  private readonly layers: Layer[];
  private readonly wo: Float32Array; // [H, V]
  private readonly bo: Float32Array; // [V]

  constructor(readonly config: LstmConfig, params: Float32Array) {
    const layout = lstmParamLayout(config);
    const total = layout.reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0);
    if (params.length !== total) throw new RangeError(`LSTM weights: ${params.length} values, the config needs ${total}`);
    const view = (name: string): Float32Array => {
      const p = layout.find((q) => q.name === name);
      if (p === undefined) throw new Error(`LSTM parameter ${name} missing from the layout`);
      return params.subarray(p.offset, p.offset + p.shape.reduce((a, b) => a * b, 1));
    };
    this.emb = config.fields.map((f) => (f.encoding === 'learned' ? view(`emb.${f.name}`) : null));
    const f32 = (xs: number[]): Float64Array => Float64Array.from(xs, Math.fround);
    this.freqs = config.fields.map((f) => (f.encoding === 'sinusoidal' ? f32(sinusoidalFrequencies(f.dim)) : new Float64Array(0)));
    this.posFreqs = f32(sinusoidalFrequencies(config.positionDim));
    const E = config.fields.reduce((s, f) => s + f.dim, 0) + config.positionDim;
    this.layers = Array.from({ length: config.layers }, (_, l) => ({
      inDim: l === 0 ? E : config.hidden, wx: view(`l${l}.wx`), wh: view(`l${l}.wh`), b: view(`l${l}.b`),
    }));
    this.wo = view('out.w');
    this.bo = view('out.b');
  }

  /** log P(seq[0][t] | tokens before t) for t = 1 .. n-1, each sequence from a zero state. */
  logProbs(seq: Sequence): Float64Array {
    const cfg = this.config;
    const H = cfg.hidden;
    const V = cfg.fields[0]!.vocab;
    const n = seq[0]!.length;
    const out = new Float64Array(Math.max(0, n - 1));
    const h = this.layers.map(() => new Float64Array(H));
    const c = this.layers.map(() => new Float64Array(H));
    const x = new Float64Array(this.layers[0]!.inDim); // [E]
    const z = new Float64Array(4 * H); // [4H]
    const logits = new Float64Array(V); // [V]
    for (let t = 0; t + 1 < n; t++) {
      let o = 0;
      cfg.fields.forEach((f, i) => {
        const id = seq[i]![t]!;
        const table = this.emb[i];
        if (table !== null && table !== undefined) for (let k = 0; k < f.dim; k++) x[o + k] = table[id * f.dim + k]!;
        else this.sinusoid(x, o, id, this.freqs[i]!);
        o += f.dim;
      });
      if (cfg.positionDim > 0) this.sinusoid(x, o, t, this.posFreqs);
      let input: Float64Array = x;
      this.layers.forEach((layer, l) => {
        for (let j = 0; j < 4 * H; j++) z[j] = layer.b[j]! + (j >= H && j < 2 * H ? 1 : 0);
        accumulate(z, input, layer.wx, 4 * H); // z += input @ wx
        accumulate(z, h[l]!, layer.wh, 4 * H); // z += h @ wh
        const hl = h[l]!;
        const cl = c[l]!;
        for (let j = 0; j < H; j++) {
          const ig = sigmoid(z[j]!);
          const fg = sigmoid(z[H + j]!);
          const og = sigmoid(z[2 * H + j]!);
          cl[j] = fg * cl[j]! + ig * Math.tanh(z[3 * H + j]!);
          hl[j] = og * Math.tanh(cl[j]!);
        }
        input = hl;
      });
      for (let v = 0; v < V; v++) logits[v] = this.bo[v]!;
      accumulate(logits, input, this.wo, V); // logits += h @ wo
      let max = -Infinity;
      for (let v = 0; v < V; v++) max = Math.max(max, logits[v]!);
      let sum = 0;
      for (let v = 0; v < V; v++) sum += Math.exp(logits[v]! - max);
      out[t] = logits[seq[0]![t + 1]!]! - max - Math.log(sum);
    }
    return out;
  }

  /** Writes [sin(id·w), cos(id·w)] (angles rounded as the float32 graph computes them) at x[o…]. */
  private sinusoid(x: Float64Array, o: number, id: number, w: Float64Array): void {
    const half = w.length;
    for (let k = 0; k < half; k++) {
      const angle = Math.fround(Math.fround(id) * w[k]!);
      x[o + k] = Math.sin(angle);
      x[o + half + k] = Math.cos(angle);
    }
  }
}

const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));

/** acc [N] += a [K] @ w [K, N] (w row-major). */
function accumulate(acc: Float64Array, a: Float64Array, w: Float32Array, N: number): void {
  for (let k = 0; k < a.length; k++) {
    const ak = a[k]!;
    if (ak === 0) continue;
    const row = k * N;
    for (let j = 0; j < N; j++) acc[j] += ak * w[row + j]!;
  }
}
