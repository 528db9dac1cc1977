/**
 * @module models/transformer/incremental
 * Incremental scoring for the attention models (the `IncrementalScorer` contract of `models/stream.ts`): each open
 * sequence keeps, per block, the keys and values of the positions its next token may see — a ring of the last
 * w − 1 positions (w = the window, a Transformer's context), plus, for the Longformer, the global start token's —
 * and the next-token distribution after its last token. Pushing one event per sequence runs the step graph
 * (`transformerStepGraph`) once for the whole batch: the new token's query against its cache, O(w) work per event
 * however long the sequence, never a rescoring of the prefix.
 *
 * The start token is the same for every sequence (all fields `<s>`, position 0): its keys, values and distribution
 * are computed once and copied into each opened sequence.
 */
import * as ort from 'onnxruntime-node';
import { Runner } from '../../engine/session.js';
import type { Tokenizer } from '../../features/tokens/tokenizer.js';
import { END, START, TRUNCATE } from '../../features/tokens/vocabulary.js';
import type { SyscallEvent } from '../../trace/event.js';
import { MASKED } from '../attention.js';
import { graphFieldName } from '../embedding.js';
import type { IncrementalScorer, StreamHandle } from '../stream.js';
import { transformerStepGraph, type TransformerConfig } from './network.js';

/** Most sequences per step run. */
const MAX_ROWS = 64;

interface State {
  /** Tokens consumed so far (the position of the next one); 0 until the start token is copied in. */
  pos: number;
  /** Ring slots allocated (grows by doubling up to w − 1). */
  cap: number;
  /** Keys and values [L, H, cap, dh] of the last min(pos, w − 1) positions, position j in slot j mod (w − 1). */
  k: Float32Array;
  v: Float32Array;
  /** ln P(next name) after the last token [V]. */
  logp: Float32Array;
  prev: SyscallEvent | undefined;
}

const ceilPow2 = (x: number): number => 2 ** Math.ceil(Math.log2(Math.max(1, x)));

export class AttentionIncrementalScorer implements IncrementalScorer {
  private readonly runner: Runner;
  private readonly states = new Map<number, State>();
  private nextId = 0;
  private start: { k: Float32Array; v: Float32Array; logp: Float32Array } | null = null;
  /** Ring capacity w − 1 (at least 1). */
  private readonly ring: number;
  private readonly L: number;
  private readonly H: number;
  private readonly dh: number;
  private readonly V: number;

  constructor(private readonly cfg: TransformerConfig, params: Float32Array, private readonly tokenizer: Tokenizer) {
    if (tokenizer.unitNames.length !== cfg.fields.length || tokenizer.unitNames.some((u, i) => graphFieldName(u) !== cfg.fields[i]!.name)) {
      throw new RangeError('incremental scorer: the tokenizer fields differ from the model fields');
    }
    this.runner = new Runner(params, cfg.threads, (key) => {
      const [N, C] = key.split('x').map(Number) as [number, number];
      return transformerStepGraph(cfg, N, C);
    }, 'frozen');
    this.ring = Math.max(1, cfg.window - 1);
    this.L = cfg.layers;
    this.H = cfg.heads;
    this.dh = cfg.width / cfg.heads;
    this.V = cfg.fields[0]!.vocab;
  }

  get openCount(): number {
    return this.states.size;
  }

  open(): StreamHandle {
    const id = this.nextId++;
    this.states.set(id, { pos: 0, cap: 0, k: new Float32Array(0), v: new Float32Array(0), logp: new Float32Array(0), prev: undefined });
    return { id };
  }

  drop(handle: StreamHandle): void {
    this.states.delete(handle.id);
  }

  private state(h: StreamHandle): State {
    const s = this.states.get(h.id);
    if (s === undefined) throw new RangeError(`stream handle ${h.id} is not open`);
    return s;
  }

  /** Copies the start token's keys, values and distribution into a freshly opened sequence. */
  private async begin(s: State): Promise<void> {
    if (s.pos > 0) return;
    if (this.start === null) {
      const ids = this.cfg.fields.map(() => START);
      const r = await this.step([{ ids, pos: 0, state: null }]);
      this.start = { k: r.k[0]!, v: r.v[0]!, logp: r.logp[0]! };
    }
    this.grow(s, 1);
    this.write(s, 0, this.start.k, this.start.v);
    s.logp = this.start.logp.slice();
    s.pos = 1;
  }

  /** Makes room in the ring for position `pos`. */
  private grow(s: State, need: number): void {
    const want = Math.min(this.ring, ceilPow2(need));
    if (s.cap >= want) return;
    const { L, H, dh } = this;
    const k = new Float32Array(L * H * want * dh);
    const v = new Float32Array(L * H * want * dh);
    for (let lh = 0; lh < L * H; lh++) {
      k.set(s.k.subarray(lh * s.cap * dh, (lh + 1) * s.cap * dh), lh * want * dh);
      v.set(s.v.subarray(lh * s.cap * dh, (lh + 1) * s.cap * dh), lh * want * dh);
    }
    s.k = k;
    s.v = v;
    s.cap = want;
  }

  /** Stores a position's keys and values ([L, H, dh] each) in its ring slot. */
  private write(s: State, pos: number, k: Float32Array, v: Float32Array): void {
    const { L, H, dh } = this;
    const slot = pos % this.ring;
    for (let lh = 0; lh < L * H; lh++) {
      s.k.set(k.subarray(lh * dh, (lh + 1) * dh), (lh * s.cap + slot) * dh);
      s.v.set(v.subarray(lh * dh, (lh + 1) * dh), (lh * s.cap + slot) * dh);
    }
  }

