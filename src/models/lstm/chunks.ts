/**
 * @module models/lstm/chunks
 * Truncated BPTT batching for the LSTM: B rows, each walking one sequence chunk by chunk (T inputs per chunk); a row
 * that finishes its sequence takes the next one from the queue and starts from a zero state, the others carry their
 * final (h, c) into the next chunk. The plan is a pure function of the lengths and the order, so a run can be
 * resumed at any step.
 */
import * as ort from 'onnxruntime-node';
import { seededRandom } from '../../engine/graph.js';
import type { FloatArray } from '../../engine/session.js';
import type { LstmConfig } from './network.js';

/** `seq[field][position]`: field-major token ids (field 0 = syscall name). */
export type Sequence = readonly (ArrayLike<number>)[];

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
export class ChunkFeeder {
  readonly toks: BigInt64Array[];
  readonly pos: BigInt64Array;
  readonly targets: BigInt64Array;
  readonly h: Float32Array;
  readonly c: Float32Array;
  /** Dropout masks of a training feeder (null without dropout or when scoring). */
  readonly keepIn: Float32Array | null;
  readonly keepOut: Float32Array | null;
  private readonly inDim: number;

  /** `training`: feed dropout masks (when the config has dropout), redrawn by {@link drawMasks}. */
  constructor(private readonly cfg: LstmConfig, private readonly B: number, private readonly T: number, training = false) {
    this.inDim = cfg.fields.reduce((s, f) => s + f.dim, 0) + cfg.positionDim;
    const masks = training && cfg.dropout > 0;
    this.keepIn = masks ? new Float32Array(B * T * this.inDim) : null; // [B, T, E]
    this.keepOut = masks ? new Float32Array(B * T * cfg.hidden) : null; // [B, T, H]
    this.toks = cfg.fields.map(() => new BigInt64Array(B * T)); // each [B, T]
    this.pos = new BigInt64Array(B * T); // [B, T]
    this.targets = new BigInt64Array(B * T); // [B, T]
    this.h = new Float32Array(cfg.layers * B * cfg.hidden); // [L, B, H]
    this.c = new Float32Array(cfg.layers * B * cfg.hidden); // [L, B, H]
  }

  /** Fills inputs and targets for one step, zeroing the state of rows that start a sequence; returns the target count. */
  fill(rows: readonly (Slot | null)[], seqs: readonly Sequence[]): number {
    const { B, T, cfg } = this;
    const H = cfg.hidden;
    this.targets.fill(-1n);
    this.pos.fill(0n);
    for (const t of this.toks) t.fill(0n);
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
        const p = r.offset + t;
        for (let f = 0; f < cfg.fields.length; f++) this.toks[f]![b * T + t] = BigInt(seq[f]![p]!);
        this.pos[b * T + t] = BigInt(p);
        this.targets[b * T + t] = BigInt(seq[0]![p + 1]!);
        count++;
      }
    }
    return count;
  }

  /** Draws the dropout masks of optimizer step `step` (a function of the seed and the step, so resuming is exact). */
  drawMasks(step: number): void {
    if (this.keepIn === null || this.keepOut === null) return;
    const rand = seededRandom((Math.imul(this.cfg.seed + 1, 0x9e3779b1) ^ Math.imul(step + 1, 0x85ebca6b)) >>> 0);
    const p = this.cfg.dropout;
    const keep = 1 / (1 - p);
    for (const m of [this.keepIn, this.keepOut]) for (let i = 0; i < m.length; i++) m[i] = rand() < p ? 0 : keep;
  }

  /** The network's inputs (targets included). */
  feeds(): Record<string, ort.Tensor> {
    const { B, T, cfg } = this;
    const out: Record<string, ort.Tensor> = {
      h0: new ort.Tensor('float32', this.h, [cfg.layers, B, cfg.hidden]),
      c0: new ort.Tensor('float32', this.c, [cfg.layers, B, cfg.hidden]),
      targets: new ort.Tensor('int64', this.targets, [B, T]),
    };
    cfg.fields.forEach((f, i) => { out[`tok_${f.name}`] = new ort.Tensor('int64', this.toks[i]!, [B, T]); });
    if (cfg.positionDim > 0) out['pos'] = new ort.Tensor('int64', this.pos, [B, T]);
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

/** Throws RangeError unless every sequence has one id list per field, of equal lengths, inside each vocabulary. */
export function checkSequences(seqs: readonly Sequence[], cfg: LstmConfig): void {
  seqs.forEach((seq, s) => {
    if (seq.length !== cfg.fields.length) throw new RangeError(`sequence ${s}: ${seq.length} fields, expected ${cfg.fields.length}`);
    const n = seq[0]!.length;
    seq.forEach((ids, f) => {
      if (ids.length !== n) throw new RangeError(`sequence ${s}: field ${cfg.fields[f]!.name} has ${ids.length} ids, expected ${n}`);
      const vocab = cfg.fields[f]!.vocab;
      for (let i = 0; i < ids.length; i++) {
        const id = ids[i]!;
        if (!Number.isInteger(id) || id < 0 || id >= vocab) {
          throw new RangeError(`sequence ${s}: ${cfg.fields[f]!.name} id ${id} outside [0, ${vocab})`);
        }
      }
    });
  });
}

/** A seeded permutation of 0..n-1 (Fisher-Yates over an LCG). */
export function shuffled(n: number, seed: number): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  let s = seed >>> 0;
  for (let i = n - 1; i > 0; i--) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = s % (i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

/** FNV-1a over the sequences' lengths and ids: a checkpoint is only resumed on the data it was made from. */
export function fingerprint(seqs: readonly Sequence[]): string {
  let h = 0x811c9dc5;
  const mix = (x: number): void => {
    h ^= x & 0xffff;
    h = Math.imul(h, 0x01000193) >>> 0;
    h ^= x >>> 16;
    h = Math.imul(h, 0x01000193) >>> 0;
  };
  mix(seqs.length);
  for (const seq of seqs) {
    mix(seq.length);
    for (const ids of seq) {
      mix(ids.length);
      for (let i = 0; i < ids.length; i++) mix(ids[i]!);
    }
  }
  return h.toString(16).padStart(8, '0');
}
