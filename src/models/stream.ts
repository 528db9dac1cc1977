/**
 * @module models/stream
 * Incremental scoring, for live use (`watch`, `serve`): a model keeps a state per open sequence (the LSTM its hidden
 * and cell state, attention models a key/value cache — windowed for the Longformer, the n-gram its last n − 1
 * tokens), so that one more event costs O(1) / O(w) instead of a rescoring of the prefix.
 *
 * Contract (tested for every model that offers it): for a sequence `<s> e1 … eT </s>`, opening it, pushing e1 … eT
 * (in any interleaving with other sequences, in batches of any size) and closing it yields exactly the values
 * `logProbsMany` gives for that sequence, within 1e-5: push returns ln P(e_t | <s> e1 … e_{t−1}) per event, close
 * returns ln P(</s> or <trunc> | the whole prefix). Each handle appears at most once per `push` call.
 */
import type { SyscallEvent } from '../trace/event.js';

/** One open sequence inside an incremental scorer (opaque to callers). */
export interface StreamHandle {
  readonly id: number;
}

export interface IncrementalScorer {
  /** Opens a new sequence (its start token is consumed). */
  open(): StreamHandle;
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
