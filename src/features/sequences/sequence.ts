/**
 * @module features/sequences/sequence
 * The sequence type every segmenter emits, the counters they keep, the push-style segmenter contract with its
 * async wrapper, and helpers that read a file descriptor / return value from an event whatever the source
 * (LTTng/perf: numeric `fd`, `ret`; strace: `fd` possibly as `"4<TCP:[...]>"` with `-yy`, or positional args).
 */
import type { FieldValue, SyscallEvent } from '../../trace/event.js';

/** A finished unit of behaviour: a thread's life, a connection, a request, a window… */
export interface Sequence {
  /** Stable, human-readable name, e.g. `tid:42#0`, `req:1234:5#2`. */
  id: string;
  /** Events in stream order, at most the segmenter's cap. */
  events: SyscallEvent[];
  /** True when events beyond the cap were dropped. */
  truncated?: boolean;
}

/** What a segmenter did with its input; final once the stream ends. */
export interface SegmentCounts {
  /** Events fed in. */
  events: number;
  /** Sequences emitted. */
  sequences: number;
  /** Sequences that hit the length cap. */
  truncated: number;
  /** Events dropped because their sequence was already at the cap. */
  droppedByCap: number;
  /** Events that belong to no sequence (outside any connection / request, between two requests). */
  unassigned: number;
  /** Worker requests attached to a server request (request segmenter only). */
  linkedWorkers: number;
  /** Worker requests that could have belonged to several waiting server requests, left standalone. */
  ambiguousWorkers: number;
}

export function emptySegmentCounts(): SegmentCounts {
  return { events: 0, sequences: 0, truncated: 0, droppedByCap: 0, unassigned: 0, linkedWorkers: 0, ambiguousWorkers: 0 };
}

/** A push-style segmenter: feed events in stream order, collect finished sequences; `flush` at end of stream. */
export interface Segmenter {
  readonly counts: SegmentCounts;
  push(ev: SyscallEvent, out: Sequence[]): void;
  flush(out: Sequence[]): void;
}

/** Sequences as an async iterable, with the segmenter's counts (final once iteration ends). */
export interface SequenceStream extends AsyncIterable<Sequence> {
  readonly counts: SegmentCounts;
}

/** Runs a push-style segmenter over an event stream, yielding each sequence as soon as it is finished. */
export function streamSequences(events: AsyncIterable<SyscallEvent>, seg: Segmenter): SequenceStream {
  return {
    counts: seg.counts,
    async *[Symbol.asyncIterator]() {
      const out: Sequence[] = [];
      for await (const ev of events) {
        seg.push(ev, out);
        if (out.length) {
          for (const s of out) yield s;
          out.length = 0;
        }
      }
      seg.flush(out);
      for (const s of out) yield s;
    },
  };
}

/** Runs a push-style segmenter over an in-memory array (tests, small inputs). */
export function segmentAll(events: Iterable<SyscallEvent>, seg: Segmenter): Sequence[] {
  const out: Sequence[] = [];
  for (const ev of events) seg.push(ev, out);
  seg.flush(out);
  return out;
}

/** A growing sequence that stops at `maxLen` and counts what it drops. */
export class CappedSequence {
  readonly events: SyscallEvent[] = [];
  truncated = false;

  constructor(readonly id: string, private readonly maxLen: number, private readonly counts: SegmentCounts) {}

  add(ev: SyscallEvent): void {
    if (this.events.length < this.maxLen) this.events.push(ev);
    else {
      this.truncated = true;
      this.counts.droppedByCap++;
    }
  }

  finish(out: Sequence[]): void {
    this.counts.sequences++;
    if (this.truncated) this.counts.truncated++;
    out.push(this.truncated ? { id: this.id, events: this.events, truncated: true } : { id: this.id, events: this.events });
  }
}

export function checkMaxLen(maxLen: number): void {
  if (!Number.isInteger(maxLen) || maxLen < 1) throw new RangeError(`sequence cap must be a positive integer, got ${maxLen}`);
}

