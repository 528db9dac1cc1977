/**
 * @module trace/record/record
 * Captures real syscall traces with `perf record` (syscall tracepoints, CLOCK_MONOTONIC timestamps) and converts
 * them to CTF with `perf data convert --to-ctf`, which the CTF reader (and babeltrace2) decode.
 *
 * Layout of `outDir`: `perf.data` (perf's own file) and `ctf/` (CTF 1.8: `metadata` + one stream per CPU).
 * The conversion uses `--all`, so the CTF also holds perf's side-band records (`perf_comm`, `perf_fork`,
 * `perf_exit`, `perf_mmap*`): syscall tracepoint events carry only `perf_tid`/`perf_pid`, and `perf_comm` is
 * where process names come from. `--tod` turns the monotonic clock into wall-clock time (the CTF clock's offset).
 *
 * Expected failures (no perf, no privileges, perf exits with an error) come back as `{ ok: false, reason }`.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { checkRecordPrivileges } from './privileges.js';

/**
 * Which tracepoints: one event class per syscall (`syscalls:sys_enter_openat` …, with named arguments) or the two
 * generic ones (`raw_syscalls:sys_enter {id, args[6]}`, `raw_syscalls:sys_exit {id, ret}`; names from the syscall
 * table). `raw_syscalls` is the one to use for commands: with `syscalls` perf opens ~700 tracepoints per CPU, and the
 * kernel copies them into every child a traced command forks and closes them at its exit (measured: ~200 ms per
 * process start, 80× slower; ~28 s at the end of every recording on 2 CPUs). System-wide, that cost is paid once.
 */
export type RecordEvents = 'syscalls' | 'raw_syscalls';

export type RecordResult =
  | {
      ok: true;
      /** The CTF trace folder (holds `metadata`). */
      ctfDir: string;
      /** perf's own recording, kept beside the CTF. */
      perfData: string;
      /** Samples the kernel dropped (perf's per-event LOST_SAMPLES counts, summed). */
      lost: number;
      /** PERF_RECORD_LOST records (ring-buffer overruns), each standing for one or more lost samples. */
      lostChunks: number;
      /** Samples perf wrote to `perf.data`. */
      samples: number;
      /** Wall-clock seconds of `perf record` (the traced command or the system-wide window). */
      seconds: number;
      /** Wall-clock seconds of `perf data convert`. */
      convertSeconds: number;
      /** perf's exit status, which is the recorded command's (0 for a system-wide window). */
      exitCode: number | null;
    }
  | { ok: false; reason: string };

/** Progress of one recording: a phase starts, or perf printed a line on stderr. */
export interface RecordProgress {
  /** `close`: the trace is converted, and perf is still closing its events (see `recordWith`). */
  phase: 'record' | 'convert' | 'close' | 'done';
  message: string;
}

/** The `-e` argument for the chosen tracepoints. */
export function eventSpec(events: RecordEvents): string {
  return events === 'syscalls'
    ? 'syscalls:sys_enter_*,syscalls:sys_exit_*'
    : 'raw_syscalls:sys_enter,raw_syscalls:sys_exit';
}

/**
 * Ring-buffer pages per CPU for `-m`: a power of two, about 256 MiB in all, between 4 and 64 MiB per CPU, so a
 * burst of syscalls fits while perf writes out.
 */
export function mmapPages(cpus: number = availableParallelism(), pageSize = 4096): number {
  const perCpu = Math.min(64 << 20, Math.max(4 << 20, Math.floor((256 << 20) / Math.max(1, cpus))));
  let pages = 1;
  while (pages * 2 * pageSize <= perCpu) pages *= 2;
  return pages;
}

/**
 * Arguments after `perf` for one recording into `output` (a path, or `-` for a pipe).
 * `command` undefined means system-wide (`-a`); then `durationS` > 0 bounds the window with `sleep`.
 * Children of the command are followed (perf's default inheritance).
 */
export function perfRecordArgs(output: string, events: RecordEvents, command?: string[], durationS?: number): string[] {
  const args = ['record', '-o', output, '-k', 'mono', '-m', String(mmapPages()), '-e', eventSpec(events)];
  if (command && command.length > 0) return [...args, '--', ...command];
  args.push('-a');
  if (durationS !== undefined && durationS > 0) args.push('--', 'sleep', String(durationS));
  return args;
}

/**
 * argv for streaming: `perf record -o - …` writes perf's pipe format to stdout, for a live reader.
 * Without `command` it records system-wide until stopped (SIGINT).
 */
