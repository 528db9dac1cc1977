/**
 * @module bench/decode
 * Decoding speed against the reference decoder, end to end: `node dist/cli/main.js stats --json <trace>` (ours:
 * decode, pair, count) against `babeltrace2 -c sink.utils.counter <trace>` (decode and count), on the same traces
 * in the same run, runs interleaved, median of 3. Events/s use babeltrace2's event count for both, so the rates
 * compare the same work; ours is checked to count the same events. Peak RSS through `/usr/bin/time -f %M`.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { findOnPath } from '../trace/record/privileges.js';
import { sharedData } from '../testing/paths.js';
import { ensureLargeTrace, folderBytes, parseCounterEvents } from './large-trace.js';
import { formatTable, errorLine, median, mib, si, timeCommand, type TimedRun } from './util.js';

const RUNS = 3;

interface Side {
  name: string;
  runs: TimedRun[];
  /** Why this side has no figure (a failed run), or null. */
  failure: string | null;
  /** Events this side reported (ours: `events` of the JSON; babeltrace2: its counter). */
  events: number | null;
}

export interface DecodeRow {
  trace: string;
  bytes: number;
  events: number | null;
  ours: Side;
  babeltrace: Side;
}

/** Our CLI, from the same build as this file. */
function ourCli(): string {
  return fileURLToPath(new URL('../cli/main.js', import.meta.url));
}

function oursEvents(stdout: string): number | null {
  try {
    const j = JSON.parse(stdout) as { events?: unknown; counts?: { events?: unknown } };
    const v = j.events ?? j.counts?.events;
    return typeof v === 'number' ? v : null;
  } catch {
    return null;
  }
}

function failureOf(r: TimedRun): string {
  return `exit ${r.code ?? 'signal'}: ${errorLine(r.stderr) || 'no message'}`;
}

/** Times both decoders on one trace folder, interleaving their runs. */
export async function benchTrace(label: string, ctfDir: string): Promise<DecodeRow> {
  const ours: Side = { name: 'ours', runs: [], failure: null, events: null };
  const bt: Side = { name: 'babeltrace2', runs: [], failure: null, events: null };
  const cli = ourCli();
  const haveBt = findOnPath('babeltrace2') !== undefined;
  if (!haveBt) bt.failure = 'babeltrace2 not installed (apt-get install babeltrace2)';
  if (!existsSync(cli)) ours.failure = `${cli} not built (npm run build)`;
  for (let i = 0; i < RUNS; i++) {
    if (!ours.failure) {
      // As the installed `syscall-anomaly` bin runs it (its shebang sets the young-generation size).
      const r = await timeCommand([process.execPath, '--max-semi-space-size=64', cli, 'stats', '--json', ctfDir]);
      if (r.ok) {
        ours.runs.push(r);
        ours.events = oursEvents(r.stdout);
      } else ours.failure = failureOf(r);
    }
    if (!bt.failure) {
      const r = await timeCommand(['babeltrace2', '-c', 'sink.utils.counter', '-p', 'step=+0', ctfDir]);
      if (r.ok) {
        bt.runs.push(r);
        bt.events = parseCounterEvents(r.stdout);
      } else bt.failure = failureOf(r);
    }
  }
  return { trace: label, bytes: folderBytes(ctfDir), events: bt.events ?? ours.events, ours, babeltrace: bt };
}

function rate(events: number | null, s: Side): number {
  if (s.failure || s.runs.length === 0 || events === null) return Number.NaN;
  return events / median(s.runs.map((r) => r.seconds));
}

function rss(s: Side): number | null {
  const v = s.runs.map((r) => r.rssKiB).filter((x): x is number => x !== null);
  return v.length ? median(v) : null;
}

/** The table rows and the notes (failures, count mismatches) for a set of results. */
export function decodeTable(rows: DecodeRow[]): { table: string; notes: string[] } {
  const notes: string[] = [];
  const body = rows.map((r) => {
    const a = rate(r.events, r.ours);
    const b = rate(r.events, r.babeltrace);
    if (r.ours.failure) notes.push(`${r.trace}: ours failed: ${r.ours.failure}`);
    if (r.babeltrace.failure) notes.push(`${r.trace}: babeltrace2 failed: ${r.babeltrace.failure}`);
    if (r.ours.events !== null && r.babeltrace.events !== null && r.ours.events !== r.babeltrace.events) {
      notes.push(`${r.trace}: ours counted ${r.ours.events} events, babeltrace2 ${r.babeltrace.events}`);
    }
    const secs = (s: Side) => (s.runs.length && !s.failure ? median(s.runs.map((x) => x.seconds)).toFixed(2) : '-');
    return [
      r.trace, `${(r.bytes / 2 ** 20).toFixed(1)}`, r.events === null ? '-' : si(r.events),
      secs(r.ours), secs(r.babeltrace), si(a), si(b), Number.isFinite(a / b) ? `${(a / b).toFixed(2)}x` : '-',
      mib(rss(r.ours)), mib(rss(r.babeltrace)),
      r.ours.events === null || r.babeltrace.events === null ? '-' : r.ours.events === r.babeltrace.events ? 'yes' : 'NO',
    ];
  });
  const table = formatTable(
    ['trace', 'MiB', 'events', 'ours s', 'bt2 s', 'ours ev/s', 'bt2 ev/s', 'ours/bt2', 'ours RSS', 'bt2 RSS', 'same count'],
    body,
  );
  return { table, notes };
}

export async function benchDecode(): Promise<void> {
  const rows: DecodeRow[] = [];
  const small = sharedData('ctf', 'many-threads');
  if (existsSync(small)) rows.push(await benchTrace('many-threads', small));
  else console.log(`skipped many-threads: ${small} not found`);

  const large = await ensureLargeTrace((l) => console.log(l));
  if ('error' in large) console.log(`skipped the large trace: ${large.error}`);
  else rows.push(await benchTrace('perf-large (system-wide)', large.ctfDir));

  const { table, notes } = decodeTable(rows);
  console.log(`decode: median of ${RUNS} runs; events/s = babeltrace2's event count / median wall time; ` +
    'ours/bt2 > 1 means ours is faster');
  console.log(table);
  for (const n of notes) console.log(`note: ${n}`);
}
