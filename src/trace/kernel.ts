/**
 * @module trace/kernel
 * A kernel CTF trace (LTTng, or perf's `--to-ctf` output) as a `SyscallSource`: CTF records → interpreter (LTTng or
 * perf, told apart by the trace environment and event names) → entry/exit pairing → syscall events, with every
 * record, loss and damage counted.
 */
import { CtfReader } from './ctf/trace.js';
import type { ReadMode } from './ctf/stream.js';
import { emptyCounts, type PairingMode, type ReaderCounts, type SyscallEvent, type SyscallSource } from './event.js';
import { LttngInterpreter } from './lttng/lttng.js';
import { SyscallPairer } from './pairing.js';
import { PERF_UNREAD, PerfInterpreter } from './perf/perf.js';

export class KernelCtfSource implements SyscallSource {
  readonly counts: ReaderCounts = emptyCounts();
  /** Every record's event name → count (syscall and other events alike), complete once iteration ends. */
  get recordNames(): Map<string, number> {
    return this.reader.recordCounts();
  }

  private constructor(
    readonly path: string,
    readonly format: 'ctf-lttng' | 'ctf-perf',
    readonly reader: CtfReader,
    private readonly pairing: PairingMode,
  ) {}

  static async open(path: string, pairing: PairingMode, mode: ReadMode): Promise<KernelCtfSource> {
    const reader = await CtfReader.open(path, mode);
    const isPerf = reader.traces.some((t) => t.cls.env['tracer_name'] === 'perf'
      || [...t.cls.streams.values()].some((s) => [...s.events.values()].some((e) => /^(raw_)?syscalls:/.test(e.name))));
    if (isPerf) reader.leaveUnread(PERF_UNREAD);
    return new KernelCtfSource(path, isPerf ? 'ctf-perf' : 'ctf-lttng', reader, pairing);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<SyscallEvent> {
    for await (const b of this.batches()) yield* b;
  }

  /** Syscall events in batches (time order of their emission; `complete` events are emitted at their exit). */
  async *batches(): AsyncGenerator<SyscallEvent[]> {
    const counts = this.counts;
    const interp = this.format === 'ctf-perf' ? new PerfInterpreter(counts) : new LttngInterpreter(counts);
    const pairer = this.pairing === 'paired' ? new SyscallPairer(counts) : undefined;
    for await (const recs of this.reader.batches()) {
      const out: SyscallEvent[] = [];
      for (const rec of recs) {
        const ev = interp.interpret(rec);
        if (!ev) continue;
        if (pairer) pairer.push(ev, out);
        else out.push(ev);
      }
      this.syncCounts();
      if (out.length) yield out;
    }
    if (pairer) {
      const out: SyscallEvent[] = [];
      pairer.flush(out);
      if (out.length) yield out;
    }
    this.syncCounts();
  }

  private syncCounts(): void {
    const c = this.reader.counts;
    this.counts.events = c.events;
    this.counts.lost = c.lost;
    this.counts.skipped = c.skippedPackets;
  }
}
