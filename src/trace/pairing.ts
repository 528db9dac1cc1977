/**
 * @module trace/pairing
 * Joins syscall entries and exits of the same thread into `complete` events with latency, counting what cannot be
 * joined. Shared by every source that sees entries and exits separately (LTTng, perf, strace `unfinished`/`resumed`).
 *
 * Order: a `complete` event is emitted when its exit arrives and carries the entry's timestamp, so output is in exit
 * order. Unmatched entries are emitted (as `entry`) at `flush()`; unmatched exits pass through as `exit`.
 * The entry object itself becomes the `complete` event (its exit's arguments added): sources hand over ownership.
 */
import { NO_ARGS, type ReaderCounts, type SyscallEvent } from './event.js';

/** Calls that never return to the caller, so their entry has no exit. */
export const NO_EXIT_CALLS: ReadonlySet<string> = new Set(['exit', 'exit_group']);
/** Calls that return twice: once in the parent, once in the new child thread (which made no entry). */
export const CLONE_CALLS: ReadonlySet<string> = new Set(['clone', 'clone3', 'fork', 'vfork']);

/** Thread ids below this index a dense array; larger (or negative) ones a Map. Linux's pid_max is at most 2^22. */
const DENSE_TIDS = 1 << 22;

/** Open entries by thread id: a dense array (grown by doubling) for ordinary tids — a Map look-up per event was the
 * pairing's main cost — and a Map for the rest. */
class OpenEntries {
  private dense: Array<SyscallEvent | undefined> = new Array(1024).fill(undefined);
  private readonly sparse = new Map<number, SyscallEvent>();

  get(tid: number): SyscallEvent | undefined {
    return tid >= 0 && tid < DENSE_TIDS ? this.dense[tid] : this.sparse.get(tid);
  }

  set(tid: number, ev: SyscallEvent | undefined): void {
    if (tid >= 0 && tid < DENSE_TIDS) {
      if (tid >= this.dense.length) {
        let n = this.dense.length;
        while (n <= tid) n *= 2;
        const grown = new Array<SyscallEvent | undefined>(n).fill(undefined);
        for (let i = 0; i < this.dense.length; i++) grown[i] = this.dense[i];
        this.dense = grown;
      }
      this.dense[tid] = ev;
    } else if (ev) this.sparse.set(tid, ev);
    else this.sparse.delete(tid);
  }

  /** Takes every open entry out. */
  drain(): SyscallEvent[] {
    const out: SyscallEvent[] = [];
    for (let i = 0; i < this.dense.length; i++) {
      const ev = this.dense[i];
      if (ev) { out.push(ev); this.dense[i] = undefined; }
    }
    out.push(...this.sparse.values());
    this.sparse.clear();
    return out;
  }
}

export class SyscallPairer {
  /** Open entry per thread. A thread is in at most one syscall at a time. */
  private readonly open = new OpenEntries();

  constructor(private readonly counts: ReaderCounts) {}

  /**
   * Feeds one entry or exit; returns the events to emit now (0, 1 or 2 of them).
   * `complete` events are passed through untouched.
   */
  push(ev: SyscallEvent, out: SyscallEvent[]): void {
    if (ev.phase === 'entry') {
      if (NO_EXIT_CALLS.has(ev.name)) {
        this.counts.noExitCalls++;
        out.push(ev);
        return;
      }
      const prev = this.open.get(ev.tid);
      if (prev) {
        // The previous entry of this thread never saw its exit (lost events, or a tracer gap).
        this.counts.unmatchedEntries++;
        out.push(prev);
      }
      this.open.set(ev.tid, ev);
      return;
    }
    if (ev.phase === 'exit') {
      const entry = this.open.get(ev.tid);
      if (entry && (entry.name === ev.name || ev.name === '' || ev.name === 'unknown')) {
        this.open.set(ev.tid, undefined);
        this.counts.completed++;
        if (entry.pid < 0) entry.pid = ev.pid;
        if (!entry.proc) entry.proc = ev.proc;
        entry.phase = 'complete';
        // The exit's arguments (output parameters) join the entry's; most exits have none.
        const exitArgs = ev.args;
        if (exitArgs !== NO_ARGS) {
          if (entry.args === NO_ARGS) entry.args = exitArgs;
          else for (const k in exitArgs) entry.args[k] = exitArgs[k]!;
        }
        entry.ret = ev.ret;
        entry.latency = Number(ev.ts - entry.ts);
        out.push(entry);
        return;
      }
      if (CLONE_CALLS.has(ev.name)) this.counts.cloneChildExits++;
      else this.counts.unmatchedExits++;
      out.push(ev);
      return;
    }
    out.push(ev);
  }

  /** Emits the entries still open at end of stream, counted as unmatched. */
  flush(out: SyscallEvent[]): void {
    for (const ev of this.open.drain()) {
      this.counts.unmatchedEntries++;
      out.push(ev);
    }
  }
}
