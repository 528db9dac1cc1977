/**
 * @module trace/strace/parser
 * The strace line parser behind `openStrace` (see strace.ts for the accepted shapes and the fields it fills): one
 * line at a time, with the per-thread state that strace text needs — thread groups from `clone`, process names
 * from `execve`, calls between `<unfinished ...>` and `resumed>`, the time-of-day clock — and the pairing of
 * unfinished/resumed halves.
 */
import type { FieldValue, PairingMode, ReaderCounts, SyscallEvent } from '../event.js';
import { TraceError } from '../errors.js';
import { CLONE_CALLS, NO_EXIT_CALLS, SyscallPairer } from '../pairing.js';
import { ERRNO } from './errno.js';
import {
  C_0, C_9, C_SPACE, execName, fractionNs, isDigit, isHex, isThreadClone, makeArgs, parseDuration, readErrno, toNumberIfSafe,
  twoDigits, validName,
} from './syntax.js';

const UNFINISHED = ' <unfinished ...>';
const DETACHED = '<detached ...>';
const NS_PER_DAY = 86_400_000_000_000;
const HALF_DAY = NS_PER_DAY / 2;

/** A call between its `<unfinished ...>` and its `resumed>` line. */
interface OpenCall {
  name: string;
  raw: string;
}

/** Parses lines one by one, keeping the per-thread state (thread groups, process names, calls in progress). */
export class StraceParser {
  noReturn = 0;
  private readonly pairer?: SyscallPairer;
  /** tid → thread-group id, for every live thread seen. */
  private readonly tgid = new Map<number, number>();
  /** thread-group id → live threads known in it. */
  private readonly members = new Map<number, number>();
  /** thread-group id → process name. */
  private readonly procs = new Map<number, string>();
  /** tid → unfinished call. */
  private readonly open = new Map<number, OpenCall>();
  /** tids with an unfinished clone/fork/vfork/clone3. */
  private readonly openClones = new Set<number>();
  private seq = 0;
  // time-of-day clock (-tt / -t)
  private todFirst = -1;
  private todLast = 0;
  private todDays = 0;
  // last parsed result (set by parseResult)
  private rRet: number | bigint | undefined;
  private rErrno: string | undefined;
  private rRetPath: string | undefined;
  private rLatency: number | undefined;
  private rNoReturn = false;
  private hadClock = false;
  /** The comm of the current line's `PID<comm>` column (strace -Y), if any. */
  private lineComm: string | undefined;
  // epoch clock (-ttt): the last whole second seen, as text and as ns
  private secText = '';
  private secLen = -1;
  private secNs = 0n;

  constructor(
    private readonly file: string,
    pairing: PairingMode,
    private readonly lenient: boolean,
    private readonly counts: ReaderCounts,
  ) {
    if (pairing === 'paired') this.pairer = new SyscallPairer(counts);
  }

  /** Reports a malformed line: throws, or counts it as skipped when lenient. */
  bad(lineNo: number, reason: string, line?: string): void {
    if (this.lenient) {
      this.counts.skipped++;
      return;
    }
    const shown = line === undefined ? '' : `: ${JSON.stringify(line.length > 120 ? line.slice(0, 120) + '…' : line)}`;
    throw new TraceError(this.file, -1, `strace: ${reason}${shown}`, lineNo);
  }

