/**
 * @module bench/lstm
 * LSTM language-model speed, ours against PyTorch in the same run: embedding 64, 1 layer of 128, vocabulary 300,
 * batch 32 x chunk 64 of random tokens, 2 threads each, float32 on the CPU.
 *   train: one truncated-BPTT step (forward, cross-entropy, backward, clip, AdamW; state carried), ours one
 *          onnxruntime session run (engine/session Trainer) including feeding the batch;
 *   score: forward only, log-probability of each target, state carried (ours: the model's forward graph).
 * Steady-state steps for `seconds` each after 3 warm-up steps; graph building and session creation excluded (ours
 * reported apart). PyTorch is `bench/lstm_torch.py` under Debian's `/usr/bin/python3` (python3-torch), with OpenBLAS
 * (OpenMP build, `OPENBLAS_CORETYPE=SkylakeX`) and `OMP_WAIT_POLICY=PASSIVE` (threads that do not spin, as ours;
 * spinning OpenMP threads made PyTorch 10-50x slower on this loaded 2-core machine) set in its environment only. Prints a table with the ratios and the
 * load average (the machine is shared: ratios of runs taken together mean more than absolute rates).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { seededRandom } from '../engine/graph.js';
import { Runner, Trainer } from '../engine/session.js';
import { lstmForwardGraph, lstmInitialParams, lstmTrainGraph, type LstmConfig } from '../models/lstm/network.js';
import { projectRoot } from '../testing/paths.js';
import { formatTable } from './util.js';

const B = 32;
const T = 64;
const V = 300;

export const BENCH_CONFIG: LstmConfig = {
  fields: [{ name: 'syscall', vocab: V, dim: 64, encoding: 'learned' }], positionDim: 0, hidden: 128, layers: 1,
  chunk: T, batch: B, epochs: 1, patience: 0, lr: 1e-3, warmupSteps: 0, weightDecay: 0, clipNorm: 1,
  labelSmoothing: 0, dropout: 0, threads: 2, seed: 1,
};

export interface Rate {
  tokensPerS: number;
  steps: number;
  msPerStep: number;
  /** The fastest single step (on a shared machine, the closest to an uncontended figure). */
  bestMs: number;
}

async function timed(step: () => Promise<void>, seconds: number): Promise<Rate> {
  for (let i = 0; i < 3; i++) await step();
  let steps = 0;
  let best = Infinity;
  const start = performance.now();
  while (performance.now() - start < seconds * 1000) {
    const t = performance.now();
    await step();
    best = Math.min(best, performance.now() - t);
    steps++;
  }
  const elapsed = performance.now() - start;
  return { tokensPerS: (B * T * steps) / (elapsed / 1000), steps, msPerStep: elapsed / steps, bestMs: best };
}

/** Our training and scoring rates; `setupMs` = building graphs and creating both sessions. */
export async function benchOurLstm(seconds: number): Promise<{ train: Rate; score: Rate; setupMs: number }> {
  const cfg = BENCH_CONFIG;
  const adam = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, clipNorm: 1 };
  const schedule = { lr: 1e-3, warmupSteps: 0, decay: 'constant' as const, totalSteps: 1, minFraction: 1 };
  const t0 = performance.now();
  const trainer = new Trainer(lstmInitialParams(cfg), adam, schedule, cfg.threads, () => lstmTrainGraph(cfg, adam, B, T));
  const runner = new Runner(lstmInitialParams(cfg), cfg.threads, () => lstmForwardGraph(cfg, B, T));
  const rand = seededRandom(9);
  const toks = new BigInt64Array(B * T);
  const targets = new BigInt64Array(B * T);
  const h = new Float32Array(B * cfg.hidden);
  const c = new Float32Array(B * cfg.hidden);
  const feeds = (): Record<string, ort.Tensor> => {
    for (let i = 0; i < B * T; i++) {
      toks[i] = BigInt(Math.floor(rand() * V));
      targets[i] = BigInt(Math.floor(rand() * V));
    }
    return {
      tok_syscall: new ort.Tensor('int64', toks, [B, T]), targets: new ort.Tensor('int64', targets, [B, T]),
      h0: new ort.Tensor('float32', h, [1, B, cfg.hidden]), c0: new ort.Tensor('float32', c, [1, B, cfg.hidden]),
    };
  };
  try {
    await trainer.step('bench', feeds());
    await runner.forward('bench', feeds());
    const setupMs = performance.now() - t0;
    const train = await timed(async () => {
      const r = await trainer.step('bench', feeds());
      h.set(r.outputs['h_out']!);
      c.set(r.outputs['c_out']!);
    }, seconds);
    h.fill(0);
    c.fill(0);
    runner.params = trainer.params;
    const score = await timed(async () => {
      const r = await runner.forward('bench', feeds());
      h.set(r['h_out']!);
      c.set(r['c_out']!);
    }, seconds);
    return { train, score, setupMs };
  } finally {
    await trainer.release();
    await runner.release();
  }
}

interface TorchRate { tokens_per_s: number; steps: number; ms_per_step: number; best_ms: number }

/** PyTorch's rates from `bench/lstm_torch.py` (throws with its stderr when it fails or torch is missing). */
export async function benchTorchLstm(seconds: number, threads: number): Promise<{ version: string; train: Rate; score: Rate }> {
  const script = join(projectRoot(), 'bench', 'lstm_torch.py');
  if (!existsSync(script)) throw new Error(`${script} not found`);
  const openmp = '/usr/lib/x86_64-linux-gnu/openblas-openmp';
  const env = {
    ...process.env, OPENBLAS_CORETYPE: 'SkylakeX', OMP_NUM_THREADS: String(threads), OMP_WAIT_POLICY: 'PASSIVE',
    ...(existsSync(openmp) ? { LD_LIBRARY_PATH: [openmp, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':') } : {}),
  };
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn('/usr/bin/python3', [script, '--seconds', String(seconds), '--threads', String(threads)], { env });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    child.on('error', reject);
    child.on('close', (c) => resolve({ code: c, stdout: out, stderr: err }));
  });
  if (code !== 0) throw new Error(`bench/lstm_torch.py failed (exit ${code}): ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
  const r = JSON.parse(stdout.trim().split('\n').pop()!) as { torch: string; train: TorchRate; score: TorchRate };
  const conv = (x: TorchRate): Rate => ({ tokensPerS: x.tokens_per_s, steps: x.steps, msPerStep: x.ms_per_step, bestMs: x.best_ms });
  return { version: r.torch, train: conv(r.train), score: conv(r.score) };
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
