/**
 * @module models/lstm/chunks
 * Truncated BPTT batching for the LSTM: B rows, each walking one sequence chunk by chunk (T inputs per chunk); a row
 * that finishes its sequence takes the next one from the queue and starts from a zero state, the others carry their
 * final (h, c) into the next chunk. The plan is a pure function of the lengths and the order, so a run can be
 * resumed at any step.
 */
import * as ort from 'onnxruntime-node';
import type { FloatArray } from '../../engine/session.js';
import type { LstmConfig } from './network.js';

import { TokenInputs } from '../token-inputs.js';
import { drawKeepMasks, type Sequence } from '../training.js';

export { checkSequences, fingerprint, shuffled, type Sequence } from '../training.js';

export interface Slot {
  seq: number;
  /** First input position of this chunk. */
  offset: number;
  /** The state must start from zero (first chunk of the sequence). */
  fresh: boolean;
}

/** The chunk plan: steps[s][b] = what row b processes at step s (null = idle row). Sequences < 2 tokens are skipped. */
export function planChunks(lengths: readonly number[], order: readonly number[], B: number, T: number): (Slot | null)[][] {
  const queue = order.filter((i) => lengths[i]! >= 2);
  let next = 0;
  const rows: (Slot | null)[] = new Array<Slot | null>(B).fill(null);
  const steps: (Slot | null)[][] = [];
  for (;;) {
    for (let b = 0; b < B; b++) {
      const r = rows[b];
      if (r !== null && r !== undefined && r.offset + T < lengths[r.seq]! - 1) rows[b] = { seq: r.seq, offset: r.offset + T, fresh: false };
      else rows[b] = next < queue.length ? { seq: queue[next++]!, offset: 0, fresh: true } : null;
    }
    if (rows.every((r) => r === null)) return steps;
    steps.push(rows.slice());
  }
}

/** The input buffers of one bucket, refilled for every step. */
export class ChunkFeeder extends TokenInputs {
  readonly h: Float32Array;
  readonly c: Float32Array;
  /** Dropout masks of a training feeder (null without dropout or when scoring). */
  readonly keepIn: Float32Array | null;
  readonly keepOut: Float32Array | null;
  private readonly inDim: number;

  /** `training`: feed dropout masks (when the config has dropout), redrawn by {@link drawMasks}. */
  constructor(private readonly cfg: LstmConfig, private readonly B: number, private readonly T: number, training = false) {
    super(cfg.fields.length, B * T); // tok_<field>, pos, targets [B, T]
    this.inDim = cfg.fields.reduce((s, f) => s + f.dim, 0) + cfg.positionDim;
    const masks = training && cfg.dropout > 0;
    this.keepIn = masks ? new Float32Array(B * T * this.inDim) : null; // [B, T, E]
    this.keepOut = masks ? new Float32Array(B * T * cfg.hidden) : null; // [B, T, H]
    this.h = new Float32Array(cfg.layers * B * cfg.hidden); // [L, B, H]
    this.c = new Float32Array(cfg.layers * B * cfg.hidden); // [L, B, H]
  }

  /** Fills inputs and targets for one step, zeroing the state of rows that start a sequence; returns the target count. */
  fill(rows: readonly (Slot | null)[], seqs: readonly Sequence[]): number {
    const { B, T, cfg } = this;
    const H = cfg.hidden;
    this.clear();
    let count = 0;
    for (let b = 0; b < B; b++) {
      const r = rows[b];
      if (r === null || r === undefined || r.fresh) {
        for (let l = 0; l < cfg.layers; l++) {
          this.h.fill(0, (l * B + b) * H, (l * B + b + 1) * H);
          this.c.fill(0, (l * B + b) * H, (l * B + b + 1) * H);
        }
      }
      if (r === null || r === undefined) continue;
      const seq = seqs[r.seq]!;
      const n = seq[0]!.length;
      for (let t = 0; t < T && r.offset + t + 1 < n; t++) {
        this.put(b * T + t, seq, r.offset + t);
        count++;
      }
    }
    return count;
  }

  /** Draws the dropout masks of optimizer step `step` (a function of the seed and the step, so resuming is exact). */
  drawMasks(step: number): void {
    if (this.keepIn === null || this.keepOut === null) return;
    drawKeepMasks(this.cfg.seed, step, this.cfg.dropout, [this.keepIn, this.keepOut]);
  }

  /** The network's inputs (targets included). */
  feeds(): Record<string, ort.Tensor> {
    const { B, T, cfg } = this;
    const out = this.tokenFeeds(cfg.fields, B, T, cfg.positionDim > 0);
    out['h0'] = new ort.Tensor('float32', this.h, [cfg.layers, B, cfg.hidden]);
    out['c0'] = new ort.Tensor('float32', this.c, [cfg.layers, B, cfg.hidden]);
    if (this.keepIn !== null && this.keepOut !== null) {
      out['keep_in'] = new ort.Tensor('float32', this.keepIn, [B, T, this.inDim]);
      out['keep_out'] = new ort.Tensor('float32', this.keepOut, [B, T, cfg.hidden]);
    }
    return out;
  }

  /** Carries the graph's final state into the next step's inputs. */
  carry(outputs: Record<string, FloatArray>): void {
    this.h.set(outputs['h_out']!);
    this.c.set(outputs['c_out']!);
  }
}
