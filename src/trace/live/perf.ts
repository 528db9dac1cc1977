/**
 * @module trace/live/perf
 * Live perf for `watch --perf`: `perf record -o - …` (perf's pipe format on stdout, no file) piped into
 * `perf script -i - -F comm,pid,tid,cpu,time,event,trace --ns --show-lost-events`, whose text lines are parsed here
 * into syscall events (the project's perf reader reads `perf data convert --to-ctf` output, which needs a finished
 * perf.data file; perf's own `perf script` decodes the pipe format as it streams).
 *
 * Lines: `COMM PID/TID [CPU] SEC.NS: syscalls:sys_enter_NAME: arg: 0x…, arg: 0x…` / `…: syscalls:sys_exit_NAME: 0x…`
 * (arguments and results in hex; results as signed 64-bit), or `raw_syscalls:sys_enter: NR n (a, b, …)` /
 * `raw_syscalls:sys_exit: NR n = r` (x86-64 numbers → names). Entries and exits are paired like every reader does
 * under `paired` (`SyscallPairer`). `PERF_RECORD_LOST` lines add to `counts.lost`; other events are counted in
 * `otherEvents`. Timestamps are perf's monotonic clock (`-k mono`), as in `record`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { emptyCounts, type FieldValue, type PairingMode, type ReaderCounts, type SyscallEvent } from '../event.js';
import { TraceError, TracerError } from '../errors.js';
import { flattenBatches, readLines } from '../jsonl/lines.js';
import { SyscallPairer } from '../pairing.js';
import { CLOSE_NOTICE_EVERY_MS, CLOSE_NOTICE_FIRST_MS, eventSpec, perfErrorLine, withNotices } from '../record/record.js';
import { X86_64_SYSCALLS } from '../syscalls/x86_64.js';
import type { LiveSource } from './sources.js';

const LINE = /^\s*(.*?)\s+(-?\d+)\/(-?\d+)\s+\[(\d+)\]\s+(\d+)\.(\d{1,9}):\s+(\S+):\s?(.*)$/;

/** A hex or decimal integer, as a number (bigint past 2^53); `signed`: read 64-bit two's complement. */
function int(text: string, signed: boolean): number | bigint | undefined {
  const t = text.trim();
  if (!/^(0x[0-9a-fA-F]+|-?\d+)$/.test(t)) return undefined;
  let v = BigInt(t);
  if (signed) v = BigInt.asIntN(64, v);
  return v >= -9007199254740991n && v <= 9007199254740991n ? Number(v) : v;
}

/** Parses `perf script` lines into syscall events (entries and exits, before pairing). */
export class PerfScriptParser {
  constructor(private readonly file: string, private readonly counts: ReaderCounts, private readonly lenient: boolean) {}

  private bad(lineNo: number, why: string): void {
    if (this.lenient) {
      this.counts.skipped++;
      return;
    }
    throw new TraceError(this.file, -1, `perf script: ${why}`, lineNo);
  }

  /** One line; appends the event it holds (if a syscall) to `out`. */
  line(s: string, lineNo: number, out: SyscallEvent[]): void {
    if (s.trim() === '') return;
    const m = LINE.exec(s);
    if (m === null) {
      const lost = /PERF_RECORD_LOST.*?lost:?\s*(\d+)/.exec(s) ?? /LOST (\d+) events/.exec(s);
      if (lost) {
        this.counts.lost += Number(lost[1]);
        return;
      }
      return this.bad(lineNo, 'unrecognised line');
    }
    const [, comm, pidT, tidT, cpuT, sec, frac, event, rest] = m as unknown as string[];
    this.counts.events++;
    const ts = BigInt(sec!) * 1_000_000_000n + BigInt(frac!.padEnd(9, '0'));
    const base = { ts, cpu: Number(cpuT), pid: Number(pidT), tid: Number(tidT), proc: comm! };
    let ev: SyscallEvent | undefined;
    if (event!.startsWith('syscalls:sys_enter_')) {
      const args: Record<string, FieldValue> = {};
      for (const part of rest!.split(', ')) {
        const c = part.indexOf(': ');
        if (c <= 0) continue;
        const v = int(part.slice(c + 2), false);
        args[part.slice(0, c)] = v === undefined ? part.slice(c + 2) : v;
      }
      ev = { ...base, name: event!.slice('syscalls:sys_enter_'.length), phase: 'entry', args };
    } else if (event!.startsWith('syscalls:sys_exit_')) {
      const ret = int(rest!, true);
      if (ret === undefined) return this.bad(lineNo, `bad result '${rest!}'`);
      ev = { ...base, name: event!.slice('syscalls:sys_exit_'.length), phase: 'exit', args: {}, ret };
    } else if (event === 'raw_syscalls:sys_enter' || event === 'raw_syscalls:sys_exit') {
      const r = /^NR (-?\d+)(?: \((.*)\)| = (.*))?$/.exec(rest!.trim());
      if (r === null) return this.bad(lineNo, `bad ${event} payload '${rest!}'`);
      const nr = Number(r[1]);
      const name = X86_64_SYSCALLS[nr] ?? `syscall_${nr}`;
      if (event === 'raw_syscalls:sys_enter') {
        const args = (r[2] ?? '').split(', ').filter((x) => x !== '').map((x) => int(`0x${x}`, false) ?? x);
        ev = { ...base, name, phase: 'entry', args: { args } };
      } else {
        const ret = int(r[3] ?? '', true);
        if (ret === undefined) return this.bad(lineNo, `bad result '${rest!}'`);
        ev = { ...base, name, phase: 'exit', args: {}, ret };
      }
    } else {
      this.counts.otherEvents++;
      return;
    }
    if (ev.phase === 'entry') this.counts.syscallEntries++;
    else this.counts.syscallExits++;
    out.push(ev);
  }
}

