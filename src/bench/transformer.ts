/**
 * @module bench/transformer
 * Attention language-model speed, ours against PyTorch in the same run (`bench/transformer_torch.py`, the same
 * architectures): syscall-name embedding 64 → d 128, one pre-norm block of 4 heads with a SwiGLU FFN of 512,
 * vocabulary 300, batch 16 × 128 random tokens, 2 threads each, float32 on the CPU.
 *   Transformer: dense causal attention.  Longformer: window 64 + the global start token, computed block by block.
 *   train: one step (forward, cross-entropy, backward, clip, AdamW), ours one onnxruntime session run (engine Trainer);
 *   score: forward only, log-probability of each target (ours: the model's forward graph, its weights as constants).
 * Then the Longformer's scoring cost per token for one sequence of 512, 2,048 and 8,192 events (goal: flat).
 * Steady-state steps for `seconds` each after 3 warm-up steps, the inputs drawn before timing on both sides (`inputPool`
 * in `./util.ts`, `pool` in `bench/bench_timing.py`); graph building and session creation excluded. PyTorch
 * runs under Debian's `/usr/bin/python3` with OpenMP OpenBLAS (`OPENBLAS_CORETYPE=SkylakeX`, passive OpenMP waiting),
 * as `bench/lstm.ts` sets up. Prints tables with the ratios and the load average (the machine is shared).
 */
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { seededRandom } from '../engine/graph.js';
import { Runner, Trainer } from '../engine/session.js';
import {
  transformerForwardGraph, transformerInitialParams, transformerTrainGraph, type TransformerConfig,
} from '../models/transformer/network.js';
import { formatTable, fromTorchRate as conv, inputPool, runTorchBench, timedSteps as timed, type Rate, type TorchRate } from './util.js';

export type { Rate } from './util.js';

const B = 16;
const T = 128;
const V = 300;
const LENGTHS = [512, 2048, 8192];

export function benchConfig(kind: 'transformer' | 'longformer'): TransformerConfig {
  return {
    fields: [{ name: 'syscall', vocab: V, dim: 64, encoding: 'learned' }], positionDim: 0, width: 128, layers: 1, heads: 4, ffn: 512,
    window: kind === 'transformer' ? T : 64, globalStart: kind === 'longformer', chunk: T, batch: B, epochs: 1, patience: 0, lr: 1e-3,
    warmupSteps: 0, weightDecay: 0, clipNorm: 1, labelSmoothing: 0, dropout: 0, threads: 2, seed: 1,
  };
}

function feedsFor(rand: () => number, b: number, t: number): Record<string, ort.Tensor> {
  return {
    tok_syscall: new ort.Tensor('int64', BigInt64Array.from({ length: b * t }, () => BigInt(Math.floor(rand() * V))), [b, t]),
    targets: new ort.Tensor('int64', BigInt64Array.from({ length: b * t }, () => BigInt(Math.floor(rand() * V))), [b, t]),
    pos: new ort.Tensor('int64', BigInt64Array.from({ length: b * t }, (_, i) => BigInt(i % t)), [b, t]),
  };
}

/** Our training and scoring rates for one kind. */
export async function benchOurs(kind: 'transformer' | 'longformer', seconds: number, lengths: readonly number[] = []):
  Promise<{ train?: Rate; score?: Rate; lengths: Record<number, Rate> }> {
  const cfg = benchConfig(kind);
  const adam = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, clipNorm: 1 };
  const schedule = { lr: 1e-3, warmupSteps: 0, decay: 'constant' as const, totalSteps: 1, minFraction: 1 };
  const rand = seededRandom(9);
  const out: { train?: Rate; score?: Rate; lengths: Record<number, Rate> } = { lengths: {} };
  let params = transformerInitialParams(cfg);
  if (lengths.length === 0) {
    const trainer = new Trainer(params, adam, schedule, cfg.threads, () => transformerTrainGraph(cfg, adam, B, T));
    const batches = inputPool(() => feedsFor(rand, B, T));
    try {
      out.train = await timed(async () => { await trainer.step('bench', batches()); }, seconds, B * T);
      params = (trainer.params as Float32Array).slice();
    } finally {
      await trainer.release();
    }
  }
  // Scoring as a trained model scores: the weights are constants of its sessions (engine Runner, `frozen`).
  const runner = new Runner(params, cfg.threads, (key) => {
    const [b, t] = key.split('x').map(Number) as [number, number];
    return transformerForwardGraph(cfg, b, t);
  }, 'frozen');
  try {
    if (lengths.length === 0) {
      const batches = inputPool(() => feedsFor(rand, B, T));
      out.score = await timed(async () => { await runner.forward(`${B}x${T}`, batches()); }, seconds, B * T);
    }
    for (const n of lengths) {
      const inputs = inputPool(() => feedsFor(rand, 1, n));
      out.lengths[n] = await timed(async () => { await runner.forward(`1x${n}`, inputs()); }, seconds, n);
    }
    return out;
  } finally {
    await runner.release();
  }
}