  /** Parses one line, appending the events it produces to `out`. */
  line(s: string, lineNo: number, out: SyscallEvent[]): void {
    const n = s.length;
    let p = 0;
    while (p < n && s.charCodeAt(p) === C_SPACE) p++;
    if (p === n) return;
    // pid column: "PID  ", "PID<comm> " (-Y) or "[pid PID] "
    let tid = -1;
    this.lineComm = undefined;
    let c = s.charCodeAt(p);
    if (c === 91 /* [ */) {
      if (!s.startsWith('[pid', p)) return this.bad(lineNo, 'unrecognised line', s);
      let q = p + 4;
      while (q < n && s.charCodeAt(q) === C_SPACE) q++;
      const d0 = q;
      while (q < n && isDigit(s.charCodeAt(q))) q++;
      if (q === d0 || q - d0 > 10 || s.charCodeAt(q) !== 93) return this.bad(lineNo, 'bad [pid N] column', s);
      tid = +s.slice(d0, q);
      p = q + 1;
      while (p < n && s.charCodeAt(p) === C_SPACE) p++;
    } else if (isDigit(c)) {
      let q = p + 1;
      while (q < n && isDigit(s.charCodeAt(q))) q++;
      let e = q;
      if (q < n && s.charCodeAt(q) === 60 /* < */) {
        // -Y / --decode-pids=comm: "PID<comm> "
        e = s.indexOf('> ', q + 1);
        if (e < 0) return this.bad(lineNo, 'bad PID<comm> column', s);
        this.lineComm = s.slice(q + 1, e);
        e++;
      }
      if (e < n && s.charCodeAt(e) === C_SPACE) {
        if (q - p > 10) return this.bad(lineNo, 'bad pid column', s);
        tid = +s.slice(p, q);
        p = e;
        while (p < n && s.charCodeAt(p) === C_SPACE) p++;
      }
    } else if (c === 62 /* > */ && p > 0) {
      return; // " > /lib/…(fn+0x1f) [0x…]": a stack frame of the line before (-k), not a record
    }
    // timestamp
    let ts: bigint;
    c = s.charCodeAt(p);
    if (isDigit(c)) {
      let q = p + 1;
      while (q < n && s.charCodeAt(q) !== C_SPACE) q++;
      const t = this.parseTimestamp(s, p, q);
      if (t === undefined) return this.bad(lineNo, 'bad timestamp', s);
      ts = t;
      this.hadClock = true;
      p = q;
      while (p < n && s.charCodeAt(p) === C_SPACE) p++;
    } else {
      ts = BigInt(this.seq);
    }
    if (p === n) return this.bad(lineNo, 'no event after the prefix', s);
    c = s.charCodeAt(p);

    // non-syscall records
    if (c === 45 /* - */ || c === 43 /* + */) {
      const mark = c === 45 ? '--- ' : '+++ ';
      const end = c === 45 ? ' ---' : ' +++';
      if (!s.startsWith(mark, p) || !s.endsWith(end)) return this.bad(lineNo, 'unrecognised line', s);
      this.counts.events++;
      this.counts.otherEvents++;
      this.seq++;
      if (c === 43 && tid >= 0 && (s.startsWith('exited', p + 4) || s.startsWith('killed', p + 4) || s.startsWith('superseded', p + 4))) {
        this.threadGone(tid);
      }
      return;
    }
    if (c === 115 /* s */ && s.startsWith('strace: ', p)) {
      this.counts.events++;
      this.counts.otherEvents++;
      return;
    }

    // resumed call
    if (c === 60 /* < */) {
      if (!s.startsWith('<... ', p)) return this.bad(lineNo, 'unrecognised line', s);
      const q = s.indexOf(' resumed>', p + 5);
      if (q < 0) return this.bad(lineNo, 'expected "<... NAME resumed>"', s);
      const name = s.slice(p + 5, q);
      if (!validName(name)) return this.bad(lineNo, 'bad syscall name', s);
      return this.resumed(s, q + 9, name, tid, ts, lineNo, out);
    }

    // name(
    const n0 = p;
    while (p < n) {
      c = s.charCodeAt(p);
      if ((c >= 97 && c <= 122) || (c >= C_0 && c <= C_9) || c === 95 || (c >= 65 && c <= 90)) p++;
      else break;
    }
    if (p === n0 || p === n || c !== 40 /* ( */) return this.bad(lineNo, 'expected "name("', s);
    const name = s.slice(n0, p);
    const a0 = p + 1;

    if (s.endsWith(UNFINISHED)) {
      const raw = s.slice(a0, n - UNFINISHED.length);
      return this.unfinished(name, raw, tid, ts, out);
    }
    if (s.endsWith(DETACHED)) {
      // strace detached while the call was in progress: an entry that will never see its exit.
      let e = n - DETACHED.length;
      while (e > a0 && s.charCodeAt(e - 1) === C_SPACE) e--;
      this.rErrno = undefined;
      this.noReturn++;
      return this.entryOnly(name, s.slice(a0, e), tid, ts, out);
    }
    const close = this.findResult(s, a0);
    if (close < 0) return this.bad(lineNo, 'expected ") = result"', s);
    if (!this.parseResult(s, s.indexOf('= ', close) + 2)) return this.bad(lineNo, 'bad return value', s);
    const raw = s.slice(a0, close);
    if (this.rNoReturn) {
      if (!NO_EXIT_CALLS.has(name)) this.noReturn++;
      return this.entryOnly(name, raw, tid, ts, out);
    }
    // a finished call
    const pid = this.pidOf(tid);
    const procBefore = this.procs.get(pid) ?? '';
    const args = makeArgs(name, raw);
    this.addResultArgs(args);
    const ev: SyscallEvent = { ts, cpu: -1, pid, tid, proc: procBefore, name, phase: 'complete', args, ret: this.rRet };
    if (this.rLatency !== undefined) ev.latency = this.rLatency;
    this.counts.events++;
    this.counts.syscallEntries++;
    this.counts.syscallExits++;
    this.counts.completed++;
    this.seq++;
    this.afterReturn(name, raw, tid, pid, this.rRet!);
    if (this.lineComm !== undefined) ev.proc = this.lineComm;
    else if (procBefore === '') ev.proc = this.procs.get(pid) ?? '';
    out.push(ev);
  }

