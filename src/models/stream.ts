/**
 * @module models/stream
 * Incremental scoring, for live use (`watch`, `serve`): a model keeps a state per open sequence (the LSTM its hidden
 * and cell state, attention models a key/value cache — windowed for the Longformer, the n-gram its last n − 1
 * tokens, the models of whole sequences — timing, profile — their running sums in a `WholeSequenceScorer`), so that
 * one more event costs O(1) / O(w) instead of a rescoring of the prefix.
 *
 * Contract (tested for every model that offers it): for a sequence `<s> e1 … eT </s>`, opening it, pushing e1 … eT
 * (in any interleaving with other sequences, in batches of any size) and closing it yields exactly the values
 * `logProbsMany` gives for that sequence, within 1e-5: push returns ln P(e_t | <s> e1 … e_{t−1}) per event, close
 * returns ln P(</s> or <trunc> | the whole prefix). Each handle appears at most once per `push` call.
 */
import type { Sequence } from '../features/sequences/sequence.js';
import type { SyscallEvent } from '../trace/event.js';
import type { SequenceFact } from './language-model.js';

/** One open sequence inside an incremental scorer (opaque to callers). */
export interface StreamHandle {
  readonly id: number;
}

export interface IncrementalScorer {
  /**
   * Opens a new sequence (its start token is consumed). `id`: the sequence's id, for scorers that remember something
   * across the sequences of a connection (an ensemble with a `--history` member); the others ignore it.
   */
  open(id?: string): StreamHandle;
  /**
   * Appends one event to each of the given open sequences (distinct handles), scored together in one model run;
   * resolves to ln P(event | that sequence's prefix) for each, in the order given, and advances their states.
   */
  push(handles: readonly StreamHandle[], events: readonly SyscallEvent[]): Promise<Float64Array>;
  /**
   * Ends the given sequences: resolves to ln P(end token | prefix) for each (the truncate token where
   * `truncated[i]` is true), then frees their state.
   */
  close(handles: readonly StreamHandle[], truncated?: readonly boolean[]): Promise<Float64Array>;
  /** Frees a sequence's state without scoring its end. */
  drop(handle: StreamHandle): void;
  /**
   * Models of whole sequences (timing, profile): what they measured of a sequence against normal — the
   * `LanguageModel.sequenceFacts` of its events — for alerts: of an open sequence so far, or of one the latest `close`
   * call ended (so that only those found novel need it). Absent for other scorers.
   */
  facts?(handle: StreamHandle): SequenceFact[];
  /** Sequences open now. */
  readonly openCount: number;
  /** Frees what the scorer holds (onnxruntime sessions); it must not be used afterwards. */
  release(): Promise<void>;
}

/** A language model that can score incrementally (see `LanguageModel.incremental`). */
export interface IncrementalCapable {
  /** A new incremental scorer over this model's weights (independent of other scorers). */
  incremental(): IncrementalScorer;
}

/** A handle of a {@link SlotPool}: its sequence's slot, −1 once closed or dropped. */
interface SlotHandle extends StreamHandle {
  slot: number;
}

/**
 * Slot bookkeeping for incremental scorers that keep each open sequence's state in slot i of flat arrays (the LSTM's
 * h and c, the n-gram's trie nodes): hands out handles, reuses the slots of closed sequences, counts open ones. A
 * slot from `open()` is either a freed one or the next new one (one past every slot handed out before), so an owner
 * grows its arrays when `slot >= capacity`.
 */
/** A copy of `a` with room for `n` values (the first `a.length` kept): a slot owner's per-slot array, grown. */
export function grownArray<A extends Int32Array | Float32Array>(a: A, n: number): A {
  const out = new (a.constructor as { new (n: number): A })(n);
  out.set(a);
  return out;
}

export class SlotPool {
  private readonly free: number[] = [];
  private slots = 0;
  private nextId = 0;
  private open_ = 0;

  get openCount(): number {
    return this.open_;
  }

  open(): { handle: StreamHandle; slot: number } {
    const slot = this.free.pop() ?? this.slots++;
    this.open_++;
    const handle: SlotHandle = { id: this.nextId++, slot };
    return { handle, slot };
  }

