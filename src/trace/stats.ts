/**
 * @module trace/stats
 * What is in a trace: every count the readers keep (records, entries, exits, pairs, unmatched, lost, skipped) plus
 * per-syscall and per-process counts and the time span. Computed in one streaming pass.
 */
import type { ReaderCounts, SyscallEvent, SyscallSource } from './event.js';

export interface TraceStats extends ReaderCounts {
  path: string;
  format: string;
  /** Calls per syscall name (a paired call counts once; a lone entry or exit counts once). */
  syscalls: Record<string, number>;
  /** Calls per process name ('' when unknown is shown as '?'). */
  processes: Record<string, number>;
  /** Distinct thread ids seen. */
  threads: number;
  /** First and last timestamps (ns, decimal strings: they exceed 2^53), and the span in seconds. */
  start: string | null;
  end: string | null;
  durationS: number;
  /** Event records per event name, for CTF sources (all events, syscall or not). */
  recordNames?: Record<string, number>;
}

/** A source that can hand out events in batches (faster than one at a time). */
interface Batched { batches(): AsyncIterable<SyscallEvent[]> }

function hasBatches(s: unknown): s is Batched {
  return typeof (s as Batched).batches === 'function';
}

async function* batchesOf(src: SyscallSource): AsyncIterable<SyscallEvent[]> {
  if (hasBatches(src)) { yield* src.batches(); return; }
  let b: SyscallEvent[] = [];
  for await (const ev of src) {
    b.push(ev);
    if (b.length === 4096) { yield b; b = []; }
  }
  if (b.length) yield b;
}

export async function computeStats(src: SyscallSource, onProgress?: (events: number) => void): Promise<TraceStats> {
  const syscalls = new Map<string, number>();
  const processes = new Map<string, number>();
  const threads = new Set<number>();
  let min: bigint | undefined;
  let max: bigint | undefined;
  for await (const batch of batchesOf(src)) {
    for (const ev of batch) {
      syscalls.set(ev.name, (syscalls.get(ev.name) ?? 0) + 1);
      const p = ev.proc || '?';
      processes.set(p, (processes.get(p) ?? 0) + 1);
      threads.add(ev.tid);
      const t0 = ev.ts;
      const t1 = ev.latency !== undefined ? ev.ts + BigInt(ev.latency) : ev.ts;
      if (min === undefined || t0 < min) min = t0;
      if (max === undefined || t1 > max) max = t1;
    }
    onProgress?.(src.counts.events);
  }
  const sorted = (m: Map<string, number>) => Object.fromEntries([...m].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])));
  const recordNames = (src as { recordNames?: Map<string, number> }).recordNames;
  return {
    path: src.path,
    format: src.format,
    ...src.counts,
    syscalls: sorted(syscalls),
    processes: sorted(processes),
    threads: threads.size,
    start: min === undefined ? null : min.toString(),
    end: max === undefined ? null : max.toString(),
    durationS: min === undefined || max === undefined ? 0 : Number(max - min) / 1e9,
    ...(recordNames ? { recordNames: sorted(recordNames) } : {}),
  };
}