  /** End of input: emits the entries still waiting for their exit (paired mode). */
  end(out: SyscallEvent[]): void {
    this.pairer?.flush(out);
  }

  // ---------------------------------------------------------------------------------------------------------------

  private unfinished(name: string, raw: string, tid: number, ts: bigint, out: SyscallEvent[]): void {
    const pid = this.pidOf(tid);
    const ev: SyscallEvent = { ts, cpu: -1, pid, tid, proc: this.lineComm ?? this.procs.get(pid) ?? '', name, phase: 'entry', args: makeArgs(name, raw) };
    this.counts.events++;
    this.counts.syscallEntries++;
    this.seq++;
    this.open.set(tid, { name, raw });
    if (CLONE_CALLS.has(name)) this.openClones.add(tid);
    else this.openClones.delete(tid);
    this.emitEntry(ev, out);
  }

  /** An entry whose call will not return (`= ?`, `<detached ...>`). */
  private entryOnly(name: string, raw: string, tid: number, ts: bigint, out: SyscallEvent[]): void {
    const pid = this.pidOf(tid);
    const ev: SyscallEvent = { ts, cpu: -1, pid, tid, proc: this.lineComm ?? this.procs.get(pid) ?? '', name, phase: 'entry', args: makeArgs(name, raw) };
    if (this.rErrno !== undefined) ev.args.errno = this.rErrno;
    this.counts.events++;
    this.counts.syscallEntries++;
    this.seq++;
    this.emitEntry(ev, out);
  }

  private emitEntry(ev: SyscallEvent, out: SyscallEvent[]): void {
    if (this.pairer) this.pairer.push(ev, out);
    else {
      if (NO_EXIT_CALLS.has(ev.name)) this.counts.noExitCalls++;
      out.push(ev);
    }
  }

  private resumed(s: string, r: number, name: string, tid: number, ts: bigint, lineNo: number, out: SyscallEvent[]): void {
    let opened = this.open.get(tid);
    if (opened !== undefined) {
      this.open.delete(tid);
      this.openClones.delete(tid);
      if (opened.name !== name) opened = undefined;
    }
    if (s.endsWith(UNFINISHED) || s.endsWith(DETACHED)) {
      // resumed only to be cut again (the thread was killed or strace detached): no exit.
      this.counts.events++;
      this.seq++;
      if (!NO_EXIT_CALLS.has(name)) this.noReturn++;
      return;
    }
    const close = this.findResult(s, r);
    if (close < 0) return this.bad(lineNo, 'expected ") = result" after "resumed>"', s);
    if (!this.parseResult(s, s.indexOf('= ', close) + 2)) return this.bad(lineNo, 'bad return value', s);
    if (this.rNoReturn) {
      // `<... exit resumed>) = ?`: the tail of a call that did not return; its entry is already out.
      this.counts.events++;
      this.seq++;
      if (!NO_EXIT_CALLS.has(name)) this.noReturn++;
      return;
    }
    const raw = s.slice(r, close);
    const pid = this.pidOf(tid);
    const args: Record<string, FieldValue> = { raw };
    this.addResultArgs(args);
    const ev: SyscallEvent = { ts, cpu: -1, pid, tid, proc: '', name, phase: 'exit', args, ret: this.rRet };
    this.counts.events++;
    this.counts.syscallExits++;
    this.seq++;
    const latency = this.rLatency;
    this.afterReturn(name, opened !== undefined ? opened.raw : '', tid, pid, this.rRet!);
    ev.proc = this.lineComm ?? this.procs.get(pid) ?? '';
    if (!this.pairer) {
      out.push(ev);
      return;
    }
    const first = out.length;
    this.pairer.push(ev, out);
    for (let i = first; i < out.length; i++) {
      const o = out[i];
      if (o.phase !== 'complete') continue;
      // The pairer merged the args into a new object (the exit's raw text won): restore the whole argument text.
      if (opened !== undefined && o.args !== ev.args) o.args.raw = opened.raw + raw;
      if (latency !== undefined) o.latency = latency;
      else if (!this.hadClock) delete o.latency;
    }
  }