  /**
   * One step for up to MAX_ROWS rows: each row's new token (field ids, position) against its cache (null: an empty
   * cache). Returns per row the new token's keys / values [L, H, dh] and the next-token distribution [V].
   */
  private async step(rows: { ids: number[]; pos: number; state: State | null }[]): Promise<{ k: Float32Array[]; v: Float32Array[]; logp: Float32Array[] }> {
    const { L, H, dh, V } = this;
    const N = ceilPow2(rows.length);
    const global = this.cfg.globalStart;
    const used = rows.map((r) => (r.state === null ? 0 : Math.min(r.pos, this.ring) + (global && r.pos >= this.cfg.window ? 1 : 0)));
    const C = ceilPow2(Math.max(1, ...used));
    const toks = this.cfg.fields.map(() => new BigInt64Array(N)); // each [N, 1]
    const pos = new BigInt64Array(N); // [N, 1]
    const kc = new Float32Array(L * N * H * C * dh); // [L, N, H, C, dh]
    const vc = new Float32Array(L * N * H * C * dh); // [L, N, H, C, dh]
    const mask = new Float32Array(N * C).fill(MASKED); // [N, 1, 1, C]
    rows.forEach((r, n) => {
      r.ids.forEach((id, f) => { toks[f]![n] = BigInt(id); });
      pos[n] = BigInt(r.pos);
      const s = r.state;
      if (s === null) return;
      const local = Math.min(r.pos, this.ring);
      for (let l = 0; l < L; l++) {
        for (let h = 0; h < H; h++) {
          const src = (l * H + h) * s.cap * dh;
          const dst = (((l * N + n) * H + h) * C) * dh;
          kc.set(s.k.subarray(src, src + local * dh), dst);
          vc.set(s.v.subarray(src, src + local * dh), dst);
          if (used[n]! > local) { // the global start token, after the window has left it
            kc.set(this.start!.k.subarray((l * H + h) * dh, (l * H + h + 1) * dh), dst + local * dh);
            vc.set(this.start!.v.subarray((l * H + h) * dh, (l * H + h + 1) * dh), dst + local * dh);
          }
        }
      }
      mask.fill(0, n * C, n * C + used[n]!);
    });
    const feeds: Record<string, ort.Tensor> = {
      pos: new ort.Tensor('int64', pos, [N, 1]),
      kcache: new ort.Tensor('float32', kc, [L, N, H, C, dh]),
      vcache: new ort.Tensor('float32', vc, [L, N, H, C, dh]),
      mask: new ort.Tensor('float32', mask, [N, 1, 1, C]),
    };
    this.cfg.fields.forEach((f, i) => { feeds[`tok_${f.name}`] = new ort.Tensor('int64', toks[i]!, [N, 1]); });
    const out = await this.runner.forward(`${N}x${C}`, feeds);
    const kNew = out['k_new']!; // [L, N, H, 1, dh]
    const vNew = out['v_new']!;
    const logp = out['logp_all']!; // [N, V]
    const pick = (a: Float32Array | Float64Array, n: number): Float32Array => {
      const x = new Float32Array(L * H * dh);
      for (let l = 0; l < L; l++) x.set(a.subarray((l * N + n) * H * dh, (l * N + n + 1) * H * dh), l * H * dh);
      return x;
    };
    return {
      k: rows.map((_, n) => pick(kNew, n)), v: rows.map((_, n) => pick(vNew, n)),
      logp: rows.map((_, n) => Float32Array.from(logp.subarray(n * V, (n + 1) * V))),
    };
  }

  async push(handles: readonly StreamHandle[], events: readonly SyscallEvent[]): Promise<Float64Array> {
    if (handles.length !== events.length) throw new RangeError(`push: ${handles.length} handles but ${events.length} events`);
    if (new Set(handles.map((h) => h.id)).size !== handles.length) throw new RangeError('push: a handle appears twice');
    const states = handles.map((h) => this.state(h));
    for (const s of states) await this.begin(s);
    const out = new Float64Array(handles.length);
    const rows = states.map((s, i) => {
      const ev = events[i]!;
      const ids: number[] = [];
      this.tokenizer.eventIds(ev, s.prev, ids);
      out[i] = s.logp[ids[0]!]!;
      s.prev = ev;
      return { ids, pos: s.pos, state: s };
    });
    for (let at = 0; at < rows.length; at += MAX_ROWS) {
      const part = rows.slice(at, at + MAX_ROWS);
      const r = await this.step(part);
      part.forEach((row, n) => {
        const s = row.state;
        this.grow(s, s.pos + 1);
        this.write(s, s.pos, r.k[n]!, r.v[n]!);
        s.logp = r.logp[n]!;
        s.pos++;
      });
    }
    return out;
  }

  async close(handles: readonly StreamHandle[], truncated?: readonly boolean[]): Promise<Float64Array> {
    const out = new Float64Array(handles.length);
    for (const [i, h] of handles.entries()) {
      const s = this.state(h);
      await this.begin(s);
      out[i] = s.logp[truncated?.[i] === true ? TRUNCATE : END]!;
      this.states.delete(h.id);
    }
    return out;
  }

  release(): Promise<void> {
    this.states.clear();
    return this.runner.release();
  }
}
