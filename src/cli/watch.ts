/**
 * @module cli/watch
 * `syscall-anomaly watch --model M (--input FILE|- | --strace|--perf (--pid P | -- command…))`: scores events live
 * (`--perf` alone: the whole system)
 * (`detect/live.ts`) and prints JSON lines on stdout as things happen — one per finished sequence
 * (`{"type":"sequence","id",…,"perplexity","novel"}`), one Falco-style alert (`{"time","priority","rule","output",
 * "output_fields",…}`) as soon as a running sequence passes the threshold for its length — then a summary
 * (`{"type":"summary",…}`, and one line on stderr) at end of input or on Ctrl-C (SIGINT; a second one exits at once).
 *
 * A running sequence is checked at `--min-events` events (default 16), then 32, 64, …, against a prefix threshold per
 * length: quantiles of normal prefix perplexities, from `--calibrate <normal data>` or else those `train` stored in
 * the model folder (`cli/prefix.ts`); where a length has none, against the model's sequence threshold. Several
 * `--model`s score as an ensemble (`--combine z|rank`); a rank ensemble judges whole sequences only.
 *
 * `--warm-up <n>`: a live baseline instead — the first n sequences to finish (after `--warm-up-skip k` left out) are
 * taken as normal (nothing alerts meanwhile), and the sequence threshold (the model's label-free quantile of their
 * perplexities), the prefix thresholds (`--prefix-quantile` of their prefixes) and the p-values are fitted on them
 * (`detect/live.ts`).
 */
import type { Command } from 'commander';
import { LIVE_COMBINE, parseLiveCombine, parseWarmUp, type RunningOptions, type WarmUpArgs } from './live-model.js';
import type { Combine } from '../detect/ensemble.js';
import { action, collect, UsageError, LENIENT_HELP } from './run.js';

export interface WatchArgs {
  /** Model folders: one model, or the members of an ensemble (`detect/ensemble-stream.ts`). */
  models: string[];
  /** How an ensemble's members are combined. */
  combine: Combine;
  input?: string;
  strace: boolean;
  /** perf record | perf script (a --pid, a command, or the whole system). */
  perf: boolean;
  /** With perf: raw_syscalls tracepoints (numbers; 2 tracepoints instead of ~700 per CPU) instead of syscalls:*. */
  rawSyscalls: boolean;
  /** With perf: ring-buffer pages per CPU (perf hands events on when half of one is full). */
  perfPages?: number;
  pid?: number;
  command: string[];
  threshold: string;
  /** Normal data for prefix thresholds; undefined: the model's validation data when found; false: none. */
  calibrate?: string | false;
  /** The quantile of prefix thresholds; undefined: 0.99 ({@link DEFAULT_PREFIX_QUANTILE}). */
  prefixQuantile?: number;
  /** A live baseline: its finished sequences set the thresholds (`--warm-up*`). */
  warmUp?: WarmUpArgs;
  minEvents?: number;
  maxOpen?: number;
  batch?: number;
  latencyMs?: number;
  alertsOnly: boolean;
  lenient: boolean;
}

function positiveInt(flag: string, text: string): number {
  const v = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || !Number.isSafeInteger(v) || v < 1) throw new UsageError(`${flag} must be a positive integer, got '${text}'`);
  return v;
}