  /**
   * Finds the `)` that closes the arguments before ` = result`, searching from the end (arguments may contain
   * " = " inside strings; strace pads with spaces between `)` and `=`). Returns its index, or -1.
   */
  private findResult(s: string, from: number): number {
    let eq = s.lastIndexOf(' = ');
    while (eq > from) {
      let k = eq - 1;
      while (k >= from && s.charCodeAt(k) === C_SPACE) k--;
      if (k >= from && s.charCodeAt(k) === 41 /* ) */) return k;
      eq = s.lastIndexOf(' = ', eq - 1);
    }
    return -1;
  }

  /**
   * Parses the text after ") = ": `ret[<deco>] [ERRNO (text)|(annotation)] [<latency>]` or `? [ERRNO (text)]`.
   * Sets the r* fields; returns false when malformed.
   */
  private parseResult(s: string, p: number): boolean {
    this.rRet = undefined;
    this.rErrno = undefined;
    this.rRetPath = undefined;
    this.rLatency = undefined;
    this.rNoReturn = false;
    let end = s.length;
    if (p < 2) return false;
    // latency "<0.000123>" (or "<unavailable>") at the very end
    if (s.charCodeAt(end - 1) === 62 /* > */) {
      const lt = s.lastIndexOf(' <', end - 1);
      if (lt >= p) {
        const d = parseDuration(s, lt + 2, end - 1);
        if (d !== undefined) {
          this.rLatency = d;
          end = lt;
        } else if (s.startsWith('unavailable>', lt + 2) && lt + 14 === end) end = lt;
      }
    }
    while (end > p && s.charCodeAt(end - 1) === C_SPACE) end--;
    if (p >= end) return false;
    let q = p;
    let c = s.charCodeAt(q);
    if (c === 63 /* ? */) {
      q++;
      if (q === end) {
        this.rNoReturn = true;
        return true;
      }
      // "? ERESTARTSYS (To be restarted …)": the call returned to the kernel with an internal restart code
      if (s.charCodeAt(q) !== C_SPACE) return false;
      const e = readErrno(s, q + 1, end);
      if (e === undefined) return false;
      this.rErrno = e;
      const num = ERRNO.get(e);
      this.rRet = num !== undefined ? -num : -1;
      return true;
    }
    const neg = c === 45 /* - */;
    if (neg) q++;
    const d0 = q;
    let value: number | bigint;
    if (s.charCodeAt(q) === C_0 && s.charCodeAt(q + 1) === 120 /* x */) {
      q += 2;
      const h0 = q;
      while (q < end && isHex(s.charCodeAt(q))) q++;
      if (q === h0) return false;
      const hex = s.slice(h0, q);
      value = hex.length <= 13 ? parseInt(hex, 16) : toNumberIfSafe(BigInt('0x' + hex));
    } else {
      while (q < end && isDigit(s.charCodeAt(q))) q++;
      if (q === d0) return false;
      const dec = s.slice(d0, q);
      value = dec.length <= 15 ? +dec : toNumberIfSafe(BigInt(dec));
    }
    if (neg) value = typeof value === 'bigint' ? toNumberIfSafe(-value) : -value;
    this.rRet = value;
    if (q === end) return true;
    c = s.charCodeAt(q);
    if (c === 60 /* < */) {
      // a returned fd decorated by -y: "3</etc/passwd>"
      const g = s.lastIndexOf('>', end - 1);
      if (g <= q) return false;
      this.rRetPath = s.slice(q + 1, g);
      q = g + 1;
      if (q === end) return true;
      c = s.charCodeAt(q);
    }
    if (c !== C_SPACE) return false;
    q++;
    c = s.charCodeAt(q);
    if (c >= 65 && c <= 90 /* A-Z */) {
      const e = readErrno(s, q, end);
      if (e === undefined) return false;
      this.rErrno = e;
      if (value === -1) {
        const num = ERRNO.get(e);
        if (num !== undefined) this.rRet = -num;
      }
      return true;
    }
    // an annotation such as "(Timeout)", "(flags O_RDONLY)", "([{fd=3, revents=POLLIN}])": kept in args.raw only
    return c === 40 /* ( */;
  }

  private addResultArgs(args: Record<string, FieldValue>): void {
    if (this.rErrno !== undefined) args.errno = this.rErrno;
    if (this.rRetPath !== undefined) args.retPath = this.rRetPath;
  }

