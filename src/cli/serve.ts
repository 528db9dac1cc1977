/**
 * @module cli/serve
 * `syscall-anomaly serve`: the web dashboard (`serve/`) for one model folder, or an ensemble of several (`--model`
 * repeated, `--combine z|rank`: `cli/live-model.ts`, shown on the ensemble-score scale, explained by member in σ-nats). Live input takes `watch`'s flags and
 * sources (`trace/live/sources.ts`): `--input FILE` (a recorded trace, replayed as fast as it is read), `--input -`
 * (stdin: JSONL or strace text), `--strace --pid P` or `--strace -- command…`; it is scored event by event with the
 * watch pipeline (`detect/live`: alerts on running sequences, with per-length thresholds calibrated as `watch` does),
 * or per finished sequence for a model kind that cannot score incrementally (recorded traces only); `--warm-up n`
 * holds it to thresholds fitted on its first n finished sequences instead (`watch --warm-up`). Traces under the
 * data folder can be scored from the page, or uploaded.
 *
 * Listens on 127.0.0.1:8080 by default; any other address needs a token (`--token` or `SYSCALL_ANOMALY_TOKEN`),
 * which is then required on every request. Prints the address on stdout, and one line on stderr when the input
 * ends; runs until interrupted.
 */
import type { Command } from 'commander';
import { LIVE_COMBINE, parseLiveCombine, parseWarmUp, type WarmUpArgs } from './live-model.js';
import type { Combine } from '../detect/ensemble.js';
import { action, collect, UsageError, LENIENT_HELP } from './run.js';

// The server's modules are imported when the command runs (start-up of other commands pays nothing for them).
const TOKEN_ENV = 'SYSCALL_ANOMALY_TOKEN';
const DEFAULT_MAX_UPLOAD_MIB = 64;

export interface ServeRequest {
  /** One model folder, or the members of an ensemble. */
  modelDirs: string[];
  /** How an ensemble's members are combined. */
  combine: Combine;
  /** Live input, as `watch` takes it: a recorded trace or '-' (stdin), or strace attached to a pid / around a command. */
  input: string | undefined;
  strace: { pid: number } | { command: string[] } | undefined;
  /** Normal data for prefix thresholds; undefined: the model's own validation data when found; false: none. */
  calibrate: string | false | undefined;
  /** A live baseline (as `watch --warm-up`): `sequences` finished live sequences, after `skip` left out, set the live run's thresholds. */
  warmUp: WarmUpArgs | undefined;
  host: string;
  port: number;
  token: string | undefined;
  dataDir: string;
  threshold: string;
  lenient: boolean;
  latencyMs: number | undefined;
  maxUploadMiB: number;
}

function portOf(text: string): number {
  const v = Number(text);
  if (!/^\d+$/.test(text) || v > 65535) throw new UsageError(`--port must be an integer in 0..65535, got '${text}'`);
  return v;
}

function nonNegative(flag: string, text: string): number {
  const v = Number(text);
  if (text.trim() === '' || !(v >= 0) || !Number.isFinite(v)) throw new UsageError(`${flag} must be a number >= 0, got '${text}'`);
  return v;
}