/**
 * Ring-buffer pages per CPU of a live capture (1 MiB). perf record wakes and writes only when a CPU's buffer is half
 * full, so the buffer bounds how late events reach `watch`: `record`'s 32–64 MiB held a web server's events (9 k
 * syscall events/s) for about a minute; 1 MiB passes them on within about a second and lost 0–0.04 % of them there,
 * where 128 KiB lost 5 % (experiments/web-novelty/LIVE.md). A quieter process waits longer for its half buffer.
 */
export const LIVE_PERF_PAGES = 256;

/**
 * The `perf record` argv for streaming: syscall tracepoints of a process, a command, or the whole system, with
 * `pages` ring-buffer pages per CPU (a power of two).
 */
export function perfLiveArgs(target: { pid: number } | { command: string[] } | { system: true }, events: 'syscalls' | 'raw_syscalls',
  pages = LIVE_PERF_PAGES): string[] {
  const args = ['record', '-q', '-o', '-', '-k', 'mono', '-m', String(pages), '-e', eventSpec(events)];
  if ('pid' in target) return [...args, '-p', String(target.pid)];
  if ('command' in target) return [...args, '--', ...target.command];
  return [...args, '-a'];
}

export const PERF_SCRIPT_ARGS = ['script', '-i', '-', '-F', 'comm,pid,tid,cpu,time,event,trace', '--ns', '--show-lost-events'];

/**
 * The fields of `/proc/<pid>/stat` after the command name (state, ppid, …); undefined when the process is gone. The
 * name is in parentheses and may hold spaces and parentheses itself, so the fields start after the last ')'.
 */
function statFields(pid: number | string): string[] | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** The pids whose parent is `pid`, from one pass over `/proc/N/stat` (empty where /proc cannot be read). */
export function childPids(pid: number): number[] {
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return [];
  }
  // a process that ended meanwhile has no fields
  return names.filter((n) => /^\d+$/.test(n) && Number(statFields(n)?.[1]) === pid).map(Number);
}

/** Whether process `pid` is gone or a zombie (ended, not yet reaped), from `/proc/N/stat`. */
export function processEnded(pid: number): boolean {
  const state = statFields(pid)?.[0];
  return state === undefined || state === 'Z';
}

/** How often a live perf source looks whether its command (or process) has ended. */
const END_POLL_MS = 1_000;

/**
 * perf record | perf script, parsed as it streams. `notice` hears why nothing arrives once the traced command or
 * process has ended (or `stop` was called): perf first closes its tracepoint events, one kernel unregistration
 * each (~28 s for `syscalls:*`'s ~700 on the development VM), and only then does its pipe deliver the last events.
 */