  /** Parses a timestamp token: "1700000000.123456[789]", "HH:MM:SS.ffffff" or "HH:MM:SS". */
  private parseTimestamp(s: string, p: number, q: number): bigint | undefined {
    let i = p;
    while (i < q && isDigit(s.charCodeAt(i))) i++;
    if (i === p) return undefined;
    const c = s.charCodeAt(i);
    if (c === 46 /* . */) {
      // epoch seconds with a fraction: the seconds' ns are cached (they change once a second), the fraction added
      const frac = fractionNs(s, i + 1, q);
      if (frac === undefined) return undefined;
      if (i - p !== this.secLen || !s.startsWith(this.secText, p)) {
        this.secText = s.slice(p, i);
        this.secLen = i - p;
        this.secNs = BigInt(this.secText) * 1_000_000_000n;
      }
      return frac === 0 ? this.secNs : this.secNs + BigInt(frac);
    }
    if (c !== 58 /* : */ || i - p > 2) return undefined;
    // time of day
    if (q - p < 8 || s.charCodeAt(p + 2) !== 58 || s.charCodeAt(p + 5) !== 58) return undefined;
    const hh = twoDigits(s, p);
    const mm = twoDigits(s, p + 3);
    const ss = twoDigits(s, p + 6);
    if (hh < 0 || mm < 0 || ss < 0) return undefined;
    let ns = ((hh * 60 + mm) * 60 + ss) * 1e9;
    if (q > p + 8) {
      if (s.charCodeAt(p + 8) !== 46) return undefined;
      const f0 = p + 9;
      let j = f0;
      while (j < q && isDigit(s.charCodeAt(j))) j++;
      if (j !== q || j === f0) return undefined;
      const frac = s.slice(f0, Math.min(q, f0 + 9));
      ns += +frac.padEnd(9, '0');
    }
    if (this.todFirst < 0) {
      this.todFirst = ns;
      this.todLast = ns;
    }
    if (ns + HALF_DAY < this.todLast) this.todDays++;
    this.todLast = ns;
    return BigInt(ns - this.todFirst + this.todDays * NS_PER_DAY);
  }

  /** The thread group of `tid`, registering a tid seen for the first time. */
  private pidOf(tid: number): number {
    if (tid < 0) return -1;
    const known = this.tgid.get(tid);
    if (known !== undefined) return known;
    let pid = tid;
    if (this.openClones.size === 1) {
      // Its parent's clone has not returned yet: with one clone in progress, that is the parent.
      const parent = this.openClones.values().next().value as number;
      const call = this.open.get(parent);
      const ppid = this.tgid.get(parent) ?? parent;
      if (call !== undefined && isThreadClone(call.name, call.raw)) pid = ppid;
      else {
        const pp = this.procs.get(ppid);
        if (pp !== undefined && !this.procs.has(tid)) this.procs.set(tid, pp);
      }
    }
    this.join(tid, pid);
    return pid;
  }

  private join(tid: number, pid: number): void {
    this.tgid.set(tid, pid);
    this.members.set(pid, (this.members.get(pid) ?? 0) + 1);
  }

  private leave(tid: number, pid: number): void {
    this.tgid.delete(tid);
    const m = (this.members.get(pid) ?? 1) - 1;
    if (m <= 0) {
      this.members.delete(pid);
      this.procs.delete(pid);
    } else this.members.set(pid, m);
  }

  private threadGone(tid: number): void {
    const pid = this.tgid.get(tid);
    if (pid !== undefined) this.leave(tid, pid);
    this.open.delete(tid);
    this.openClones.delete(tid);
  }

  /** Process tracking on a call's return: new threads/processes from clone-like calls, names from execve. */
  private afterReturn(name: string, entryRaw: string, tid: number, pid: number, ret: number | bigint): void {
    if (tid < 0) {
      // no pid column: a single traced process, pid -1; only its name can be followed
      if (ret === 0 && (name === 'execve' || name === 'execveat')) this.exec(pid, entryRaw);
      return;
    }
    if (CLONE_CALLS.has(name)) {
      if (typeof ret !== 'number' || ret <= 0) return;
      const child = ret;
      const thread = isThreadClone(name, entryRaw);
      const childPid = thread ? pid : child;
      const prev = this.tgid.get(child);
      if (prev !== childPid) {
        if (prev !== undefined) this.leave(child, prev);
        this.join(child, childPid);
      }
      if (!thread && !this.procs.has(child)) {
        const pp = this.procs.get(pid);
        if (pp !== undefined) this.procs.set(child, pp);
      }
      return;
    }
    if (ret === 0 && (name === 'execve' || name === 'execveat')) this.exec(pid, entryRaw);
  }

  private exec(pid: number, raw: string): void {
    const name = execName(raw);
    if (name !== undefined && name !== '') this.procs.set(pid, name);
  }
}
