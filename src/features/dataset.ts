/**
 * @module features/dataset
 * The `<data>` argument of the language-model commands, turned into a stream of sequences.
 *
 * - Any trace `openTrace` reads (CTF folder, strace text, ADFA-LD zip / folder / file, JSONL), cut into sequences by
 *   the segmentation the model says (per thread by default) with its maximum length.
 * - An ADFA-LD subset, written `path/to/ADFA-LD.zip:Training_Data_Master` (or `:Validation_Data_Master`,
 *   `:Attack_Data_Master`, `:Attack_Data_Master/Adduser_1`, one trace `:Attack_Data_Master/Adduser_1/UAD-….txt`);
 *   a last part that names an attack kind (`:Attack_Data_Master/Hydra_FTP`) takes all of its numbered folders.
 *   Each ADFA-LD trace is one sequence, whose id is its path in the dataset; the path before `:` may be the zip or
 *   the unpacked folder.
 *
 * Every pass reads the data again, streaming: memory holds the sequences being built (and, for ADFA-LD, a few
 * traces read ahead), never the whole data. Each pass records what it read (`summary()`): sequences, events,
 * truncations, events lost by the tracer or skipped as damaged.
 */
import { stat } from 'node:fs/promises';
import { iterateAdfaTraces } from '../trace/adfa/adfa.js';
import { TraceError } from '../trace/errors.js';
import type { PairingMode, SyscallEvent } from '../trace/event.js';
import { openTrace } from '../trace/open.js';
import { segment, type Segmentation } from './sequences/index.js';
import type { Sequence } from './sequences/sequence.js';

/** What one data argument gave. */
export interface DataSummary {
  /** The argument as given (`path` or `ADFA-LD.zip:Training_Data_Master`). */
  data: string;
  /** Detected trace format (`adfa`, `ctf-lttng`, `strace`, `jsonl`…). */
  format: string;
  sequences: number;
  events: number;
  /** Sequences cut at the maximum length, and the events that cut dropped. */
  truncated: number;
  droppedByCap: number;
  /** Events the tracer lost, records skipped under --lenient, events outside any sequence. */
  lost: number;
  skipped: number;
  unassigned: number;
}

export type DataSpec =
  | { kind: 'trace'; arg: string; path: string }
  | { kind: 'adfa'; arg: string; path: string; subset: string };

export const ADFA_SETS = ['Training_Data_Master', 'Validation_Data_Master', 'Attack_Data_Master'] as const;

const ADFA_SUBSET = /^(.+):((?:Training|Validation|Attack)_Data_Master(?:\/[^:]*)?)$/;

/** Reads a data argument: `path:<ADFA-LD set>[/folder…]` is an ADFA-LD subset, anything else a trace path. */
export function parseDataArg(arg: string): DataSpec {
  const m = ADFA_SUBSET.exec(arg);
  if (m) return { kind: 'adfa', arg, path: m[1], subset: m[2].replace(/\/+$/, '') };
  return { kind: 'trace', arg, path: arg };
}

/** How to cut a trace into sequences and present its syscalls (ADFA-LD subsets: one sequence per trace, always). */
export interface Reading {
  segmentation: Segmentation;
  maxLength: number;
  pairing: PairingMode;
  /** Skip damaged records of CTF / strace / JSONL traces (counted) instead of failing. */
  lenient: boolean;
}

