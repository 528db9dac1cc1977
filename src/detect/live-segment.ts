/**
 * @module detect/live-segment
 * Segmentation for live scoring: the same cuts as `features/sequences` (same sequence ids, same boundaries), but
 * told event by event — which sequence an event joins, when a sequence opens and when it ends — so that a scorer
 * can advance each open sequence as its events arrive.
 *
 * - `thread`, `trace`, `process`, `window`: re-stated here with the same rules as the batch segmenters
 *   (`features/sequences/simple.ts`; a test checks both cut real traces identically);
 * - `connection`: the batch segmenter's attribution engine (`ConnectionEngine`) with live hooks;
 * - `request`: a request's events are known only when it ends (events after the last response write are left out,
 *   worker requests are merged in by timestamp), so the batch segmenter runs unchanged and each finished request is
 *   told as open, its events, end — all at once. Prefix alerts therefore come only when a request ends.
 *
 * Length caps are the sink's business (`LiveSink.add` may refuse an event); the batch segmenters' caps apply to
 * `request` only, where they act first.
 */
import type { SyscallEvent } from '../trace/event.js';
import {
  ConnectionEngine, createSegmenter, emptySegmentCounts, type SegmentCounts, type Segmentation, type Segmenter, type Sequence,
} from '../features/sequences/index.js';
import type { Conn } from '../features/sequences/connection.js';

/** What a live segmenter tells, in stream order. `S` is the sink's per-sequence state. */
export interface LiveSink<S> {
  /** A sequence opens with this id (its first event follows in an `add`). */
  open(id: string, first: SyscallEvent): S;
  /** One more event of an open sequence. */
  add(seq: S, ev: SyscallEvent): void;
  /** The sequence ends; `truncated` when the batch segmenter cut it (request segmentation only). */
  end(seq: S, truncated: boolean): void;
}

export interface LiveSegmenter<S> {
  /** Events fed in, and events that belong to no sequence (`unassigned`); sequence counts are the sink's. */
  readonly counts: SegmentCounts;
  /** `live`: events reach their sequence as they arrive; false when sequences are told only once finished. */
  readonly live: boolean;
  push(ev: SyscallEvent, sink: LiveSink<S>): void;
  /** End of stream: ends every open sequence. */
  flush(sink: LiveSink<S>): void;
}

const threadKey = (ev: SyscallEvent): number => (ev.tid >= 0 ? ev.tid : ev.pid);
const isCall = (ev: SyscallEvent, name: string): boolean => ev.name === name && ev.phase !== 'exit';

/** Per thread, as `ThreadSegmenter` (`contiguous`: the `trace` segmentation). */
class LiveThreads<S> implements LiveSegmenter<S> {
  readonly counts = emptySegmentCounts();
  readonly live = true;
  private readonly open = new Map<number, { s: S; pid: number }>();
  private readonly threadsOf = new Map<number, Set<number>>();
  private readonly seen = new Map<number, number>();
  private last: number | undefined;

  constructor(private readonly contiguous: boolean) {}

  push(ev: SyscallEvent, sink: LiveSink<S>): void {
    this.counts.events++;
    const key = threadKey(ev);
    if (this.contiguous && this.last !== undefined && this.last !== key) this.end(this.last, sink);
    this.last = key;
    let e = this.open.get(key);
    if (e === undefined) {
      const k = this.seen.get(key) ?? 0;
      this.seen.set(key, k + 1);
      e = { s: sink.open(`tid:${key}#${k}`, ev), pid: ev.pid };
      this.open.set(key, e);
      let tids = this.threadsOf.get(ev.pid);
      if (!tids) this.threadsOf.set(ev.pid, (tids = new Set()));
      tids.add(key);
    }
    sink.add(e.s, ev);
    if (this.contiguous) return;
    if (isCall(ev, 'exit_group')) {
      for (const t of [...(this.threadsOf.get(ev.pid) ?? [])]) this.end(t, sink);
    } else if (isCall(ev, 'exit')) this.end(key, sink);
  }

  private end(key: number, sink: LiveSink<S>): void {
    const e = this.open.get(key);
    if (!e) return;
    this.open.delete(key);
    const tids = this.threadsOf.get(e.pid);
    if (tids) {
      tids.delete(key);
      if (tids.size === 0) this.threadsOf.delete(e.pid);
    }
    sink.end(e.s, false);
  }

  flush(sink: LiveSink<S>): void {
    for (const key of [...this.open.keys()]) this.end(key, sink);
    this.last = undefined;
  }
}

/** Per process, as `ProcessSegmenter`. */
class LiveProcesses<S> implements LiveSegmenter<S> {
  readonly counts = emptySegmentCounts();
  readonly live = true;
  private readonly open = new Map<number, S>();
  private readonly seen = new Map<number, number>();

