/**
 * @module cli/windows
 * `syscall-anomaly windows <trace> --label L [--group G] … -o out.saws`: one trace → a labelled window set (sliding
 * windows of N syscalls as count/duration vectors, see `features/windows`). Events can be restricted to one process
 * name (`--proc mariadbd`) or pid; a frozen vocabulary can be taken from an existing set (`--vocab train.saws`) so
 * that a test set has the training set's columns and its unseen syscalls are counted. Everything not turned into a
 * window is reported: events filtered out, events in no window, unpaired entries/exits, unknown names, lost events.
 */
import { existsSync, statSync } from 'node:fs';
import type { SyscallEvent, SyscallSource } from '../trace/event.js';
import { openTrace } from '../trace/open.js';
import { SyscallVocabulary, WindowSet, WindowSetBuilder, type WindowConfig, type WindowStats } from '../features/windows/index.js';
import { progress, UsageError } from './run.js';

/** Which events of the trace to keep: all, those of one process name (`proc`, the thread's comm), or one pid. */
export type EventFilter = { kind: 'all' } | { kind: 'proc'; name: string } | { kind: 'pid'; pid: number };

/** Everything `windows` needs; every field is required (the CLI fills defaults). */
export interface WindowsRequest {
  trace: string;
  output: string;
  label: string;
  group: string;
  config: WindowConfig;
  filter: EventFilter;
  /** A window set whose (frozen) vocabulary indexes the columns; undefined = grow one from this trace. */
  vocabFrom: string | undefined;
  lenient: boolean;
}

/** What `windows` did, as printed (and as `--json` prints it). */
export interface WindowsSummary {
  trace: string;
  format: string;
  output: string;
  label: string;
  group: string;
  config: WindowConfig;
  filter: string;
  /** Syscall events the reader produced (after pairing). */
  syscallEvents: number;
  /** Events the filter dropped. */
  filteredOut: number;
  /** Windowing statistics over the kept events (unknown/unpaired/no-latency events, events in no window, keys). */
  stats: WindowStats;
  /** Vocabulary slots (with `<unk>`), and the distinct unseen names when the vocabulary came from `--vocab`. */
  vocabularySize: number;
  unknownNames: string[];
  /** The reader's own counts: unmatched entries/exits, calls without exit, lost and skipped records. */
  reader: { unmatchedEntries: number; unmatchedExits: number; noExitCalls: number; cloneChildExits: number; lost: number; skipped: number };
  bytes: number;
}

export function describeFilter(f: EventFilter): string {
  switch (f.kind) {
    case 'all': return 'all events';
    case 'proc': return `process name ${f.name}`;
    case 'pid': return `pid ${f.pid}`;
  }
}

async function* filtered(src: SyscallSource, f: EventFilter, seen: { events: number; dropped: number }): AsyncGenerator<SyscallEvent> {
  for await (const ev of src) {
    seen.events++;
    const keep = f.kind === 'all' || (f.kind === 'proc' ? ev.proc === f.name : ev.pid === f.pid);
    if (keep) yield ev;
    else seen.dropped++;
  }
}

/** Builds and saves the window set; returns the summary (the caller prints it). */
export async function buildWindowSet(req: WindowsRequest): Promise<WindowsSummary> {
  let vocab = SyscallVocabulary.growing();
  if (req.vocabFrom !== undefined) {
    if (!existsSync(req.vocabFrom)) throw new UsageError(`--vocab: no such file: ${req.vocabFrom}`);
    const ref = WindowSet.load(req.vocabFrom);
    if (ref.config.features !== req.config.features) {
      throw new UsageError(`--vocab ${req.vocabFrom} has features '${ref.config.features}', this set '${req.config.features}'`);
    }
    vocab = SyscallVocabulary.of(ref.vocabulary.list().slice(1));
  }
  const src = await openTrace(req.trace, 'paired', { lenient: req.lenient, follow: false });
  const seen = { events: 0, dropped: 0 };
  const builder = new WindowSetBuilder(vocab, req.config);
  const bar = progress('windows: events');
  const counted = async function* () {
    let kept = 0;
    for await (const ev of filtered(src, req.filter, seen)) {
      if ((++kept & 0x3ff) === 0) bar.tick(seen.events); // a clock read every 1,024 events, not every event
      yield ev;
    }
  };
  await builder.add(counted(), req.label, req.group);
  bar.done();
  const set = builder.build();
  if (set.rows === 0) {
    const kept = seen.events - seen.dropped;
    throw new UsageError(`windows: no window of ${req.config.size} events in ${req.trace}: ${seen.events} syscall events, `
      + `${kept} kept (${describeFilter(req.filter)}), split by ${req.config.split}; use a smaller --size or --partial`);
  }
  set.save(req.output);
  const c = src.counts;
  return {
    trace: req.trace, format: src.format, output: req.output, label: req.label, group: req.group, config: req.config,
    filter: describeFilter(req.filter), syscallEvents: seen.events, filteredOut: seen.dropped, stats: set.stats,
    vocabularySize: vocab.size, unknownNames: [...vocab.unknownNames].sort(),
    reader: {
      unmatchedEntries: c.unmatchedEntries, unmatchedExits: c.unmatchedExits, noExitCalls: c.noExitCalls,
      cloneChildExits: c.cloneChildExits, lost: c.lost, skipped: c.skipped,
    },
    bytes: statSync(req.output).size,
  };
}

const n = (v: number) => v.toLocaleString('en-US');

export function formatWindowsSummary(s: WindowsSummary): string {
  const st = s.stats;
  const cfg = s.config;
  const lines = [
    `trace         ${s.trace} (${s.format})`,
    `windows       ${n(st.windows)} of ${n(cfg.size)} events, stride ${n(cfg.stride)}, split by ${cfg.split}, ${cfg.features}${cfg.partial ? ', partial tails' : ''} → ${s.output} (${n(s.bytes)} bytes)`,
    `label/group   ${s.label} / ${s.group}`,
    `events        ${n(s.syscallEvents)} syscall events; ${n(st.events)} kept (${s.filter}), ${n(s.filteredOut)} filtered out; ${n(st.events - st.eventsInNoWindow)} in windows, ${n(st.eventsInNoWindow)} in no window`,
    `keys          ${n(st.keys)} ${cfg.split === 'stream' ? 'stream' : cfg.split === 'process' ? 'processes' : 'threads'}`,
    `vocabulary    ${n(s.vocabularySize)} slots (with <unk>)`,
    `unknown       ${n(st.unknownEvents)} events of syscalls not in the vocabulary${s.unknownNames.length ? ` (${s.unknownNames.slice(0, 10).join(', ')}${s.unknownNames.length > 10 ? ', …' : ''})` : ''}`,
    `unpaired      ${n(st.unpairedEvents)} entry/exit events without their other half (reader: ${n(s.reader.unmatchedEntries)} unmatched entries, ${n(s.reader.unmatchedExits)} unmatched exits, ${n(s.reader.noExitCalls)} exit/exit_group, ${n(s.reader.cloneChildExits)} clone child returns)`,
    `no latency    ${n(st.noLatencyEvents)} complete events without a latency`,
    `lost          ${n(s.reader.lost)} events lost by the tracer${s.reader.skipped ? `, ${n(s.reader.skipped)} records skipped (lenient)` : ''}`,
  ];
  return lines.join('\n') + '\n';
}

export async function windowsCommand(req: WindowsRequest, json: boolean): Promise<WindowsSummary> {
  const s = await buildWindowSet(req);
  process.stdout.write(json ? JSON.stringify(s, null, 2) + '\n' : formatWindowsSummary(s));
  return s;
}
