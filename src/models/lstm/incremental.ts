/**
 * @module models/lstm/incremental
 * The LSTM's incremental scorer (`models/stream.ts`). The state of an open sequence is, per layer, its hidden and
 * cell vectors h, c [L, H], plus the token tuple of its last event (the next step's input: `<s>` in every field at
 * first), that tuple's position, and the last event itself (for the time-delta field of the next one). A push of
 * n sequences is one run of the forward graph with T = 1 and the states as inputs (`lstmForwardGraph(cfg, B, 1)`,
 * the same fused graph that full scoring runs per chunk, B = the next power of two ≥ n, ≤ `MAX_BATCH`): inputs
 * tok_<field> [B, 1], pos [B, 1], h0 / c0 [L, B, H], targets [B, 1] (the new event's name; -1 on padding rows);
 * outputs logp [B, 1] and the new h / c [L, B, H], copied back into the per-sequence state.
 *
 * Tokens are encoded exactly as `Tokenizer.encode` does (`Tokenizer.eventIds` on the event and the previous event of the
 * same sequence), so the log-probabilities equal full scoring's up to float32 rounding.
 */
import * as ort from 'onnxruntime-node';
import { Runner } from '../../engine/session.js';
import type { SyscallEvent } from '../../trace/event.js';
import type { Tokenizer } from '../../features/tokens/tokenizer.js';
import { END, START, TRUNCATE } from '../../features/tokens/vocabulary.js';
import { grownArray, SlotPool, type IncrementalScorer, type StreamHandle } from '../stream.js';
import { lstmForwardGraph, type LstmConfig } from './network.js';
import { graphFieldName } from '../embedding.js';

/** Largest batch of one graph run (bigger pushes are split). */
export const MAX_BATCH = 256;

/** The input buffers of one batch bucket, with tensors over them (reused every run). */
class Bucket {
  readonly toks: BigInt64Array[];
  readonly pos: BigInt64Array;
  readonly targets: BigInt64Array;
  readonly h: Float32Array;
  readonly c: Float32Array;
  readonly feeds: Record<string, ort.Tensor>;

  constructor(cfg: LstmConfig, readonly B: number) {
    const L = cfg.layers;
    const H = cfg.hidden;
    this.toks = cfg.fields.map(() => new BigInt64Array(B)); // each [B, 1]
    this.pos = new BigInt64Array(B); // [B, 1]
    this.targets = new BigInt64Array(B); // [B, 1]
    this.h = new Float32Array(L * B * H); // [L, B, H]
    this.c = new Float32Array(L * B * H); // [L, B, H]
    this.feeds = {
      h0: new ort.Tensor('float32', this.h, [L, B, H]),
      c0: new ort.Tensor('float32', this.c, [L, B, H]),
      targets: new ort.Tensor('int64', this.targets, [B, 1]),
    };
    cfg.fields.forEach((f, i) => { this.feeds[`tok_${f.name}`] = new ort.Tensor('int64', this.toks[i]!, [B, 1]); });
    if (cfg.positionDim > 0) this.feeds['pos'] = new ort.Tensor('int64', this.pos, [B, 1]);
  }
}