// ---------------------------------------------------------------------------------------------------------------
// Reading descriptors and return values from events of any source.

/** Leading integer of a value: 4, 4n, "4", "4<TCP:[...]>" → 4; anything else → undefined. */
export function leadingInt(v: FieldValue | undefined): number | undefined {
  if (typeof v === 'number') return Number.isInteger(v) ? v : undefined;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'string') {
    const m = /^\s*(-?\d+)(?:<|\s*$)/.exec(v);
    return m ? Number(m[1]) : undefined;
  }
  return undefined;
}

/** The `<...>` decoration strace `-y`/`-yy` puts after a descriptor, e.g. `TCP:[127.0.0.1:80->127.0.0.1:5000]`. */
export function fdDecoration(v: FieldValue | undefined): string | undefined {
  if (typeof v !== 'string') return undefined;
  const m = /^\s*-?\d+<(.*)>\s*$/.exec(v);
  return m ? m[1] : undefined;
}

/** Argument names that carry the descriptor a call works on, in order of preference. */
const FD_ARG_NAMES = ['fd', 'sockfd', 'out_fd'] as const;

/** Calls whose first argument is a descriptor: only for these is a positional (unnamed) first argument read as one. */
const FD_FIRST_CALLS: ReadonlySet<string> = new Set([
  'read', 'readv', 'pread64', 'preadv', 'preadv2', 'write', 'writev', 'pwrite64', 'pwritev', 'pwritev2',
  'recv', 'recvfrom', 'recvmsg', 'recvmmsg', 'send', 'sendto', 'sendmsg', 'sendmmsg', 'sendfile', 'sendfile64',
  'accept', 'accept4', 'connect', 'bind', 'listen', 'shutdown', 'close', 'getsockname', 'getpeername',
  'setsockopt', 'getsockopt', 'fcntl', 'fcntl64', 'ioctl', 'fstat', 'fstat64', 'newfstat', 'newfstatat', 'fsync',
  'fdatasync', 'lseek', 'llseek', '_llseek', 'splice', 'getdents', 'getdents64', 'ftruncate', 'fchmod', 'fchown',
  'flock', 'dup', 'dup2', 'dup3',
]);

/** The raw field that holds the descriptor argument, if any. */
export function fdField(ev: SyscallEvent): FieldValue | undefined {
  const a = ev.args;
  for (const k of FD_ARG_NAMES) if (a[k] !== undefined) return a[k];
  if (!FD_FIRST_CALLS.has(ev.name)) return undefined;
  if (a.arg0 !== undefined) return a.arg0;
  if (a['0'] !== undefined) return a['0'];
  const list = a.args;
  if (Array.isArray(list) && list.length > 0) return list[0];
  return undefined;
}

/** The descriptor a call works on (first argument), or undefined when the event carries none. */
export function fdOf(ev: SyscallEvent): number | undefined {
  return leadingInt(fdField(ev));
}

/** The return value as a number, or undefined when the event carries none (entries) or it is not numeric. */
export function retOf(ev: SyscallEvent): number | undefined {
  const r = ev.ret;
  if (r === undefined) return undefined;
  return typeof r === 'bigint' ? Number(r) : r;
}

/**
 * The strace `-y`/`-yy` decoration of the descriptor argument, e.g. `TCP:[127.0.0.1:80->127.0.0.1:5000]`: from the
 * reader's `args.path` (our strace reader) or from a still-decorated argument text (`"4<TCP:[...]>"`).
 */
export function fdLabel(ev: SyscallEvent): string | undefined {
  const f = fdField(ev);
  if (f === undefined) return undefined;
  const p = ev.args.path;
  return typeof p === 'string' && p !== '' ? p : fdDecoration(f);
}

/** The strace decoration of the returned descriptor (`accept4(...) = 4<TCP:[...]>`), when the reader kept it. */
export function retDecoration(ev: SyscallEvent): string | undefined {
  const p = ev.args.retPath;
  if (typeof p === 'string' && p !== '') return p;
  return fdDecoration(ev.args.ret);
}
