/**
 * @module cli/run
 * How every command ends: expected failures (bad input, bad usage) print one line naming the file and offset and
 * exit with code 2; anything else prints one line and exits with code 1. Never a stack dump (set
 * SYSCALL_ANOMALY_DEBUG=1 to see one).
 */
import { TraceError, TracerError } from '../trace/errors.js';

/** An error the user can fix (bad arguments, missing files): one line, exit code 2. */
export class UsageError extends Error {}

/** What `--lenient` says in every command that reads traces. */
export const LENIENT_HELP = 'decode traces up to damage and report what was skipped instead of failing';

export function fail(e: unknown): never {
  const debug = process.env.SYSCALL_ANOMALY_DEBUG === '1';
  if (e instanceof TraceError || e instanceof UsageError || e instanceof TracerError) {
    process.stderr.write(`syscall-anomaly: ${e.message}\n`);
    if (debug) process.stderr.write(`${(e as Error).stack}\n`);
    process.exit(2);
  }
  const msg = e instanceof Error ? e.message : String(e);
  process.stderr.write(`syscall-anomaly: internal error: ${msg.split('\n')[0]}\n`);
  if (debug && e instanceof Error) process.stderr.write(`${e.stack}\n`);
  process.exit(1);
}

/** The parser of an option that may be given several times (`--model a --model b`): the values in order. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/**
 * Refuses an option that takes a value and is given more than once (commander would keep the last one silently),
 * unless it collects its values ({@link collect}). `args` are the command's own arguments; those after `--` are a
 * traced command's and are not looked at.
 */
export function refuseRepeats(options: readonly { long?: string; short?: string; required: boolean; optional: boolean; parseArg?: unknown }[],
  args: readonly string[], command: string): void {
  const end = args.indexOf('--');
  const own = end < 0 ? args : args.slice(0, end);
  for (const o of options) {
    if (!(o.required || o.optional) || o.parseArg === collect) continue;
    const flags = [o.long, o.short].filter((f): f is string => f !== undefined);
    const n = own.filter((a) => flags.some((f) => a === f || (f.startsWith('--') && a.startsWith(`${f}=`)))).length;
    if (n > 1) throw new UsageError(`${command}: ${flags.join('/')} is given ${n} times; it takes one value`);
  }
}

/** Wraps a command's action so that its errors end the process as `fail` says. */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (e) {
      fail(e);
    }
  };
}

/** How often a progress line reaches stderr when it is not a terminal (a log, a pipe, CI): a line at a time. */
export const LOG_PROGRESS_MS = 10_000;

/** A count being shown as work goes on: `tick` with the count so far, `done` at the end. */
export interface CountProgress {
  tick: (n: number) => void;
  done: () => void;
}

/**
 * Progress on stderr. On a terminal, one line redrawn at most once a second and wiped at the end. Otherwise a line
 * every {@link LOG_PROGRESS_MS} and, if any was written, a closing line with the total: work shorter than that
 * writes nothing, so quick commands (and their one-line errors) stay as they were.
 */
export function progress(label: string): CountProgress {
  const tty = process.stderr.isTTY === true;
  return progressLine(label, tty, tty ? 1000 : LOG_PROGRESS_MS, (s) => process.stderr.write(s), Date.now);
}

/** {@link progress} with its output, interval and clock given (the tests drive it). */
export function progressLine(label: string, redraw: boolean, everyMs: number, write: (s: string) => void,
  now: () => number): CountProgress {
  const t0 = now();
  let last = t0;
  let wrote = false;
  let count = 0;
  const rate = (n: number, t: number) => Math.round(n / Math.max(1e-3, (t - t0) / 1000)).toLocaleString('en-US');
  return {
    tick(n: number) {
      count = n;
      const t = now();
      if (t - last < everyMs) return;
      last = t;
      wrote = true;
      const text = `${label}: ${n.toLocaleString('en-US')} (${rate(n, t)}/s)`;
      write(redraw ? `\r${text}   ` : `${text}, ${Math.round((t - t0) / 1000)} s\n`);
    },
    done() {
      if (!wrote) return;
      const t = now();
      write(redraw ? '\r\x1b[K' : `${label}: ${count.toLocaleString('en-US')} in ${((t - t0) / 1000).toFixed(1)} s (${rate(count, t)}/s)\n`);
    },
  };
}