export function perfPipeCommand(events: RecordEvents, command?: string[]): string[] {
  return ['perf', ...perfRecordArgs('-', events, command)];
}

/** Totals from `perf report --stats`: per-event LOST_SAMPLES summed, LOST records, SAMPLE records. */
export function parsePerfStats(text: string): { lost: number; lostChunks: number; samples: number } {
  let lost = 0;
  let lostChunks = 0;
  let samples = 0;
  let inAggregate = false;
  for (const line of text.split('\n')) {
    if (/^Aggregated stats:/.test(line)) {
      inAggregate = true;
      continue;
    }
    if (/ stats:\s*$/.test(line)) {
      inAggregate = false; // per-event section ("raw_syscalls:sys_enter stats:")
      continue;
    }
    const m = /^\s*(LOST_SAMPLES|LOST|SAMPLE) events:\s*(\d+)/.exec(line);
    if (!m) continue;
    const n = Number(m[2]);
    if (inAggregate) {
      if (m[1] === 'LOST') lostChunks = n;
      else if (m[1] === 'SAMPLE') samples = n;
    } else if (m[1] === 'LOST_SAMPLES') {
      lost += n;
    }
  }
  return { lost, lostChunks, samples };
}

/** Lost chunks perf itself printed ("Processed N events and lost M chunks!"), a fallback for `parsePerfStats`. */
export function lostChunksFromStderr(stderr: string): number {
  let total = 0;
  for (const m of stderr.matchAll(/lost (\d+) chunks/g)) total += Number(m[1]);
  return total;
}

interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  stdout: string;
  error?: Error;
}

/** Runs a program; stderr lines go to `onLine`; stdout is captured unless `inheritStdout`. */
function run(argv: string[], onLine?: (line: string) => void, inheritStdout = false): Promise<Ran> {
  return new Promise((done) => {
    const child = spawn(argv[0], argv.slice(1), {
      stdio: [inheritStdout ? 'inherit' : 'ignore', inheritStdout ? 'inherit' : 'pipe', 'pipe'],
    });
    let stderr = '';
    let stdout = '';
    let partial = '';
    child.stdout?.on('data', (b: Buffer) => {
      if (stdout.length < 1 << 20) stdout += b.toString();
    });
    child.stderr?.on('data', (b: Buffer) => {
      const s = b.toString();
      if (stderr.length < 1 << 20) stderr += s;
      partial += s;
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) if (l.trim()) onLine?.(l);
    });
    child.on('error', (error) => done({ code: null, signal: null, stderr, stdout, error }));
    child.on('close', (code, signal) => {
      if (partial.trim()) onLine?.(partial);
      done({ code, signal, stderr, stdout });
    });
  });
}

/** The line of perf's stderr that says what went wrong: the first that looks like an error, else the last one. */
export function perfErrorLine(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  const err = lines.find((l) => /error|denied|not (found|supported|permitted)|failed|invalid|unknown|no such/i.test(l));
  return err ?? lines[lines.length - 1] ?? '';
}

/** When the first "perf is still closing its events" notice comes, and how often the next ones do (live perf too). */
export const CLOSE_NOTICE_FIRST_MS = 2_000;
export const CLOSE_NOTICE_EVERY_MS = 10_000;

/**
 * Awaits `p`; if it has not settled after `firstMs`, calls `notice` with the milliseconds waited so far, then again
 * every `everyMs` until it settles.
 */
export async function withNotices<T>(p: Promise<T>, firstMs: number, everyMs: number, notice: (waitedMs: number) => void): Promise<T> {
  const t0 = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const tick = (ms: number) => {
    timer = setTimeout(() => {
      notice(performance.now() - t0);
      tick(everyMs);
    }, ms);
  };
  tick(firstMs);
  try {
    return await p;
  } finally {
    clearTimeout(timer);
  }
}