  /** The slot of an open handle; RangeError when it is closed. */
  slotOf(h: StreamHandle): number {
    const s = (h as SlotHandle).slot;
    if (s === undefined || s < 0) throw new RangeError(`stream ${h.id} is not open`);
    return s;
  }

  /** Frees the handle's slot and returns it (−1, doing nothing, when it was already closed). */
  close(h: StreamHandle): number {
    const handle = h as SlotHandle;
    const s = handle.slot;
    if (s === undefined || s < 0) return -1;
    this.free.push(s);
    handle.slot = -1;
    this.open_--;
    return s;
  }
}

/** A model of whole sequences' log-probability of the end token of T events with surprise S: −S · (T + 1). */
export function endLogProb(events: number, surprise: number): number {
  return -surprise * (events + 1);
}

/**
 * `logProbsMany` of a model of whole sequences (timing, profile): per sequence `[T + 1]`, every event 0 and the end
 * token `endLogProb` — so its perplexity, exp(mean surprise per token), is exp(S) whatever the length.
 */
export function wholeSequenceLogProbs(seqs: readonly Sequence[], surprise: (seq: Sequence) => number): Float64Array[] {
  return seqs.map((seq) => {
    const out = new Float64Array(seq.events.length + 1); // [T + 1]
    out[seq.events.length] = endLogProb(seq.events.length, surprise(seq));
    return out;
  });
}

/**
 * The incremental scorer of a model that scores whole sequences (timing, profile): per open sequence a state that
 * each event is added to (`add`); every event scores 0, and closing a sequence of T events gives its end token
 * −S · (T + 1), S = `surprise(state)` — so its perplexity is exp(S), as the model's `logProbsMany` gives it.
 */
export class WholeSequenceScorer<S> implements IncrementalScorer {
  private readonly pool = new SlotPool();
  private states: (S | undefined)[] = [];
  private counts = new Int32Array(16);

  /** With `factsOf`: the states of the sequences the latest `close` call ended, by handle id (for `facts`). */
  private readonly closed?: Map<number, S>;
  /** `LanguageModel.sequenceFacts` of an open sequence or one the latest `close` ended, when the model gives `factsOf`. */
  readonly facts?: (handle: StreamHandle) => SequenceFact[];

  constructor(private readonly fresh: () => S, private readonly add: (state: S, ev: SyscallEvent) => void,
    private readonly surprise: (state: S) => number, factsOf?: (state: S) => SequenceFact[]) {
    if (factsOf) {
      const closed = (this.closed = new Map());
      this.facts = (h) => factsOf(closed.get(h.id) ?? this.states[this.pool.slotOf(h)]!);
    }
  }

  get openCount(): number {
    return this.pool.openCount;
  }

  open(): StreamHandle {
    const { handle, slot } = this.pool.open();
    if (slot >= this.counts.length) this.counts = grownArray(this.counts, 2 * (slot + 1));
    this.states[slot] = this.fresh();
    this.counts[slot] = 0;
    return handle;
  }

  async push(handles: readonly StreamHandle[], events: readonly SyscallEvent[]): Promise<Float64Array> {
    for (let i = 0; i < handles.length; i++) {
      const slot = this.pool.slotOf(handles[i]!);
      this.add(this.states[slot]!, events[i]!);
      this.counts[slot]!++;
    }
    return new Float64Array(handles.length);
  }

  async close(handles: readonly StreamHandle[]): Promise<Float64Array> {
    const out = new Float64Array(handles.length);
    this.closed?.clear();
    handles.forEach((h, i) => {
      const slot = this.pool.slotOf(h);
      out[i] = endLogProb(this.counts[slot]!, this.surprise(this.states[slot]!));
      this.closed?.set(h.id, this.states[slot]!);
      this.states[slot] = undefined;
      this.pool.close(h);
    });
    return out;
  }

  drop(handle: StreamHandle): void {
    this.states[this.pool.slotOf(handle)] = undefined;
    this.pool.close(handle);
  }

  async release(): Promise<void> {}
}
