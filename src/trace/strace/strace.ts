/**
 * @module trace/strace/strace
 * Reads strace text output (`strace -f -ttt -T -o FILE …`) as `SyscallEvent`s, streaming, one line at a time.
 *
 * Accepted line shapes (any of them with or without the `-f` pid column — `PID ` or `[pid PID] ` — and with a
 * `-ttt`/`--timestamps=unix,us|ns` epoch timestamp, a `-tt`/`-t` time of day, or no timestamp):
 * - `name(args) = ret <0.000123>`: a finished call → one `complete` event (latency from `<…>` when `-T` was given);
 * - `name(args <unfinished ...>` → `entry`; `<... name resumed>args) = ret <t>` → `exit`; under `pairing: 'paired'`
 *   the two are joined by `SyscallPairer` into one `complete` event whose `args.raw` is the whole argument text and
 *   whose latency is strace's `<t>` (the call's full duration);
 * - `name(args) = ?` / `<... name resumed>) = ?`: the call never returned (`exit_group`, or a thread killed inside a
 *   call) → an `entry` only; the `= ?` tail of a resumed call emits nothing (for `exit`/`exit_group` it is folded into
 *   their `noExitCalls` entry; for other calls it is counted in `noReturn`);
 * - `--- SIGCHLD {...} ---`, `+++ exited with 0 +++`, `strace: Process N attached`: not syscalls, counted in
 *   `otherEvents` and not emitted.
 *
 * Fields:
 * - `ts`: ns, exact (the decimal text is turned into a bigint, never through a float). `-tt`/`-t` times of day have
 *   no date: `ts` is then ns since the first line (a wrap past midnight adds a day). Without timestamps `ts` is the
 *   event's 0-based sequence number, and `latency` is only set from `-T`.
 * - `tid`: strace's pid column (a thread id under `-f`); -1 without the column. `pid`: the thread group — a tid
 *   created by `clone(…CLONE_THREAD…) = N`/`clone3` belongs to its caller's group, any other tid is its own group.
 *   A thread whose first line comes before its parent's `clone` has returned is given to the parent when exactly one
 *   clone-like call is in progress.
 * - `proc`: the `comm` of the `PID<comm>` column when strace ran with `-Y`; otherwise the basename of the last
 *   successful `execve`/`execveat` of the thread group, as the kernel sets `comm` (at most 15 characters), inherited
 *   across fork/clone, '' until known. A finished `execve` event itself carries the name from before the exec when
 *   there was one. Stack-frame lines of `-k` (` > /lib/…`) are not records and are passed over.
 * - `cpu`: -1 (strace does not know it).
 * - `args`: `raw` = the argument text as printed; `fd` (number) when the first argument is a file descriptor (an
 *   integer decorated by `-y`/`-yy`, or an integer first argument of a call that takes an fd first — see
 *   `fdcalls.ts`); `path` = the decoration's text (`/etc/passwd`, `TCP:[127.0.0.1:8080->127.0.0.1:5000]`);
 *   `errno` = the error name when the call failed; `retPath` = the decoration of a returned fd (`= 3</etc/passwd>`).
 * - `ret`: the return value as a number (bigint past 2^53); for a failure, minus the errno number (`-1 ENOENT` → -2;
 *   -1 when strace printed an errno name this table does not know).
 *
 * Counts: `events` = every non-blank line that is a record (syscall lines, signals, `+++` lines); a `complete`
 * line counts as one entry, one exit and one `completed`; unfinished/resumed lines count as an entry and an exit,
 * and under `paired` the pairer counts `completed`/unmatched/no-exit; under `raw` only `noExitCalls` is counted
 * beside them. Malformed lines throw `TraceError(file, -1, reason, line)`, or are counted in `skipped` when lenient.
 */
import type { PairingMode, ReaderCounts, SyscallEvent, SyscallSource } from '../event.js';
import { emptyCounts } from '../event.js';
import { flattenBatches, openText, readLines } from '../jsonl/lines.js';
import { StraceParser } from './parser.js';

export { StraceParser } from './parser.js';

export interface StraceSource extends SyscallSource {
  /** Calls strace showed as never returning (`= ?`) other than `exit`/`exit_group`: their entry has no exit. */
  readonly noReturn: number;
}

/** Opens an strace output file ('-' for stdin) as a streaming source. */
export function openStrace(path: string, pairing: PairingMode, lenient: boolean): StraceSource {
  return new StraceReader(path, pairing, lenient);
}

class StraceReader implements StraceSource {
  readonly format = 'strace';
  readonly counts: ReaderCounts = emptyCounts();
  noReturn = 0;
  private used = false;

  constructor(readonly path: string, private readonly pairing: PairingMode, private readonly lenient: boolean) {}

  [Symbol.asyncIterator](): AsyncIterator<SyscallEvent> {
    if (this.path === '-' && this.used) throw new Error('strace: stdin can be read only once');
    this.used = true;
    return flattenBatches(this.batches());
  }

  private async *batches(): AsyncGenerator<SyscallEvent[], void, undefined> {
    Object.assign(this.counts, emptyCounts());
    this.noReturn = 0;
    const file = this.path === '-' ? '<stdin>' : this.path;
    const parser = new StraceParser(file, this.pairing, this.lenient, this.counts);
    let lineNo = 0;
    const input = openText(this.path);
    try {
      for await (const batch of readLines(input, file)) {
        const out: SyscallEvent[] = [];
        for (let i = 0; i < batch.length; i++) {
          lineNo++;
          const line = batch[i];
          if (line === null) parser.bad(lineNo, 'line too long');
          else parser.line(line, lineNo, out);
        }
        this.noReturn = parser.noReturn;
        yield out;
      }
      const out: SyscallEvent[] = [];
      parser.end(out);
      yield out;
    } finally {
      this.noReturn = parser.noReturn;
      if (input !== process.stdin) input.destroy();
    }
  }
}

/** Format sniffing: do the first lines of `head` look like strace output? */
export function looksLikeStrace(head: Buffer): boolean {
  let text = head.toString('utf8', 0, Math.min(head.length, 16384));
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const lines = text.split('\n');
  if (lines.length > 1 && !text.endsWith('\n')) lines.pop(); // the last line may be cut
  let seen = 0;
  let ok = 0;
  for (const raw of lines) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '') continue;
    seen++;
    if (STRACE_LINE.test(line)) ok++;
    else if (seen === 1) return false;
    if (seen >= 50) break;
  }
  return seen > 0 && ok >= Math.ceil(seen * 0.8);
}

/** Anchored and without nested quantifiers: linear on any line. */
const STRACE_LINE =
  /^(?:\[pid +\d{1,10}\] +|\d{1,10}(?:<[^>\n]{0,64}>)? +)?(?:\d{1,12}(?:\.\d{1,9})? +|\d\d:\d\d:\d\d(?:\.\d{1,9})? +)?(?:[A-Za-z_][A-Za-z0-9_]{0,63}\(|<\.\.\. [A-Za-z0-9_]{1,64} resumed>|--- |\+\+\+ |strace: | > )/;