export class LstmIncrementalScorer implements IncrementalScorer {
  private readonly runner: Runner;
  private readonly L: number;
  private readonly H: number;
  private readonly F: number;
  private readonly buckets = new Map<number, Bucket>();
  // Per slot: h, c [L, H]; input tuple [F]; input position; last event.
  private h = new Float32Array(0);
  private c = new Float32Array(0);
  private toks = new Int32Array(0);
  private pos = new Int32Array(0);
  private last: (SyscallEvent | undefined)[] = [];
  private capacity = 0;
  private readonly pool = new SlotPool();
  /** Runs are serialized: the bucket buffers are shared. */
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly cfg: LstmConfig, params: Float32Array, private readonly tokenizer: Tokenizer) {
    this.L = cfg.layers;
    this.H = cfg.hidden;
    this.F = cfg.fields.length;
    if (tokenizer.unitNames.length !== this.F || tokenizer.unitNames.some((u, i) => cfg.fields[i]!.name !== graphFieldName(u))) {
      throw new RangeError('LSTM incremental scorer: the tokenizer fields differ from the network fields');
    }
    this.runner = new Runner(params, cfg.threads, (key) => lstmForwardGraph(cfg, Number(key), 1), 'frozen');
    this.grow(64);
  }

  get openCount(): number {
    return this.pool.openCount;
  }

  private grow(n: number): void {
    const LH = this.L * this.H;
    this.h = grownArray(this.h, n * LH);
    this.c = grownArray(this.c, n * LH);
    this.toks = grownArray(this.toks, n * this.F);
    this.pos = grownArray(this.pos, n);
    this.last.length = n;
    this.capacity = n;
  }

  open(): StreamHandle {
    const { handle, slot } = this.pool.open();
    if (slot >= this.capacity) this.grow(this.capacity * 2);
    const LH = this.L * this.H;
    this.h.fill(0, slot * LH, (slot + 1) * LH);
    this.c.fill(0, slot * LH, (slot + 1) * LH);
    this.toks.fill(START, slot * this.F, (slot + 1) * this.F);
    this.pos[slot] = 0;
    this.last[slot] = undefined;
    return handle;
  }

  private slotOf(h: StreamHandle): number {
    return this.pool.slotOf(h);
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.chain.then(fn, fn);
    this.chain = p.catch(() => undefined);
    return p;
  }

  /** One graph run over `slots` with these targets; copies the new states back when `keep`. */
  private async run(slots: readonly number[], targets: readonly number[], out: Float64Array, outAt: number, keep: boolean): Promise<void> {
    const n = slots.length;
    let B = 1;
    while (B < n) B *= 2;
    let bk = this.buckets.get(B);
    if (bk === undefined) this.buckets.set(B, (bk = new Bucket(this.cfg, B)));
    const { L, H, F } = this;
    for (let b = 0; b < B; b++) {
      if (b >= n) {
        bk.targets[b] = -1n;
        continue;
      }
      const s = slots[b]!;
      for (let f = 0; f < F; f++) bk.toks[f]![b] = BigInt(this.toks[s * F + f]!);
      bk.pos[b] = BigInt(this.pos[s]!);
      bk.targets[b] = BigInt(targets[b]!);
      for (let l = 0; l < L; l++) {
        bk.h.set(this.h.subarray((s * L + l) * H, (s * L + l + 1) * H), (l * B + b) * H);
        bk.c.set(this.c.subarray((s * L + l) * H, (s * L + l + 1) * H), (l * B + b) * H);
      }
    }
    const res = await this.runner.forward(String(B), bk.feeds);
    const logp = res['logp']!; // [B, 1]
    const hOut = res['h_out']!; // [L, B, H]
    const cOut = res['c_out']!; // [L, B, H]
    for (let b = 0; b < n; b++) {
      out[outAt + b] = logp[b]!;
      if (!keep) continue;
      const s = slots[b]!;
      for (let l = 0; l < L; l++) {
        this.h.set(hOut.subarray((l * B + b) * H, (l * B + b + 1) * H), (s * L + l) * H);
        this.c.set(cOut.subarray((l * B + b) * H, (l * B + b + 1) * H), (s * L + l) * H);
      }
    }
  }

  async push(handles: readonly StreamHandle[], events: readonly SyscallEvent[]): Promise<Float64Array> {
    if (handles.length !== events.length) throw new RangeError('push: one event per handle');
    const slots = handles.map((h) => this.slotOf(h));
    return this.serial(async () => {
      const out = new Float64Array(slots.length);
      const F = this.F;
      // Encode each event (its tuple is the next input; its name is this run's target).
      const tuples = new Int32Array(slots.length * F);
      const targets = new Array<number>(slots.length);
      for (let i = 0; i < slots.length; i++) {
        const ev = events[i]!;
        const prev = this.last[slots[i]!];
        this.tokenizer.eventIds(ev, prev, tuples, i * F);
        targets[i] = tuples[i * F]!; // the predicted unit comes first
      }
      for (let i = 0; i < slots.length; i += MAX_BATCH) {
        await this.run(slots.slice(i, i + MAX_BATCH), targets.slice(i, i + MAX_BATCH), out, i, true);
      }
      for (let i = 0; i < slots.length; i++) {
        const s = slots[i]!;
        this.toks.set(tuples.subarray(i * F, (i + 1) * F), s * F);
        this.pos[s] = this.pos[s]! + 1;
        this.last[s] = events[i];
      }
      return out;
    });
  }

  async close(handles: readonly StreamHandle[], truncated?: readonly boolean[]): Promise<Float64Array> {
    const slots = handles.map((h) => this.slotOf(h));
    return this.serial(async () => {
      const out = new Float64Array(slots.length);
      const targets = slots.map((_, i) => (truncated?.[i] ? TRUNCATE : END));
      for (let i = 0; i < slots.length; i += MAX_BATCH) {
        await this.run(slots.slice(i, i + MAX_BATCH), targets.slice(i, i + MAX_BATCH), out, i, false);
      }
      for (const h of handles) this.drop(h);
      return out;
    });
  }

  drop(handle: StreamHandle): void {
    const s = this.pool.close(handle);
    if (s >= 0) this.last[s] = undefined;
  }

  async release(): Promise<void> {
    await this.chain;
    await this.runner.release();
  }
}
