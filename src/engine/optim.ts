/**
 * @module engine/optim
 * Adam / AdamW appended to a training graph over the flat parameter buffer, with global-norm gradient clipping, plus
 * the learning-rate schedule (linear warm-up, then constant or cosine decay) computed in TypeScript and fed to the
 * graph as a scalar each step.
 *
 * The training graph's extra inputs: `adam_m`, `adam_v` ([P], the moments), `lr`, `bc1` = 1 / (1 - beta1^t),
 * `bc2` = 1 / (1 - beta2^t) (scalars); its outputs: `params_out`, `m_out`, `v_out` ([P]), `loss`, `grad_norm`.
 */
import { gradients } from './autodiff.js';
import { size, type Graph, type Value } from './graph.js';

export interface AdamConfig {
  beta1: number;
  beta2: number;
  eps: number;
  /** Decoupled (AdamW) weight decay on parameters declared with `decay: true`; 0 gives plain Adam. */
  weightDecay: number;
  /** Global gradient-norm clip; 0 disables clipping. */
  clipNorm: number;
}

export const DEFAULT_ADAM: AdamConfig = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, clipNorm: 1 };

export interface Schedule {
  /** Peak learning rate. */
  lr: number;
  /** Linear warm-up from lr / warmupSteps to lr over this many steps (0: none). */
  warmupSteps: number;
  /** After warm-up: keep lr, or cosine-decay it to `minFraction * lr` at `totalSteps`. */
  decay: 'constant' | 'cosine';
  totalSteps: number;
  minFraction: number;
}

/** Learning rate for the 0-based step `step`. */
export function learningRate(s: Schedule, step: number): number {
  if (step < s.warmupSteps) return (s.lr * (step + 1)) / s.warmupSteps;
  if (s.decay === 'constant') return s.lr;
  const span = Math.max(1, s.totalSteps - s.warmupSteps);
  const progress = Math.min(1, (step - s.warmupSteps) / span);
  return s.lr * (s.minFraction + (1 - s.minFraction) * 0.5 * (1 + Math.cos(Math.PI * progress)));
}

/** Bias-correction factors fed as `bc1`, `bc2` for the 1-based step `t`. */
export function biasCorrections(cfg: AdamConfig, t: number): { bc1: number; bc2: number } {
  return { bc1: 1 / (1 - cfg.beta1 ** t), bc2: 1 / (1 - cfg.beta2 ** t) };
}

export interface OptimizerOutputs {
  params: Value;
  m: Value;
  v: Value;
  gradNorm: Value;
}

/**
 * Appends the gradient of `loss` with respect to all of `g`'s parameters and one AdamW update of the flat buffer.
 * Declares the inputs `adam_m`, `adam_v`, `lr`, `bc1`, `bc2`.
 */
export function appendAdamW(g: Graph, loss: Value, cfg: AdamConfig): OptimizerOutputs {
  if (g.params.length === 0) throw new Error('appendAdamW: the graph has no parameters');
  const p = g.paramsInput; // [P]
  const count = g.paramCount;
  const m = g.input('adam_m', g.float, [count]); // [P]
  const v = g.input('adam_v', g.float, [count]); // [P]
  const lr = g.input('lr', g.float, []);
  const bc1 = g.input('bc1', g.float, []);
  const bc2 = g.input('bc2', g.float, []);

  const grads = gradients(g, loss, g.params.map((s) => s.value));
  const flat = grads.map((gr) => g.reshape(gr, [size(gr.shape)])); // each [n_i]
  let grad = flat.length === 1 ? flat[0]! : g.concat(flat, 0); // [P], in parameter order
  const gradNorm = g.sqrt(g.reduceSum(g.mul(grad, grad), [0], false)); // []
  if (cfg.clipNorm > 0) {
    // scale = 1 / max(1, norm / clip) = min(1, clip / norm)
    const scale = g.div(g.scalar(1), g.max(g.scalar(1), g.div(gradNorm, g.scalar(cfg.clipNorm))));
    grad = g.mul(grad, scale);
  }
  const m1 = g.add(g.mul(m, g.scalar(cfg.beta1)), g.mul(grad, g.scalar(1 - cfg.beta1))); // [P]
  const v1 = g.add(g.mul(v, g.scalar(cfg.beta2)), g.mul(g.mul(grad, grad), g.scalar(1 - cfg.beta2))); // [P]
  const mHat = g.mul(m1, bc1);
  const vHat = g.mul(v1, bc2);
  let update = g.div(mHat, g.add(g.sqrt(vHat), g.scalar(cfg.eps))); // [P]
  if (cfg.weightDecay > 0) {
    const mask = g.concat(g.params.map((s) => g.fill([s.size], s.decay ? cfg.weightDecay : 0)), 0); // [P]
    update = g.add(update, g.mul(mask, p));
  }
  const p1 = g.sub(p, g.mul(update, lr));
  return { params: p1, m: m1, v: v1, gradNorm };
}