export function registerWatchCommand(program: Command): void {
  program
    .command('watch')
    .description('score syscall events live as they arrive: a JSON line per finished sequence, Falco-style alerts on running ones')
    .requiredOption('--model <dir>', 'model folder written by train (a kind with incremental scoring: ngram, lstm, …); repeat for an ensemble',
      collect)
    .option('--input <trace>', "a recorded trace (any format), or '-' for stdin (syscall-anomaly JSONL or strace -f -ttt -T text)")
    .option('--strace', 'run strace -f -yy -ttt -T: attach to --pid, or start the command given after --')
    .option('--perf', 'run perf record -o - | perf script (syscall tracepoints): of --pid, of the command after --, or system-wide')
    .option('--raw-syscalls', 'with --perf: raw_syscalls:sys_enter/sys_exit (numbers only; far quicker to start and stop) instead of syscalls:*')
    .option('--perf-buffer <pages>', 'with --perf: ring-buffer pages per CPU, a power of two; perf passes events on when half of one is full, ' +
      'so fewer pages alert sooner and more lose fewer events in bursts (default 256 = 1 MiB)')
    .option('-p, --pid <pid>', 'with --strace or --perf: the process to watch')
    .option('--combine <how>', LIVE_COMBINE)
    .option('--threshold <which>', "novel above: 'quantile' (the label-free threshold), 'best-f1', or a perplexity (an ensemble score for ensembles)", 'quantile')
    .option('--calibrate <data>', "normal data to calibrate per-length prefix thresholds on at start-up (default: the prefix scores train stored in the model folder)")
    .option('--no-calibrate', 'no prefix calibration: running sequences are held to the sequence threshold')
    .option('--prefix-quantile <q>', 'the quantile of normal prefix perplexities for prefix thresholds (default 0.99)')
    .option('--warm-up <n>', 'take the first n sequences to finish as normal (nothing alerts meanwhile) and fit the thresholds on them: ' +
      "the sequence threshold (the model's label-free quantile), the prefix thresholds (--prefix-quantile) and the p-values")
    .option('--warm-up-skip <k>', 'with --warm-up: leave out the first k sequences to finish before it (a start-up is no steady state): neither judged nor used (default 0)')
    .option('--warm-up-quantile <q>', "with --warm-up: the quantile of the baseline's perplexities that becomes the sequence threshold (default: the model's label-free one, e.g. 0.99)")
    .option('--min-events <n>', 'events a running sequence needs before it can alert; checkpoints at n, 2n, 4n, … (default 16)')
    .option('--max-open <n>', 'most sequences open at once; beyond it new sequences are dropped and counted (default 10000)')
    .option('--batch <n>', 'queued events that start a scoring round (default 8192)')
    .option('--latency-ms <ms>', 'score queued events at most this long after they arrive (default 50 for stdin, strace and perf; 0 for files)')
    .option('--alerts-only', 'print alerts and the summary, not every finished sequence')
    .option('--lenient', LENIENT_HELP)
    .argument('[command...]', 'with --strace or --perf: the command to start and watch (after --)')
    .action(action(async (command: string[], o: Record<string, string | boolean | string[] | undefined>) => {
      const str = (k: string): string | undefined => (typeof o[k] === 'string' ? (o[k] as string) : undefined);
      const pidText = str('pid');
      const args: WatchArgs = {
        models: o.model as string[], combine: 'z', input: str('input'), strace: o.strace === true, perf: o.perf === true, rawSyscalls: o.rawSyscalls === true, command,
        pid: pidText !== undefined ? positiveInt('--pid', pidText) : undefined,
        threshold: str('threshold') ?? 'quantile', calibrate: o.calibrate === false ? false : str('calibrate'),
        alertsOnly: o.alertsOnly === true, lenient: o.lenient === true,
      };
      const pq = str('prefixQuantile');
      if (pq !== undefined) {
        if (args.calibrate === false) throw new UsageError('--prefix-quantile does not apply with --no-calibrate');
        const v = Number(pq);
        if (pq.trim() === '' || !(v > 0 && v <= 1)) throw new UsageError(`--prefix-quantile must be a number in (0, 1], got '${pq}'`);
        args.prefixQuantile = v;
      }
      for (const [k, flag] of [['minEvents', '--min-events'], ['maxOpen', '--max-open'], ['batch', '--batch']] as const) {
        const t = str(k);
        if (t !== undefined) args[k] = positiveInt(flag, t);
      }
      const lat = str('latencyMs');
      if (lat !== undefined) {
        const v = Number(lat);
        if (lat.trim() === '' || !(v >= 0) || !Number.isFinite(v)) throw new UsageError(`--latency-ms must be a number >= 0, got '${lat}'`);
        args.latencyMs = v;
      }
      args.combine = parseLiveCombine(args.models, str('combine'), runningOptions(args));
      args.warmUp = parseWarmUp({ warmUp: str('warmUp'), warmUpSkip: str('warmUpSkip'), warmUpQuantile: str('warmUpQuantile') },
        args.threshold, args.calibrate, 'the threshold from the live baseline');
      const sources = (args.input !== undefined ? 1 : 0) + (args.strace ? 1 : 0) + (args.perf ? 1 : 0);
      if (sources !== 1) throw new UsageError('watch: give exactly one source: --input <trace|->, --strace or --perf (--pid P or -- command…)');
      if (args.strace && (args.pid === undefined) === (command.length === 0)) {
        throw new UsageError('watch --strace: give either --pid P or a command after --, not both or neither');
      }
      if (args.rawSyscalls && !args.perf) throw new UsageError('--raw-syscalls applies with --perf');
      const pages = str('perfBuffer');
      if (pages !== undefined) {
        if (!args.perf) throw new UsageError('--perf-buffer applies with --perf');
        const v = positiveInt('--perf-buffer', pages);
        if ((v & (v - 1)) !== 0) throw new UsageError(`--perf-buffer must be a power of two, got ${v}`);
        args.perfPages = v;
      }
      if (args.perf && args.pid !== undefined && command.length > 0) throw new UsageError('watch --perf: give --pid P or a command after --, not both');
      if (args.input !== undefined && (args.pid !== undefined || command.length > 0)) throw new UsageError('watch: --pid and a command apply with --strace or --perf');
      await watchCommand(args);
    }));
}

/** The quantile of normal prefix perplexities that prefix thresholds are set at, unless `--prefix-quantile` says. */
const DEFAULT_PREFIX_QUANTILE = 0.99;

/** The options of `a` that set running sequences' alerts, with whether each was given (refused for whole-sequence models). */
const runningOptions = (a: WatchArgs): RunningOptions =>
  [['--calibrate <data>', typeof a.calibrate === 'string'], ['--prefix-quantile', a.prefixQuantile !== undefined], ['--min-events', a.minEvents !== undefined]];

