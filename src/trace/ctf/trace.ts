/**
 * @module trace/ctf/trace
 * A CTF trace directory (or a folder of them, like an LTTng session folder with `kernel/` and `ust/`) → one stream
 * of event records merged by timestamp across all data streams. Events come in batches so that hot consumers loop
 * synchronously; ties keep stream order.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { TraceError } from '../errors.js';
import { readMetadata } from './metadata.js';
import { CompiledTrace, CtfStreamReader, type CtfEventRecord, type ReadMode, type StreamCounts } from './stream.js';
import type { TraceClass } from './types.js';

/** Total memory for read-ahead chunks, shared by all streams of a trace. */
const READ_AHEAD_BYTES = 32 << 20;

/** Finds the CTF trace directories at or below `path` (a directory holding a `metadata` file is one trace). */
export async function findCtfTraces(path: string): Promise<string[]> {
  const out: string[] = [];
  async function visit(dir: string, depth: number): Promise<void> {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (e) {
      throw new TraceError(dir, 0, `cannot read directory: ${(e as Error).message}`);
    }
    if (entries.some((e) => e.name === 'metadata' && (e.isFile() || e.isSymbolicLink()))) {
      out.push(dir);
      return;
    }
    if (depth > 8) return;
    for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      if (e.name.startsWith('.')) continue;
      // Symbolic links to folders are followed (the depth bound stops cycles).
      const isDir = e.isDirectory() || (e.isSymbolicLink() && (await stat(join(dir, e.name)).catch(() => undefined))?.isDirectory());
      if (isDir) await visit(join(dir, e.name), depth + 1);
    }
  }
  await visit(path, 0);
  return out;
}

/** One opened trace: its metadata and its stream files. */
export interface OpenedTrace {
  dir: string;
  cls: TraceClass;
  streams: CtfStreamReader[];
}