/** PyTorch's rates from `bench/transformer_torch.py` (throws with its stderr when it fails or torch is missing). */
export async function benchTorch(kind: 'transformer' | 'longformer', seconds: number, lengths: readonly number[] = []):
  Promise<{ version: string; train?: Rate; score?: Rate; lengths: Record<number, Rate> }> {
  const threads = 2;
  const args = ['--model', kind, '--seconds', String(seconds), '--threads', String(threads)];
  if (lengths.length > 0) args.push('--lengths', lengths.join(','));
  const r = await runTorchBench('transformer_torch.py', args, threads) as
    { torch: string; train?: TorchRate; score?: TorchRate; lengths?: Record<string, TorchRate> };
  return {
    version: r.torch, train: r.train && conv(r.train), score: r.score && conv(r.score),
    lengths: Object.fromEntries(Object.entries(r.lengths ?? {}).map(([k, v]) => [Number(k), conv(v)])),
  };
}

export interface TransformerBench {
  rows: { model: string; phase: string; ours: Rate; torch: Rate; ratio: number }[];
  lengths: { n: number; ours: Rate; torch: Rate }[];
  load: [number, number];
}

/** Runs both kinds on both sides, then the Longformer's long-sequence scoring; prints the tables. */
export async function benchTransformerVsTorch(seconds = 8): Promise<TransformerBench> {
  const before = loadavg()[0]!;
  const rows: TransformerBench['rows'] = [];
  let version = '';
  for (const kind of ['transformer', 'longformer'] as const) {
    const ours = await benchOurs(kind, seconds);
    const torch = await benchTorch(kind, seconds);
    version = torch.version;
    for (const phase of ['train', 'score'] as const) {
      rows.push({ model: kind, phase, ours: ours[phase]!, torch: torch[phase]!, ratio: ours[phase]!.tokensPerS / torch[phase]!.tokensPerS });
    }
  }
  const oursLong = await benchOurs('longformer', Math.max(2, seconds / 2), LENGTHS);
  const torchLong = await benchTorch('longformer', Math.max(2, seconds / 2), LENGTHS);
  const after = loadavg()[0]!;
  const lengths = LENGTHS.map((n) => ({ n, ours: oursLong.lengths[n]!, torch: torchLong.lengths[n]! }));
  const k = (x: number): string => Math.round(x).toLocaleString('en');
  console.log(`embedding 64 → d 128, 1 block, 4 heads, SwiGLU FFN 512, vocab 300, batch ${B} × ${T}, 2 threads; Longformer window 64 + global start; PyTorch ${version}`);
  console.log(formatTable(['model', 'phase', 'ours tokens/s', 'PyTorch tokens/s', 'ratio', 'best ms/step ours / PyTorch'],
    rows.map((r) => [r.model, r.phase, k(r.ours.tokensPerS), k(r.torch.tokensPerS), r.ratio.toFixed(2) + 'x', `${r.ours.bestMs.toFixed(1)} / ${r.torch.bestMs.toFixed(1)}`])));
  console.log('Longformer scoring, one sequence (batch 1):');
  console.log(formatTable(['events', 'ours µs/token', 'PyTorch µs/token', 'ratio', 'ours best µs/token'],
    lengths.map((r) => [r.n.toLocaleString('en'), (1e6 / r.ours.tokensPerS).toFixed(1), (1e6 / r.torch.tokensPerS).toFixed(1),
      (r.ours.tokensPerS / r.torch.tokensPerS).toFixed(2) + 'x', ((1000 * r.ours.bestMs) / r.n).toFixed(1)])));
  console.log(`load average ${before.toFixed(2)} -> ${after.toFixed(2)}`);
  return { rows, lengths, load: [before, after] };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await benchTransformerVsTorch(Number(process.argv[2] ?? 8));
}