async function recordWith(
  outDir: string,
  recordArgs: (perfData: string) => string[],
  inheritStdout: boolean,
  onProgress?: (p: RecordProgress) => void,
): Promise<RecordResult> {
  const problem = checkRecordPrivileges();
  if (problem) return { ok: false, reason: problem };
  const dir = resolve(outDir);
  mkdirSync(dir, { recursive: true });
  const perfData = join(dir, 'perf.data');
  const ctfDir = join(dir, 'ctf');
  rmSync(perfData, { force: true });

  onProgress?.({ phase: 'record', message: `perf ${recordArgs(perfData).join(' ')}` });
  const t0 = performance.now();
  // perf prints "Captured and wrote" once perf.data is complete; closing hundreds of tracepoint events can then take
  // tens of seconds in the kernel (about 20 ms per event per CPU here), so conversion starts at once, in parallel.
  let written: () => void = () => {};
  const dataWritten = new Promise<void>((r) => (written = r));
  const recording = run(['perf', ...recordArgs(perfData)], (line) => {
    if (/^\[ perf record: Captured and wrote/.test(line)) written();
    onProgress?.({ phase: 'record', message: line });
  }, inheritStdout);
  const first = await Promise.race([dataWritten.then(() => null), recording]);
  const seconds = (performance.now() - t0) / 1000;
  if (first?.error) return { ok: false, reason: `cannot run perf: ${first.error.message}` };
  if (!existsSync(perfData) || statSync(perfData).size === 0) {
    const rec = await recording;
    return { ok: false, reason: `perf record wrote no data (exit ${rec.code ?? rec.signal}): ${perfErrorLine(rec.stderr) || 'no message'}` };
  }

  onProgress?.({ phase: 'convert', message: `perf data convert --to-ctf ${ctfDir}` });
  rmSync(ctfDir, { recursive: true, force: true });
  const t1 = performance.now();
  const convertOnce = (tod: boolean) =>
    run(['perf', 'data', 'convert', '--all', ...(tod ? ['--tod'] : []), '--to-ctf', ctfDir, '-i', perfData, '-f'],
      (line) => onProgress?.({ phase: 'convert', message: line }));
  let conv = await convertOnce(true);
  if (conv.code !== 0 || !existsSync(join(ctfDir, 'metadata'))) {
    rmSync(ctfDir, { recursive: true, force: true });
    conv = await convertOnce(false); // older perf, or no clock data in the header: keep monotonic time
  }
  const convertSeconds = (performance.now() - t1) / 1000;
  if (conv.error) return { ok: false, reason: `cannot run perf data convert: ${conv.error.message}` };
  if (conv.code !== 0 || !existsSync(join(ctfDir, 'metadata'))) {
    const msg = perfErrorLine(conv.stderr) || `exit ${conv.code}`;
    const hint = /ctf|babeltrace/i.test(msg) ? ' (this perf may be built without libbabeltrace CTF support)' : '';
    return { ok: false, reason: `perf data convert --to-ctf failed: ${msg}${hint}` };
  }

  const stats = await run(['perf', 'report', '-i', perfData, '--stats']);
  // perf reports the command's exit status only once it has closed every event. Say why nothing happens meanwhile.
  const rec = await withNotices(recording, CLOSE_NOTICE_FIRST_MS, CLOSE_NOTICE_EVERY_MS, (ms) => onProgress?.({
    phase: 'close',
    message: `the trace is converted (${ctfDir}); perf is still closing its tracepoint events, which the kernel `
      + `unregisters one at a time (${Math.round(ms / 1000)} s so far)`,
  }));
  const parsed = stats.code === 0 ? parsePerfStats(stats.stdout) : { lost: 0, lostChunks: 0, samples: 0 };
  const lostChunks = parsed.lostChunks || lostChunksFromStderr(rec.stderr);
  onProgress?.({ phase: 'done', message: `${parsed.samples} samples, ${parsed.lost} lost` });
  return {
    ok: true, ctfDir, perfData, lost: parsed.lost, lostChunks, samples: parsed.samples, seconds, convertSeconds,
    exitCode: rec.code,
  };
}

/**
 * Records `command` (and every child it starts) into `outDir`, then converts to `outDir/ctf`.
 * The command's stdout passes through; its stderr and perf's go to `onProgress`.
 */
export function recordCommand(
  outDir: string,
  command: string[],
  events: RecordEvents,
  onProgress?: (p: RecordProgress) => void,
): Promise<RecordResult> {
  if (command.length === 0) return Promise.resolve({ ok: false, reason: 'no command to record' });
  return recordWith(outDir, (perfData) => perfRecordArgs(perfData, events, command), true, onProgress);
}

/** Records every CPU for `durationS` seconds into `outDir`, then converts to `outDir/ctf`. */
export function recordSystem(
  outDir: string,
  durationS: number,
  events: RecordEvents,
  onProgress?: (p: RecordProgress) => void,
): Promise<RecordResult> {
  if (!(durationS > 0)) return Promise.resolve({ ok: false, reason: `duration must be > 0 seconds, got ${durationS}` });
  return recordWith(outDir, (perfData) => perfRecordArgs(perfData, events, undefined, durationS), false, onProgress);
}
