/**
 * @module bench/lstm
 * LSTM language-model speed, ours against PyTorch in the same run: embedding 64, 1 layer of 128, vocabulary 300,
 * batch 32 x chunk 64 of random tokens, 2 threads each, float32 on the CPU.
 *   train: one truncated-BPTT step (forward, cross-entropy, backward, clip, AdamW; state carried), ours one
 *          onnxruntime session run (engine/session Trainer) including feeding the batch;
 *   score: forward only, log-probability of each target, state carried (ours: the model's forward graph, its weights
 *          as constants, as a trained model scores).
 * Steady-state steps for `seconds` each after 3 warm-up steps, the token batches drawn before timing on both sides
 * (`inputPool` in `./util.ts`, `pool` in `bench/bench_timing.py`); graph building and session creation excluded (ours
 * reported apart). PyTorch is `bench/lstm_torch.py` under Debian's `/usr/bin/python3` (python3-torch), with OpenBLAS
 * (OpenMP build, `OPENBLAS_CORETYPE=SkylakeX`) and `OMP_WAIT_POLICY=PASSIVE` (threads that do not spin, as ours;
 * spinning OpenMP threads made PyTorch 10-50x slower on this loaded 2-core machine) set in its environment only. Prints a table with the ratios and the
 * load average (the machine is shared: ratios of runs taken together mean more than absolute rates).
 */
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { seededRandom } from '../engine/graph.js';
import { Runner, Trainer } from '../engine/session.js';
import { lstmForwardGraph, lstmInitialParams, lstmTrainGraph, type LstmConfig } from '../models/lstm/network.js';
import { formatTable, fromTorchRate, inputPool, runTorchBench, timedSteps, type Rate, type TorchRate } from './util.js';

export type { Rate } from './util.js';

const B = 32;
const T = 64;
const V = 300;

export const BENCH_CONFIG: LstmConfig = {
  fields: [{ name: 'syscall', vocab: V, dim: 64, encoding: 'learned' }], positionDim: 0, hidden: 128, layers: 1,
  chunk: T, batch: B, epochs: 1, patience: 0, lr: 1e-3, warmupSteps: 0, weightDecay: 0, clipNorm: 1,
  labelSmoothing: 0, dropout: 0, threads: 2, seed: 1,
};

/** Our training and scoring rates; `setupMs` = building graphs and creating both sessions. */
export async function benchOurLstm(seconds: number): Promise<{ train: Rate; score: Rate; setupMs: number }> {
  const cfg = BENCH_CONFIG;
  const adam = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, clipNorm: 1 };
  const schedule = { lr: 1e-3, warmupSteps: 0, decay: 'constant' as const, totalSteps: 1, minFraction: 1 };
  const t0 = performance.now();
  const trainer = new Trainer(lstmInitialParams(cfg), adam, schedule, cfg.threads, () => lstmTrainGraph(cfg, adam, B, T));
  // Scoring as a trained model scores: the weights are constants of its session (engine Runner, `frozen`), built
  // after training from the trained weights.
  let runner: Runner | undefined;
  const rand = seededRandom(9);
  const randomTokens = (): BigInt64Array => BigInt64Array.from({ length: B * T }, () => BigInt(Math.floor(rand() * V)));
  const batches = inputPool(() => ({ toks: randomTokens(), targets: randomTokens() }));
  const h = new Float32Array(B * cfg.hidden);
  const c = new Float32Array(B * cfg.hidden);
  const feeds = (): Record<string, ort.Tensor> => {
    const { toks, targets } = batches();
    return {
      tok_syscall: new ort.Tensor('int64', toks, [B, T]), targets: new ort.Tensor('int64', targets, [B, T]),
      h0: new ort.Tensor('float32', h, [1, B, cfg.hidden]), c0: new ort.Tensor('float32', c, [1, B, cfg.hidden]),
    };
  };
  try {
    await trainer.step('bench', feeds());
    let setupMs = performance.now() - t0;
    const train = await timedSteps(async () => {
      const r = await trainer.step('bench', feeds());
      h.set(r.outputs['h_out']!);
      c.set(r.outputs['c_out']!);
    }, seconds, B * T);
    h.fill(0);
    c.fill(0);
    const t1 = performance.now();
    const scorer = new Runner(trainer.params, cfg.threads, () => lstmForwardGraph(cfg, B, T), 'frozen');
    runner = scorer;
    await scorer.forward('bench', feeds());
    setupMs += performance.now() - t1;
    const score = await timedSteps(async () => {
      const r = await scorer.forward('bench', feeds());
      h.set(r['h_out']!);
      c.set(r['c_out']!);
    }, seconds, B * T);
    return { train, score, setupMs };
  } finally {
    await trainer.release();
    await runner?.release();
  }
}

/** PyTorch's rates from `bench/lstm_torch.py` (throws with its stderr when it fails or torch is missing). */
export async function benchTorchLstm(seconds: number, threads: number): Promise<{ version: string; train: Rate; score: Rate }> {
  const r = await runTorchBench('lstm_torch.py', ['--seconds', String(seconds), '--threads', String(threads)], threads) as
    { torch: string; train: TorchRate; score: TorchRate };
  return { version: r.torch, train: fromTorchRate(r.train), score: fromTorchRate(r.score) };
}

export interface LstmVsTorch {
  ours: { train: Rate; score: Rate; setupMs: number };
  torch: { version: string; train: Rate; score: Rate };
  /** ours / torch tokens per second. */
  trainRatio: number;
  scoreRatio: number;
  /** 1-minute load average before and after. */
  load: [number, number];
}

/** Runs both sides (ours first, then PyTorch) and prints the table; `seconds` per measured phase. */
export async function benchLstmVsTorch(seconds = 10): Promise<LstmVsTorch> {
  const before = loadavg()[0]!;
  const ours = await benchOurLstm(seconds);
  const torch = await benchTorchLstm(seconds, BENCH_CONFIG.threads);
  const after = loadavg()[0]!;
  const r: LstmVsTorch = {
    ours, torch, trainRatio: ours.train.tokensPerS / torch.train.tokensPerS, scoreRatio: ours.score.tokensPerS / torch.score.tokensPerS,
    load: [before, after],
  };
  const row = (name: string, a: Rate, b: Rate): string[] => [
    name, Math.round(a.tokensPerS).toLocaleString('en'), Math.round(b.tokensPerS).toLocaleString('en'),
    (a.tokensPerS / b.tokensPerS).toFixed(2) + 'x', `${a.bestMs.toFixed(1)} / ${b.bestMs.toFixed(1)}`,
  ];
  console.log(`LSTM embed 64, hidden 128, vocab 300, batch ${B} x chunk ${T}, ${BENCH_CONFIG.threads} threads; PyTorch ${torch.version}`);
  console.log(formatTable(['phase', 'ours tokens/s', 'PyTorch tokens/s', 'ratio', 'best ms/step ours / PyTorch'], [
    row('train', ours.train, torch.train), row('score', ours.score, torch.score),
  ]));
  console.log(`our setup (graphs + sessions): ${(ours.setupMs / 1000).toFixed(1)} s; load average ${before.toFixed(2)} -> ${after.toFixed(2)}`);
  return r;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await benchLstmVsTorch(Number(process.argv[2] ?? 10));
}