export async function watchCommand(a: WatchArgs): Promise<void> {
  const [{ openLiveModel, warmUpOf }, { watchEvents }, { prefixThresholdsFor }, score, src] = await Promise.all([
    import('./live-model.js'), import('../detect/live.js'), import('./prefix.js'), import('./score.js'),
    import('../trace/live/sources.js'),
  ]);
  // One model folder, or a z ensemble of several (its members' stored prefix scores combined when paired).
  const { manifest, model, threshold: th, reference } = await openLiveModel('watch', a.models, a.threshold, a.lenient, true, a.combine, runningOptions(a));
  try {
    const prefixQuantile = a.prefixQuantile ?? DEFAULT_PREFIX_QUANTILE;
    const pairing = manifest.input.pairing;
    const minEvents = a.minEvents ?? 16;
    // A recorded trace or stdin is opened first, so that a bad one fails before calibration; strace starts after it.
    const recorded = a.strace || a.perf ? undefined : a.input === '-' ? await src.stdinSource(pairing, a.lenient) : await src.fileSource(a.input!, pairing, a.lenient);
    const warmUp = warmUpOf(a.warmUp, manifest, a.calibrate, prefixQuantile, model);
    if (warmUp) {
      process.stderr.write(`watch: warm-up: ${warmUp.skip > 0 ? `after the first ${warmUp.skip} sequences to finish (left out), the next` : 'the first'} ` +
        `${warmUp.sequences} are taken as normal; nothing alerts until the thresholds ` +
        `are fitted on them (quantile ${warmUp.q}${warmUp.prefixQuantile === false ? '' : `, prefixes: ${warmUp.prefixQuantile}`})\n`);
    }
    const prefix = warmUp ? undefined : await prefixThresholdsFor('watch', model, manifest, a.calibrate, prefixQuantile, minEvents, score.readingFor(manifest, a.lenient));
    const target = a.pid !== undefined ? { pid: a.pid } : a.command.length > 0 ? { command: a.command } : { system: true as const };
    const source = a.strace
      ? src.straceSource(target as { pid: number } | { command: string[] }, pairing, a.lenient)
      : a.perf ? (await import('../trace/live/perf.js')).perfSource(target, a.rawSyscalls ? 'raw_syscalls' : 'syscalls', pairing, a.lenient, a.perfPages,
        (m) => process.stderr.write(`watch: ${m}\n`)) : recorded!;
    const live = a.strace || a.perf || a.input === '-';
    const run = watchEvents(model, source, {
      segmentation: manifest.segmentation, threshold: th.value, thresholdName: th.name, prefix, minEvents, pValue: reference?.pValue, warmUp,
      maxOpen: a.maxOpen, batchEvents: a.batch, latencyMs: a.latencyMs ?? (live ? 50 : 0), lost: () => source.counts.lost,
    });
    let interrupts = 0;
    const onSigint = (): void => {
      if (++interrupts > 1) process.exit(130);
      process.stderr.write('watch: interrupted, finishing…\n');
      run.stop();
      source.stop();
    };
    process.on('SIGINT', onSigint);
    process.stdout.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(0);
      throw e;
    });
    try {
      for await (const r of run) {
        if (r.type === 'alert') process.stdout.write(JSON.stringify(r.alert) + '\n');
        else if (r.type === 'warm-up') {
          const shown = (x: { value: number; score?: number }) => (x.score ?? x.value).toPrecision(4);
          process.stderr.write(`watch: warm-up done after ${r.sequences} sequences${r.skipped > 0 ? ` (${r.skipped} left out before them)` : ''}: ` +
            `${model.scale ? 'ensemble score' : 'perplexity'} > ` +
            `${shown({ value: r.threshold, score: r.score })} (quantile ${r.q}); prefix thresholds: ` +
            `${r.prefix.map((p) => `${p.length} events → ${shown(p)}`).join(', ') || (model.sequenceLevel ? 'none (whole sequences are judged)' : 'none')}\n`);
          process.stdout.write(JSON.stringify(r) + '\n');
        } else if (!a.alertsOnly) process.stdout.write(JSON.stringify(r) + '\n');
      }
    } finally {
      process.off('SIGINT', onSigint);
    }
    const s = run.summary();
    const c = source.counts;
    const summary = { type: 'summary', source: source.path, format: source.format, interrupted: interrupts > 0, ...s, reader: { skipped: c.skipped, unmatchedEntries: c.unmatchedEntries } };
    process.stdout.write(JSON.stringify(summary) + '\n');
    const d = s.dropped;
    if (s.warmUp && !s.warmUp.done) {
      process.stderr.write(`watch: the input ended during the warm-up (${s.warmUp.sequences} of ${s.warmUp.of} sequences): no thresholds were fitted, nothing was judged\n`);
    }
    process.stderr.write(`watch: ${s.events} events, ${s.sequences} sequences (${s.novel} novel), ${s.alerts} alerts; dropped: ` +
      `${d.sequences} sequences / ${d.events} events over --max-open, ${d.byCap} events past the length cap, ${d.unassigned} outside any sequence; ` +
      `${s.lost} lost by the tracer; ${(s.events / Math.max(s.seconds, 1e-9)).toFixed(0)} events/s\n`);
  } finally {
    await model.release();
  }
}