async function openTrace(dir: string, mode: ReadMode): Promise<OpenedTrace> {
  const cls = await readMetadata(dir);
  let compiled: CompiledTrace;
  try {
    compiled = new CompiledTrace(cls, join(dir, 'metadata'));
  } catch (e) {
    throw new TraceError(join(dir, 'metadata'), 0, (e as Error).message);
  }
  const files: string[] = [];
  for (const e of (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    if (e.name === 'metadata' || e.name.startsWith('.')) continue;
    const p = join(dir, e.name);
    if (e.isFile() || (e.isSymbolicLink() && (await stat(p)).isFile())) files.push(p);
  }
  const chunk = Math.max(64 << 10, Math.min(4 << 20, Math.floor(READ_AHEAD_BYTES / Math.max(1, files.length))));
  return { dir, cls, streams: files.map((f) => new CtfStreamReader(f, compiled, mode, chunk)) };
}

/** Aggregate counts over all streams. */
export function sumCounts(streams: readonly CtfStreamReader[]): StreamCounts {
  const t: StreamCounts = { events: 0, packets: 0, lost: 0, skippedPackets: 0, skippedBytes: 0 };
  for (const s of streams) {
    t.events += s.counts.events; t.packets += s.counts.packets; t.lost += s.counts.lost;
    t.skippedPackets += s.counts.skippedPackets; t.skippedBytes += s.counts.skippedBytes;
  }
  return t;
}

/**
 * Reads every CTF trace at or below `path`, merged by time.
 * Use `batches()` for speed, or iterate it for one record at a time.
 */
export class CtfReader implements AsyncIterable<CtfEventRecord> {
  traces: OpenedTrace[] = [];

  private constructor(readonly path: string, private readonly mode: ReadMode) {}

  static async open(path: string, mode: ReadMode): Promise<CtfReader> {
    const r = new CtfReader(path, mode);
    const dirs = await findCtfTraces(path);
    if (dirs.length === 0) throw new TraceError(path, 0, 'no CTF trace here (no metadata file at or below this folder)');
    for (const d of dirs) r.traces.push(await openTrace(d, mode));
    return r;
  }

  get streams(): CtfStreamReader[] {
    return this.traces.flatMap((t) => t.streams);
  }

  get counts(): StreamCounts {
    return sumCounts(this.streams);
  }

  /** Event records decoded so far per event name, over all traces. */
  recordCounts(): Map<string, number> {
    const m = new Map<string, number>();
    for (const t of this.traces) t.streams[0]?.trace.recordCounts(m);
    return m;
  }

  /**
   * Payload members this reader's consumer will not read: they are stepped over, never decoded into values, and left
   * out of every record's payload (e.g. perf's `perf_ip`, a kernel address, which would cost a bigint per record).
   * Call before reading.
   */
  leaveUnread(names: ReadonlySet<string>): void {
    for (const t of this.traces) for (const s of t.streams) s.trace.unreadPayload = names;
  }

  /** The trace environment of the first trace (hostname, domain, tracer name…). */
  get env(): TraceClass['env'] {
    return this.traces[0]?.cls.env ?? {};
  }

  async *[Symbol.asyncIterator](): AsyncIterator<CtfEventRecord> {
    for await (const b of this.batches()) yield* b;
  }

  /** Event records in time order, in batches of up to `max`. */
  async *batches(max = 4096): AsyncGenerator<CtfEventRecord[]> {
    const streams = this.streams;
    // Merge key: clock cycles when every stream shares one clock (the usual case), else ns as a double offset.
    const clocks = new Set(this.traces.map((t) => [...t.cls.clocks.values()].map((c) => `${c.freq}/${c.offsetSeconds}/${c.offsetCycles}`).join(',')));
    const byCycles = clocks.size === 1 && this.traces.every((t) => t.cls.clocks.size <= 1);
    let base: bigint | undefined;
    const key = (e: CtfEventRecord): number => {
      if (byCycles) return e.cycles;
      if (base === undefined) base = e.ts;
      return Number(e.ts - base);
    };
    const heads: Array<CtfEventRecord | undefined> = new Array(streams.length);
    const keys = new Float64Array(streams.length);
    const heap: number[] = [];
    const less = (a: number, b: number) => keys[a]! < keys[b]! || (keys[a] === keys[b] && a < b);
    const siftUp = (i: number) => {
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (!less(heap[i]!, heap[p]!)) break;
        [heap[i], heap[p]] = [heap[p]!, heap[i]!];
        i = p;
      }
    };
    const siftDown = (i: number) => {
      const n = heap.length;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < n && less(heap[l]!, heap[m]!)) m = l;
        if (r < n && less(heap[r]!, heap[m]!)) m = r;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m]!, heap[i]!];
        i = m;
      }
    };
    /** Advances stream i to its next event, loading packets as needed; false at its end. */
    const refill = async (i: number): Promise<boolean> => {
      const s = streams[i]!;
      for (;;) {
        const ev = s.nextEvent();
        if (ev) { heads[i] = ev; keys[i] = key(ev); return true; }
        if (!(await s.loadPacket())) { heads[i] = undefined; await s.close(); return false; }
      }
    };
    try {
      for (let i = 0; i < streams.length; i++) {
        await streams[i]!.open();
        if (await refill(i)) { heap.push(i); siftUp(heap.length - 1); }
      }
      const pending: number[] = [];
      while (heap.length > 0) {
        const batch: CtfEventRecord[] = [];
        while (heap.length > 0 && batch.length < max) {
          const i = heap[0]!;
          batch.push(heads[i]!);
          const ev = streams[i]!.nextEvent();
          if (ev) {
            heads[i] = ev;
            keys[i] = key(ev);
            siftDown(0);
          } else {
            // The packet is over: take the stream out until its next packet is loaded (async).
            const last = heap.pop()!;
            if (heap.length > 0) { heap[0] = last; siftDown(0); }
            pending.push(i);
            break;
          }
        }
        if (batch.length) yield batch;
        while (pending.length) {
          const i = pending.pop()!;
          if (await refill(i)) { heap.push(i); siftUp(heap.length - 1); }
        }
      }
    } finally {
      for (const s of streams) await s.close();
    }
  }
}
