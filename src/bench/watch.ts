/**
 * @module bench/watch
 * `npm run bench -- watch`: sustained events/s through the live pipeline (`detect/live.ts`: live segmentation per
 * thread, per-sequence queues, batched incremental scoring, alert checks) with the n-gram and with the LSTM.
 *
 * Input: the large system-wide perf recording (`bench/large-trace.ts`, CTF from `perf data convert --to-ctf`,
 * paired). Its first `N` events are read once into memory (arguments dropped: the thread segmentation does not read
 * them) and cut into 64 (for the LSTM also 256) consecutive slices that are replayed interleaved, event by event,
 * with the thread and process ids of slice k shifted by k·10⁷: 64 stretches of the recording run "at once", so that
 * ≥ 64 thread sequences are active and neural scoring batches them. Three figures per model: the pipeline alone on the in-memory replay
 * (what `watch` adds to a reader), and reading the CTF + the pipeline end to end (no interleaving; what
 * `watch --input` achieves on this trace), beside the reader alone. Models are fitted on the trace's own first
 * sequences (speed does not depend on their quality). The load average is printed with the figures: the machine is
 * shared.
 */
import { loadavg } from 'node:os';
import { createSegmenter, segmentAll, type Sequence } from '../features/sequences/index.js';
import { watchEvents, type WatchOptions } from '../detect/live.js';
import { MODEL_KINDS, resolveSettings, type LanguageModel } from '../models/language-model.js';
import { KernelCtfSource } from '../trace/kernel.js';
import { NO_ARGS, type SyscallEvent } from '../trace/event.js';
import { ensureLargeTrace } from './large-trace.js';
import { formatTable, si } from './util.js';

const SLICES = 64;
const SHIFT = 10_000_000;

async function readEvents(ctf: string, n: number): Promise<SyscallEvent[]> {
  const src = await KernelCtfSource.open(ctf, 'paired', { lenient: false, follow: false });
  const out: SyscallEvent[] = [];
  for await (const ev of src) {
    out.push({ ts: ev.ts, cpu: ev.cpu, pid: ev.pid, tid: ev.tid, proc: ev.proc, name: ev.name, phase: ev.phase, args: NO_ARGS, ret: ev.ret });
    if (out.length === n) break;
  }
  return out;
}

/** `slices` consecutive slices of `events`, interleaved one event each, ids of slice k shifted by k·SHIFT. */
function interleaved(events: readonly SyscallEvent[], slices = SLICES): SyscallEvent[] {
  const per = Math.floor(events.length / slices);
  const out: SyscallEvent[] = [];
  for (let i = 0; i < per; i++) {
    for (let k = 0; k < slices; k++) {
      const e = events[k * per + i]!;
      out.push({ ...e, pid: e.pid + k * SHIFT, tid: e.tid + k * SHIFT });
    }
  }
  return out;
}

async function* replay(events: readonly SyscallEvent[]): AsyncGenerator<SyscallEvent> {
  yield* events;
}

async function fit(kind: string, settings: Record<string, string>, train: Sequence[]): Promise<LanguageModel> {
  const entry = MODEL_KINDS.find((k) => k.kind === kind)!;
  return (await entry.implementation()).fit({ train: async function* () { yield* train; } }, resolveSettings(entry, new Map(Object.entries(settings))));
}

interface Measured {
  events: number;
  seconds: number;
  /** CPU seconds of this process (all threads, onnxruntime's included). */
  cpu: number;
  sequences: number;
  modelCalls: number;
  inFlight: number;
}

/** Mean thread sequences open per event over a replay (what the scorer can batch). */
function meanInFlight(events: readonly SyscallEvent[]): number {
  const seg = createSegmenter('thread', 100_000);
  const live = new Set<number>();
  const out: Sequence[] = [];
  let sum = 0;
  for (const ev of events) {
    live.add(ev.tid >= 0 ? ev.tid : ev.pid);
    seg.push(ev, out);
    for (const s of out) live.delete(s.events[0]!.tid >= 0 ? s.events[0]!.tid : s.events[0]!.pid);
    out.length = 0;
    sum += live.size;
  }
  return sum / Math.max(1, events.length);
}