export interface DataSource extends AsyncIterable<Sequence> {
  readonly spec: DataSpec;
  /** What the last pass read (a pass stopped early gives what it had read so far). */
  summary(): DataSummary;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Which ADFA-LD trace paths a subset takes: the path itself, everything below it, or — when its last part names an
 * attack kind — everything below `<kind>_<n>` folders beside it. Every match starts with the subset text, so the
 * matches of a sorted listing are all within the range of paths that start with it.
 */
export function adfaSubsetMatcher(subset: string): (path: string) => boolean {
  const parts = subset.split('/');
  const last = parts[parts.length - 1];
  const parent = parts.slice(0, -1).join('/');
  const numbered = new RegExp(`^${escapeRegExp(parent)}/${escapeRegExp(last)}_\\d+/`);
  return (path: string) => path === subset || path.startsWith(subset + '/') || (parts.length > 1 && numbered.test(path));
}

function newSummary(arg: string, format: string): DataSummary {
  return { data: arg, format, sequences: 0, events: 0, truncated: 0, droppedByCap: 0, lost: 0, skipped: 0, unassigned: 0 };
}

async function mustExist(path: string): Promise<void> {
  try {
    await stat(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new TraceError(path, 0, `cannot open: ${code === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`);
  }
}

/** The ADFA-LD traces of a subset, each one sequence (cut at `maxLength` events). */
async function* adfaSequences(spec: Extract<DataSpec, { kind: 'adfa' }>, maxLength: number, sum: DataSummary): AsyncGenerator<Sequence> {
  await mustExist(spec.path);
  const matches = adfaSubsetMatcher(spec.subset);
  for await (const t of iterateAdfaTraces(spec.path)) {
    const path = t.trace.path;
    if (!matches(path)) {
      if (path > spec.subset && !path.startsWith(spec.subset)) break; // sorted: past every possible match
      continue;
    }
    const n = Math.min(t.names.length, maxLength);
    const events: SyscallEvent[] = new Array(n);
    for (let i = 0; i < n; i++) {
      events[i] = { ts: BigInt(i), cpu: 0, pid: t.index, tid: t.index, proc: path, name: t.names[i], phase: 'entry', args: {} };
    }
    sum.sequences++;
    sum.events += t.names.length;
    if (t.names.length > maxLength) {
      sum.truncated++;
      sum.droppedByCap += t.names.length - maxLength;
      yield { id: path, events, truncated: true };
    } else {
      yield { id: path, events };
    }
  }
  if (sum.sequences === 0) {
    throw new TraceError(spec.path, 0, `no ADFA-LD traces under '${spec.subset}' (sets: ${ADFA_SETS.join(', ')})`);
  }
}

async function* traceSequences(spec: DataSpec, reading: Reading, sum: DataSummary): AsyncGenerator<Sequence> {
  const src = await openTrace(spec.path, reading.pairing, { lenient: reading.lenient, follow: false });
  sum.format = src.format;
  const seqs = segment(src, reading.segmentation, reading.maxLength);
  const sync = () => {
    sum.sequences = seqs.counts.sequences;
    sum.events = seqs.counts.events;
    sum.truncated = seqs.counts.truncated;
    sum.droppedByCap = seqs.counts.droppedByCap;
    sum.unassigned = seqs.counts.unassigned;
    sum.lost = src.counts.lost;
    sum.skipped = src.counts.skipped;
  };
  for await (const s of seqs) {
    sync();
    yield s;
  }
  sync();
}

/** The sequences of a data argument; every iteration is a new pass over the data. */
export function openData(spec: DataSpec, reading: Reading): DataSource {
  let last = newSummary(spec.arg, spec.kind === 'adfa' ? 'adfa' : 'unknown');
  return {
    spec,
    summary: () => ({ ...last }),
    [Symbol.asyncIterator](): AsyncIterator<Sequence> {
      const sum = newSummary(spec.arg, spec.kind === 'adfa' ? 'adfa' : 'unknown');
      last = sum;
      return spec.kind === 'adfa'
        ? adfaSequences(spec, reading.maxLength, sum)[Symbol.asyncIterator]()
        : traceSequences(spec, reading, sum)[Symbol.asyncIterator]();
    },
  };
}

/** Keeps the sequences whose position in the stream passes `keep` (e.g. every tenth one held out). */
export async function* filterByPosition(seqs: AsyncIterable<Sequence>, keep: (i: number) => boolean): AsyncGenerator<Sequence> {
  let i = 0;
  for await (const s of seqs) if (keep(i++)) yield s;
}