export function perfSource(target: { pid: number } | { command: string[] } | { system: true }, events: 'syscalls' | 'raw_syscalls',
  pairing: PairingMode, lenient: boolean, pages = LIVE_PERF_PAGES, notice?: (message: string) => void): LiveSource {
  const label = 'pid' in target ? `perf -p ${target.pid}` : 'command' in target ? `perf -- ${target.command.join(' ')}` : 'perf -a';
  const counts: ReaderCounts = emptyCounts();
  let rec: ChildProcess | undefined;
  let recDone: Promise<number | null> | undefined;
  let stopped = false;
  /** Why perf is closing and what follows, once it is (a stop after the command's end rewords the later notices). */
  let closing: { why: string; then: string } | undefined;
  /** From now on perf is closing its events: say so after a while, then at intervals, until it exits. */
  const closingNow = (why: string, then: string): void => {
    if (!notice || !recDone) return;
    const started = closing !== undefined;
    closing = { why, then };
    if (started) return;
    void withNotices(recDone, CLOSE_NOTICE_FIRST_MS, CLOSE_NOTICE_EVERY_MS, (ms) => notice(`${label}: ${closing!.why}; perf is `
      + `closing its tracepoint events, which the kernel unregisters one at a time, ${closing!.then} (${Math.round(ms / 1000)} s so far)`));
  };
  const stop = (): void => {
    stopped = true;
    if (rec && rec.exitCode === null && rec.signalCode === null) {
      rec.kill('SIGINT'); // perf record flushes and ends the pipe
      closingNow('stopped', 'before it exits'); // nothing more is read after a stop
    }
  };
  return { format: 'perf-script', path: label, counts, stop, [Symbol.asyncIterator]: () => flattenBatches(batches()) };

  async function* batches(): AsyncGenerator<SyscallEvent[], void, undefined> {
    const r = spawn('perf', perfLiveArgs(target, events, pages), { stdio: ['inherit', 'pipe', 'pipe'] });
    rec = r;
    const started = await new Promise<Error | null>((resolve) => { r.once('spawn', () => resolve(null)); r.once('error', resolve); });
    if (started !== null) {
      const why = (started as NodeJS.ErrnoException).code === 'ENOENT' ? 'perf is not installed (apt-get install linux-perf)' : started.message;
      throw new TracerError(`${label}: cannot start: ${why}`);
    }
    if (stopped) stop();
    let recErr = '';
    r.stderr!.setEncoding('utf8');
    r.stderr!.on('data', (d: string) => { if (recErr.length < 64 * 1024) recErr += d; });
    // 'exit', not 'close': perf record's stdout is handed to perf script, so it never ends on our side.
    const exited = new Promise<number | null>((resolve) => r.once('exit', (code) => resolve(code)));
    recDone = exited;
    // The command is perf's child (forked at once, found by one scan of /proc), the process is `-p`'s: once it has
    // ended, perf is closing.
    let child: number | undefined;
    const commandEnded = (): boolean => {
      if (child === undefined) child = childPids(r.pid!)[0];
      return child === undefined || processEnded(child);
    };
    const ended = 'command' in target ? commandEnded : 'pid' in target ? () => processEnded(target.pid) : undefined;
    const poll = ended && notice ? setInterval(() => {
      if (!ended()) return;
      clearInterval(poll);
      closingNow('command' in target ? 'the command has ended' : `process ${(target as { pid: number }).pid} has ended`,
        'and the last events come after that');
    }, END_POLL_MS) : undefined;
    poll?.unref();
    void exited.then(() => clearInterval(poll));
    const script = spawn('perf', PERF_SCRIPT_ARGS, { stdio: [r.stdout!, 'pipe', 'pipe'] });
    let scriptErr = '';
    script.stderr!.setEncoding('utf8');
    script.stderr!.on('data', (d: string) => { if (scriptErr.length < 64 * 1024) scriptErr += d; });
    const parser = new PerfScriptParser(label, counts, lenient);
    const pairer = pairing === 'paired' ? new SyscallPairer(counts) : undefined;
    let lineNo = 0;
    try {
      for await (const batch of readLines(script.stdout as Readable, label)) {
        const raw: SyscallEvent[] = [];
        for (const line of batch) {
          lineNo++;
          if (line === null) parser.line('', lineNo, raw);
          else parser.line(line, lineNo, raw);
        }
        if (!pairer) {
          yield raw;
          continue;
        }
        const out: SyscallEvent[] = [];
        for (const ev of raw) pairer.push(ev, out);
        yield out;
      }
      if (pairer) {
        const out: SyscallEvent[] = [];
        pairer.flush(out);
        yield out;
      }
      const code = await exited;
      if (code !== 0 && !stopped && counts.events === 0) throw new TracerError(`${label}: ${perfErrorLine(recErr || scriptErr)}`);
    } finally {
      stop();
      if (script.exitCode === null && script.signalCode === null) script.kill('SIGTERM');
    }
  }
}