async function run(model: LanguageModel, events: AsyncIterable<SyscallEvent>, inFlight: number): Promise<Measured> {
  const opts: WatchOptions = { segmentation: { kind: 'thread', maxLength: 100_000 }, threshold: 1e9 };
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const r = watchEvents(model, events, opts);
  for await (const _ of r) { /* results are dropped: only speed counts */ }
  const seconds = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  const s = r.summary();
  return { events: s.events, seconds, cpu: (c.user + c.system) / 1e6, sequences: s.sequences, modelCalls: s.modelCalls, inFlight };
}

async function* take(src: AsyncIterable<SyscallEvent>, n: number): AsyncGenerator<SyscallEvent> {
  let i = 0;
  for await (const ev of src) {
    yield ev;
    if (++i === n) return;
  }
}

export async function benchWatch(): Promise<void> {
  const large = await ensureLargeTrace((l) => console.log(l));
  if ('error' in large) {
    console.log(`skipped: the large trace cannot be had: ${large.error}`);
    return;
  }
  const load0 = loadavg()[0]!;
  const N = 1_280_000;
  const first = await readEvents(large.ctfDir, N);
  const mixed = interleaved(first);
  const train = segmentAll(first.slice(0, 200_000), createSegmenter('thread', 400)).filter((s) => s.events.length >= 2);
  const ngram = await fit('ngram', { order: '5' }, train);
  const lstm = await fit('lstm', { fields: 'name,phase,dt,proc,pid,tid,ret', embed: '64', hidden: '128', epochs: '1', threads: '2', patience: '0' },
    train.slice(0, 300));
  const rows: (string | number)[][] = [];
  const inFlightMixed = meanInFlight(mixed);
  const inFlightPlain = meanInFlight(first);
  try {
    // Reader alone, for reference.
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    let n = 0;
    for await (const _ of take(await KernelCtfSource.open(large.ctfDir, 'paired', { lenient: false, follow: false }), N)) n++;
    const readS = (performance.now() - t0) / 1000;
    const c = process.cpuUsage(c0);
    rows.push(['CTF reader alone (no scoring)', '-', si(n), readS.toFixed(2), si(n / readS), si(n / ((c.user + c.system) / 1e6)), '-', '-']);
    const wide = interleaved(first, 4 * SLICES).slice(0, 128_000);
    const runs = [
      ['n-gram (order 5), 64 slices', ngram, mixed, inFlightMixed],
      ['LSTM (embed 64, hidden 128, 7 fields), 64 slices', lstm, mixed.slice(0, 128_000), inFlightMixed],
      ['LSTM, 256 slices', lstm, wide, meanInFlight(wide)],
    ] as const;
    for (const [name, model, events, inFlight] of runs) {
      const m = await run(model, replay(events), inFlight);
      rows.push([`${name}: pipeline, in-memory replay`, m.inFlight.toFixed(0), si(m.events), m.seconds.toFixed(2), si(m.events / m.seconds),
        si(m.events / m.cpu), m.sequences, (m.events / m.modelCalls).toFixed(1)]);
    }
    const e2e = await run(ngram, take(await KernelCtfSource.open(large.ctfDir, 'paired', { lenient: false, follow: false }), N), inFlightPlain);
    rows.push(['n-gram: CTF reader + pipeline (watch --input)', e2e.inFlight.toFixed(1), si(e2e.events), e2e.seconds.toFixed(2),
      si(e2e.events / e2e.seconds), si(e2e.events / e2e.cpu), e2e.sequences, (e2e.events / e2e.modelCalls).toFixed(1)]);
  } finally {
    await ngram.release();
    await lstm.release();
  }
  console.log(`watch: thread segmentation, first ${si(N)} events of ${large.ctfDir} (perf CTF, paired); in-memory replay = ` +
    `${SLICES} interleaved slices (ids shifted); load average ${load0.toFixed(1)} at start, ${loadavg()[0]!.toFixed(1)} at end (2 cores)`);
  console.log(formatTable(['run', 'in flight (mean)', 'events', 'seconds', 'events/s', 'events per CPU-s', 'sequences', 'events per model call'], rows));
}