export async function serveCommand(req: ServeRequest): Promise<void> {
  const { bindProblem } = await import('../serve/auth.js');
  const { startServer } = await import('../serve/server.js');
  const { Scorer } = await import('../serve/scoring.js');
  const { openData, parseDataArg } = await import('../features/dataset.js');
  const { openLiveModel, warmUpOf } = await import('./live-model.js');
  const { TraceError } = await import('../trace/errors.js');
  const { readingFor } = await import('./score.js');
  const problem = bindProblem(req.host, req.token);
  if (problem !== undefined) throw new UsageError(problem);
  // One model folder, or an ensemble (shown on its score's scale; a z ensemble's members' prefix scores combined when paired).
  const { manifest, model, threshold, members, reference } = await openLiveModel('serve', req.modelDirs, req.threshold, req.lenient, false, req.combine,
    [['--calibrate <data>', typeof req.calibrate === 'string']]);
  const reading = readingFor(manifest, req.lenient);
  const scorer = new Scorer(model, manifest, threshold, reference);
  const liveInput = req.input !== undefined || req.strace !== undefined;
  if (liveInput && !scorer.incremental && req.strace !== undefined) {
    throw new UsageError(`${req.modelDirs[0]}: model kind '${manifest.kind}' cannot score event by event, which --strace needs`);
  }
  if (req.warmUp !== undefined && !scorer.incremental) {
    throw new UsageError(`${req.modelDirs[0]}: model kind '${manifest.kind}' cannot score event by event, which --warm-up needs`);
  }
  if (req.latencyMs !== undefined && !(liveInput && scorer.incremental)) {
    throw new UsageError('--latency-ms applies to live input (--input, --strace) scored by a model that scores event by event');
  }
  // Open a recorded input first, so that a bad one fails before the server starts.
  const sources = await import('../trace/live/sources.js');
  const pairing = manifest.input.pairing;
  const source = req.strace !== undefined ? sources.straceSource(req.strace, pairing, req.lenient)
    : req.input === undefined || !scorer.incremental ? undefined
    : req.input === '-' ? await sources.stdinSource(pairing, req.lenient) : await sources.fileSource(req.input, pairing, req.lenient);
  // Per-length thresholds for running sequences, found as `watch` finds them.
  const warmUp = warmUpOf(req.warmUp, manifest, req.calibrate, 0.99, model);
  const prefix = source === undefined || warmUp ? undefined
    : await (await import('./prefix.js')).prefixThresholdsFor('serve', model, manifest, req.calibrate, 0.99, 16, reading);
  let server;
  try {
    server = await startServer({
      host: req.host, port: req.port, token: req.token, dataDir: req.dataDir, scorer, reading,
      maxUploadBytes: Math.round(req.maxUploadMiB * 1024 * 1024),
      info: {
        kind: model.kind, modelDir: req.modelDirs.join(' + '), members, segmentation: manifest.segmentation.kind, fields: manifest.fields,
        live: source?.path ?? req.input ?? null, incremental: scorer.incremental, prefixThresholds: prefix?.points ?? null,
        warmUp: req.warmUp ?? null,
      },
    });
  } catch (e) {
    source?.stop();
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new UsageError(`${req.host}:${req.port} is already in use (choose another --port, or 0 for any free one)`);
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') throw new UsageError(`cannot listen on ${req.host}: no such local address`);
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new UsageError(`--data-dir ${req.dataDir}: no such folder`);
    throw e;
  }
  process.stdout.write(`syscall-anomaly dashboard: ${server.url}\n`);
  const what = members.length > 0 ? `ensemble of ${req.modelDirs.join(' + ')}` : `${manifest.kind} model ${req.modelDirs[0]}`;
  process.stderr.write(`serve: ${what}, novel above ${scorer.scale.name} ${scorer.scale.threshold.toPrecision(6)} (${threshold.name}); ` +
    `files under ${req.dataDir}${req.token !== undefined ? '; token required (open the page once with ?token=<token>)' : ''}\n`);
  let stopping = false;
  const stop = () => {
    if (stopping) process.exit(130);
    stopping = true;
    source?.stop();
    void server.close().then(() => model.release()).then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  if (!liveInput) return;
  const label = source?.path ?? req.input!;
  const run = server.hub.newRun('live', label === '-' ? '<stdin>' : label);
  try {
    if (source !== undefined) {
      const live = req.strace !== undefined || req.input === '-';
      const s = await scorer.watchInto(server.hub, run, source, {
        latencyMs: req.latencyMs ?? (live ? 50 : 0), lost: () => source.counts.lost, prefix, minEvents: 16, warmUp,
      });
      server.hub.finish(run);
      const d = s.dropped;
      if (run.threshold) process.stderr.write(`serve: the live input's threshold: ${scorer.scale.name} > ${run.threshold.value.toPrecision(6)} (${run.threshold.name})\n`);
      else if (s.warmUp) process.stderr.write(`serve: the input ended during the warm-up (${s.warmUp.sequences} of ${s.warmUp.of} sequences): nothing was judged\n`);
      process.stderr.write(`serve: input ${label} ended: ${s.events} events, ${s.sequences} sequences, ${s.novel} novel, ${s.alerts} alerts` +
        `${d.sequences ? `, ${d.sequences} sequences not scored (too many open)` : ''}${d.byCap ? `, ${d.byCap} events past the length cap` : ''}` +
        `${d.unassigned ? `, ${d.unassigned} events outside any sequence` : ''}${s.lost ? `, ${s.lost} events lost by the tracer` : ''}; still serving\n`);
    } else {
      // A kind without incremental scoring: finished sequences, scored a batch at a time.
      const src = openData(parseDataArg(req.input!), reading);
      await scorer.scoreInto(server.hub, run, src);
      server.hub.finish(run);
      const sum = src.summary();
      process.stderr.write(`serve: input ${label} ended: ${sum.events} events, ${run.sequences} sequences, ${run.novel} novel; still serving\n`);
    }
  } catch (e) {
    // The page shows the failed run; the server goes on serving what it has.
    const msg = e instanceof TraceError || e instanceof UsageError ? e.message : `internal error: ${(e as Error).message.split('\n')[0]}`;
    server.hub.finish(run, msg);
    process.stderr.write(`serve: input ${label}: ${msg}; still serving\n`);
  }
  server.hub.flush();
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('web dashboard: perplexity of sequences over time, alerts, per-event surprise; score traces from the page')
    .requiredOption('--model <dir>', 'model folder written by train; repeat for an ensemble (members that score event by event)', collect)
    .option('--combine <how>', LIVE_COMBINE)
    .option('--input <trace>', "live input: a recorded trace (any format; replayed as fast as it is read), or '-' for stdin (JSONL or strace text)")
    .option('--strace', 'live input from strace -f -yy -ttt -T: attach to --pid, or start the command given after --')
    .option('-p, --pid <pid>', 'with --strace: the process to attach to')
    .option('--calibrate <data>', "normal data for per-length thresholds of running sequences (default: the prefix scores train stored in the model folder)")
    .option('--no-calibrate', 'running sequences are held to the sequence threshold')
    .option('--warm-up <n>', 'live input: take the first n sequences to finish as normal (nothing alerts meanwhile) and hold the live input to ' +
      "thresholds fitted on them (the model's label-free quantile; prefixes: 0.99), as watch --warm-up does")
    .option('--warm-up-skip <k>', 'with --warm-up: leave out the first k sequences to finish before it (default 0)')
    .option('--warm-up-quantile <q>', "with --warm-up: the quantile of the baseline's perplexities that becomes the threshold (default: the model's label-free one)")
    .option('--port <n>', 'port to listen on (0: any free one)', '8080')
    .option('--host <address>', 'address to listen on (other than loopback only with a token)', '127.0.0.1')
    .option('--token <secret>', `require this token on every request (default: $${TOKEN_ENV})`)
    .option('--data-dir <dir>', 'traces may be scored from the page under this folder only (default: the current folder)')
    .option('--threshold <which>', "novel above: 'quantile', 'best-f1', or a perplexity", 'quantile')
    .option('--latency-ms <ms>', 'live input: score queued events at most this long after they arrive (default 50 for stdin and strace, 0 for a file)')
    .option('--max-upload-mb <MiB>', 'largest trace the page may upload', String(DEFAULT_MAX_UPLOAD_MIB))
    .option('--lenient', LENIENT_HELP)
    .argument('[command...]', 'with --strace: the command to start and watch (after --)')
    .action(action(async (command: string[], o: {
      model: string[]; combine?: string; input?: string; strace?: boolean; pid?: string; calibrate?: string | boolean; port: string; host: string; token?: string;
      dataDir?: string; threshold: string; latencyMs?: string; maxUploadMb: string; lenient?: boolean; warmUp?: string; warmUpSkip?: string; warmUpQuantile?: string;
    }) => {
      const token = o.token ?? process.env[TOKEN_ENV];
      if (o.input !== undefined && o.strace) throw new UsageError('serve: give one live input: --input <trace|-> or --strace');
      if (o.strace && (o.pid === undefined) === (command.length === 0)) {
        throw new UsageError('serve --strace: give either --pid P or a command after --, not both or neither');
      }
      if (!o.strace && (o.pid !== undefined || command.length > 0)) throw new UsageError('serve: --pid and a command apply with --strace');
      let pid: number | undefined;
      if (o.pid !== undefined) {
        pid = Number(o.pid);
        if (!/^\d+$/.test(o.pid) || !Number.isSafeInteger(pid) || pid < 1) throw new UsageError(`--pid must be a positive integer, got '${o.pid}'`);
      }
      if (typeof o.calibrate === 'string' && o.input === undefined && !o.strace) throw new UsageError('--calibrate applies with live input (--input, --strace)');
      if (o.warmUp !== undefined && o.input === undefined && !o.strace) throw new UsageError('--warm-up applies with live input (--input, --strace)');
      const warmUp = parseWarmUp(o, o.threshold, o.calibrate, "the live input's threshold from its baseline");
      const combine = parseLiveCombine(o.model, o.combine, [['--calibrate <data>', typeof o.calibrate === 'string']]);
      await serveCommand({
        modelDirs: o.model, combine, input: o.input, strace: o.strace ? (pid !== undefined ? { pid } : { command }) : undefined,
        calibrate: o.calibrate === false ? false : typeof o.calibrate === 'string' ? o.calibrate : undefined, warmUp,
        host: o.host, port: portOf(o.port), token: token === '' ? undefined : token,
        dataDir: o.dataDir ?? process.cwd(), threshold: o.threshold, lenient: o.lenient === true,
        latencyMs: o.latencyMs === undefined ? undefined : nonNegative('--latency-ms', o.latencyMs),
        maxUploadMiB: nonNegative('--max-upload-mb', o.maxUploadMb),
      });
    }));
}