  push(ev: SyscallEvent, sink: LiveSink<S>): void {
    this.counts.events++;
    const key = ev.pid >= 0 ? ev.pid : ev.tid;
    let s = this.open.get(key);
    if (s === undefined) {
      const k = this.seen.get(key) ?? 0;
      this.seen.set(key, k + 1);
      s = sink.open(`pid:${key}#${k}`, ev);
      this.open.set(key, s);
    }
    sink.add(s, ev);
    if (isCall(ev, 'exit_group')) {
      this.open.delete(key);
      sink.end(s, false);
    }
  }

  flush(sink: LiveSink<S>): void {
    for (const s of this.open.values()) sink.end(s, false);
    this.open.clear();
  }
}

/** Disjoint windows of `size` events, as `WindowSegmenter(size, size)`. */
class LiveWindows<S> implements LiveSegmenter<S> {
  readonly counts = emptySegmentCounts();
  readonly live = true;
  private cur: S | undefined;
  private n = 0;
  private index = 0;

  constructor(private readonly size: number) {}

  push(ev: SyscallEvent, sink: LiveSink<S>): void {
    this.counts.events++;
    if (this.cur === undefined) this.cur = sink.open(`win:${this.index++}`, ev);
    sink.add(this.cur, ev);
    if (++this.n === this.size) this.flush(sink);
  }

  flush(sink: LiveSink<S>): void {
    if (this.cur !== undefined) sink.end(this.cur, false);
    this.cur = undefined;
    this.n = 0;
  }
}

/** Per server connection: the batch segmenter's attribution, told live. */
class LiveConnections<S> extends ConnectionEngine<{ s: S | undefined }> implements LiveSegmenter<S> {
  readonly live = true;
  private sink: LiveSink<S> | undefined;
  private readonly none: Sequence[] = [];

  protected initData(): { s: S | undefined } {
    return { s: undefined };
  }

  protected opened(conn: Conn<{ s: S | undefined }>, ev: SyscallEvent): void {
    conn.data.s = this.sink!.open(`conn:${conn.id}`, ev);
    this.sink!.add(conn.data.s, ev);
  }

  protected event(conn: Conn<{ s: S | undefined }>, ev: SyscallEvent): void {
    this.sink!.add(conn.data.s!, ev);
  }

  protected closed(conn: Conn<{ s: S | undefined }>): void {
    this.sink!.end(conn.data.s!, false);
  }

  // `Segmenter.push(ev, out)` and `LiveSegmenter.push(ev, sink)` share a name: the sink is stashed for the hooks.
  override push(ev: SyscallEvent, sink: LiveSink<S> | Sequence[]): void {
    if (Array.isArray(sink)) throw new TypeError('LiveConnections is told through a LiveSink');
    this.sink = sink;
    super.push(ev, this.none);
  }

  override flush(sink: LiveSink<S> | Sequence[]): void {
    if (Array.isArray(sink)) throw new TypeError('LiveConnections is told through a LiveSink');
    this.sink = sink;
    super.flush(this.none);
  }
}

/** Any batch segmenter, each finished sequence told at once (open, its events, end). */
class WhenFinished<S> implements LiveSegmenter<S> {
  readonly live = false;
  private readonly out: Sequence[] = [];

  constructor(private readonly seg: Segmenter) {}

  get counts(): SegmentCounts {
    return this.seg.counts;
  }

  private tell(sink: LiveSink<S>): void {
    for (const q of this.out) {
      if (q.events.length === 0) continue;
      const s = sink.open(q.id, q.events[0]!);
      for (const ev of q.events) sink.add(s, ev);
      sink.end(s, q.truncated === true);
    }
    this.out.length = 0;
  }

  push(ev: SyscallEvent, sink: LiveSink<S>): void {
    this.seg.push(ev, this.out);
    if (this.out.length > 0) this.tell(sink);
  }

  flush(sink: LiveSink<S>): void {
    this.seg.flush(this.out);
    this.tell(sink);
  }
}

/** A live segmenter for a model's segmentation; `maxLength` is the window size for `window`, else the sink's cap. */
export function createLiveSegmenter<S>(kind: Segmentation, maxLength: number): LiveSegmenter<S> {
  switch (kind) {
    case 'thread': return new LiveThreads<S>(false);
    case 'trace': return new LiveThreads<S>(true);
    case 'process': return new LiveProcesses<S>();
    case 'window': return new LiveWindows<S>(maxLength);
    case 'connection': return new LiveConnections<S>();
    case 'request': return new WhenFinished<S>(createSegmenter('request', maxLength));
  }
}
