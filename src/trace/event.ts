/**
 * @module trace/event
 * The one event type that crosses the `trace/` boundary, and the reader contract every source follows.
 */

/** Where a syscall event sits in its call: the entry, the exit, or both already paired (`complete`). */
export type Phase = 'entry' | 'exit' | 'complete';

/** A decoded field value. 64-bit integers that do not fit a double exactly are bigint. */
export type FieldValue = number | bigint | string | boolean | null | FieldValue[] | { [name: string]: FieldValue };

/**
 * One system-call event, whatever the source.
 * - `ts` is nanoseconds since the Unix epoch (or since trace start when the source has no absolute clock), as bigint so that ns survive.
 * - `pid`/`tid` are -1 and `proc` is '' when the source does not know them.
 * - `ret` is set on `exit` and `complete`; `latency` (ns) on `complete` only.
 */
export interface SyscallEvent {
  ts: bigint;
  cpu: number;
  pid: number;
  tid: number;
  proc: string;
  name: string;
  phase: Phase;
  args: Record<string, FieldValue>;
  ret?: number | bigint;
  latency?: number;
}

/** Counters every reader keeps, so nothing is dropped silently. */
export interface ReaderCounts {
  /** Every event record read from the source (CTF event records, strace lines that are events, JSONL records…). */
  events: number;
  /** Syscall entry events seen (before pairing). */
  syscallEntries: number;
  /** Syscall exit events seen (before pairing). */
  syscallExits: number;
  /** Entry+exit pairs joined into `complete` events. */
  completed: number;
  /** Entries that never got an exit (other than the known no-exit calls) at end of stream. */
  unmatchedEntries: number;
  /** Exits with no entry before them (e.g. the trace started inside the call). */
  unmatchedExits: number;
  /** Entries of calls that by design return no exit (`exit`, `exit_group`). */
  noExitCalls: number;
  /** Second exits of `clone`/`fork`/`vfork`/`clone3`: the child's return, on a thread that made no entry. */
  cloneChildExits: number;
  /** Events lost by the tracer (CTF `events_discarded`, perf LOST records). */
  lost: number;
  /** Records the reader skipped because it could not decode them (only under `--lenient`). */
  skipped: number;
  /** Non-syscall event records (scheduler, irq…). */
  otherEvents: number;
}

/**
 * The shared, frozen argument object of events that carry no arguments (most syscall exits: only `ret`). Readers
 * may hand it out instead of a fresh `{}`; code that adds arguments replaces it rather than writing into it.
 */
export const NO_ARGS: Readonly<Record<string, FieldValue>> = Object.freeze({});

export function emptyCounts(): ReaderCounts {
  return {
    events: 0, syscallEntries: 0, syscallExits: 0, completed: 0, unmatchedEntries: 0, unmatchedExits: 0,
    noExitCalls: 0, cloneChildExits: 0, lost: 0, skipped: 0, otherEvents: 0,
  };
}

/**
 * A source of syscall events: an async iterable with bounded memory, plus counts that are final once iteration ends.
 * `format` names what was detected (e.g. 'ctf-lttng', 'ctf-perf', 'strace', 'adfa', 'jsonl').
 */
export interface SyscallSource extends AsyncIterable<SyscallEvent> {
  readonly format: string;
  readonly path: string;
  readonly counts: ReaderCounts;
}

/**
 * How a source presents syscalls.
 * - `raw`: entries and exits as separate events, as recorded.
 * - `paired`: entries are held until their exit and emitted once as `complete` (with latency); unmatched ones are
 *   emitted as they are at end of stream and counted.
 */
export type PairingMode = 'raw' | 'paired';
