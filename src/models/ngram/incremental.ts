/**
 * @module models/ngram/incremental
 * The n-gram's incremental scorer (`models/stream.ts`): the state of an open sequence is the trie nodes of its last
 * n − 1 predicted token ids (syscall names, or joint `name|lat|size` tokens; `NgramModel.startState` / `step`), kept
 * in one growing `Int32Array` of `order` slots per sequence, with the sequence's last event (for the `dt` field);
 * slots of closed sequences are reused. One event costs `order` trie look-ups, whatever the prefix length.
 */
import type { SyscallEvent } from '../../trace/event.js';
import type { Tokenizer } from '../../features/tokens/tokenizer.js';
import { END, TRUNCATE } from '../../features/tokens/vocabulary.js';
import { grownArray, SlotPool, type IncrementalScorer, type StreamHandle } from '../stream.js';
import type { NgramModel } from './ngram.js';

export class NgramIncrementalScorer implements IncrementalScorer {
  private nodes: Int32Array;
  private valid: Int32Array;
  /** Per slot, the sequence's last event (the `dt` field's reference). */
  private prev: (SyscallEvent | undefined)[] = [];
  private readonly pool = new SlotPool();
  private readonly order: number;

  /** `tokenizer`: the scorer's (one vocabulary: the name's, or a joint one), whose first vocabulary `model` predicts. */
  constructor(private readonly model: NgramModel, private readonly tokenizer: Tokenizer) {
    this.order = model.order;
    this.nodes = new Int32Array(64 * this.order);
    this.valid = new Int32Array(64);
  }

  get openCount(): number {
    return this.pool.openCount;
  }

  open(): StreamHandle {
    const { handle, slot } = this.pool.open();
    if (slot >= this.valid.length) {
      const n = this.valid.length * 2;
      this.nodes = grownArray(this.nodes, n * this.order);
      this.valid = grownArray(this.valid, n);
    }
    this.valid[slot] = this.model.startState(this.nodes, slot * this.order);
    this.prev[slot] = undefined;
    return handle;
  }

  private slotOf(h: StreamHandle): number {
    return this.pool.slotOf(h);
  }

  /** Synchronous push (the async `push` wraps it). */
  pushSync(handles: readonly StreamHandle[], events: readonly SyscallEvent[], out = new Float64Array(handles.length)): Float64Array {
    if (handles.length !== events.length) throw new RangeError('push: one event per handle');
    for (let i = 0; i < handles.length; i++) {
      const s = this.slotOf(handles[i]!);
      const ev = events[i]!;
      this.valid[s] = this.model.step(this.nodes, s * this.order, this.valid[s]!, this.tokenizer.firstId(ev, this.prev[s]), out, i);
      this.prev[s] = ev;
    }
    return out;
  }

  async push(handles: readonly StreamHandle[], events: readonly SyscallEvent[]): Promise<Float64Array> {
    return this.pushSync(handles, events);
  }

  async close(handles: readonly StreamHandle[], truncated?: readonly boolean[]): Promise<Float64Array> {
    const out = new Float64Array(handles.length);
    for (let i = 0; i < handles.length; i++) {
      const s = this.slotOf(handles[i]!);
      this.model.step(this.nodes, s * this.order, this.valid[s]!, truncated?.[i] ? TRUNCATE : END, out, i);
      this.drop(handles[i]!);
    }
    return out;
  }

  drop(handle: StreamHandle): void {
    const s = this.pool.close(handle);
    if (s >= 0) this.prev[s] = undefined;
  }

  async release(): Promise<void> {}
}
