/**
 * @module features/sequences/simple
 * The simple segmenters: one sequence per thread (tid), per process (pid), or per fixed window of N events.
 * A thread's sequence ends at its `exit` / its process's `exit_group`; for sources whose threads are contiguous (like
 * ADFA-LD, where each trace file is one tid and may hold its children's exits) only when another tid appears.
 * A process's sequence ends at `exit_group`; everything still open ends at end of stream.
 */
import type { SyscallEvent } from '../../trace/event.js';
import { CappedSequence, checkMaxLen, emptySegmentCounts, type Segmenter, type Sequence } from './sequence.js';

/** Key of a thread: tid, or pid when the source does not know tids. */
function threadKey(ev: SyscallEvent): number {
  return ev.tid >= 0 ? ev.tid : ev.pid;
}

function isExitEntryOrComplete(ev: SyscallEvent, name: string): boolean {
  return ev.name === name && ev.phase !== 'exit';
}

/** One sequence per thread. `contiguous`: a sequence ends when an event of another thread arrives, and only then. */
export class ThreadSegmenter implements Segmenter {
  readonly counts = emptySegmentCounts();
  private readonly open = new Map<number, CappedSequence>();
  /** pid → tids with an open sequence, to end them all on `exit_group`. */
  private readonly threadsOf = new Map<number, Set<number>>();
  private readonly seen = new Map<number, number>();
  private last: number | undefined;

  constructor(private readonly maxLen: number, private readonly contiguous: boolean) {
    checkMaxLen(maxLen);
  }

  push(ev: SyscallEvent, out: Sequence[]): void {
    this.counts.events++;
    const key = threadKey(ev);
    if (this.contiguous && this.last !== undefined && this.last !== key) this.end(this.last, out);
    this.last = key;
    let seq = this.open.get(key);
    if (!seq) {
      const k = this.seen.get(key) ?? 0;
      this.seen.set(key, k + 1);
      seq = new CappedSequence(`tid:${key}#${k}`, this.maxLen, this.counts);
      this.open.set(key, seq);
      let tids = this.threadsOf.get(ev.pid);
      if (!tids) this.threadsOf.set(ev.pid, (tids = new Set()));
      tids.add(key);
    }
    seq.add(ev);
    if (this.contiguous) return; // a contiguous thread may hold its children's exits (ADFA-LD traces do)
    if (isExitEntryOrComplete(ev, 'exit_group')) {
      for (const t of [...(this.threadsOf.get(ev.pid) ?? [])]) this.end(t, out);
    } else if (isExitEntryOrComplete(ev, 'exit')) this.end(key, out);
  }

  private end(key: number, out: Sequence[]): void {
    const seq = this.open.get(key);
    if (!seq) return;
    this.open.delete(key);
    const pid = seq.events[0].pid;
    const tids = this.threadsOf.get(pid);
    if (tids) {
      tids.delete(key);
      if (tids.size === 0) this.threadsOf.delete(pid);
    }
    seq.finish(out);
  }

  flush(out: Sequence[]): void {
    for (const key of [...this.open.keys()]) this.end(key, out);
    this.last = undefined;
  }
}

/** One sequence per process (pid; tid when the source knows no pid), ended by `exit_group`. */
export class ProcessSegmenter implements Segmenter {
  readonly counts = emptySegmentCounts();
  private readonly open = new Map<number, CappedSequence>();
  private readonly seen = new Map<number, number>();

  constructor(private readonly maxLen: number) {
    checkMaxLen(maxLen);
  }

  push(ev: SyscallEvent, out: Sequence[]): void {
    this.counts.events++;
    const key = ev.pid >= 0 ? ev.pid : ev.tid;
    let seq = this.open.get(key);
    if (!seq) {
      const k = this.seen.get(key) ?? 0;
      this.seen.set(key, k + 1);
      seq = new CappedSequence(`pid:${key}#${k}`, this.maxLen, this.counts);
      this.open.set(key, seq);
    }
    seq.add(ev);
    if (isExitEntryOrComplete(ev, 'exit_group')) {
      this.open.delete(key);
      seq.finish(out);
    }
  }

  flush(out: Sequence[]): void {
    for (const seq of this.open.values()) seq.finish(out);
    this.open.clear();
  }
}

/**
 * Fixed windows of `size` consecutive events of the whole stream, a new one every `stride` events
 * (`stride === size`: disjoint windows). A last, shorter window is emitted at end of stream only when it holds events
 * not covered by an earlier window.
 */
export class WindowSegmenter implements Segmenter {
  readonly counts = emptySegmentCounts();
  private buf: SyscallEvent[] = [];
  private index = 0;
  /** Events of `buf` not yet part of an emitted window (they are its last `fresh` entries). */
  private fresh = 0;

  constructor(private readonly size: number, private readonly stride: number) {
    checkMaxLen(size);
    if (!Number.isInteger(stride) || stride < 1 || stride > size) {
      throw new RangeError(`window stride must be an integer in 1..${size}, got ${stride}`);
    }
  }

  push(ev: SyscallEvent, out: Sequence[]): void {
    this.counts.events++;
    this.buf.push(ev);
    this.fresh++;
    if (this.buf.length === this.size) {
      this.emit(this.buf.slice(), out);
      this.buf = this.buf.slice(this.stride);
      this.fresh = 0;
    }
  }

  private emit(events: SyscallEvent[], out: Sequence[]): void {
    this.counts.sequences++;
    out.push({ id: `win:${this.index++}`, events });
  }

  flush(out: Sequence[]): void {
    if (this.fresh > 0) this.emit(this.buf, out);
    this.buf = [];
    this.fresh = 0;
  }
}
