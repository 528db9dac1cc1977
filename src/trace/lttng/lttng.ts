/**
 * @module trace/lttng/lttng
 * LTTng kernel event records → syscall events.
 *
 * Namings: `syscall_entry_X` / `syscall_exit_X` (LTTng ≥ 2.6; also `compat_syscall_*`), and the older `sys_X` entry
 * with one `exit_syscall { ret }` for every exit (the name then comes from the pairing). Thread identity: `tid`,
 * `pid`, `procname` from the event contexts when the session added them; otherwise the running thread of each CPU
 * is tracked from `sched_switch` (`next_tid`, `next_comm`), and thread → process from the state dump
 * (`lttng_statedump_process_state`), `sched_process_fork` and `sched_process_exec`.
 */
import type { CtfEventRecord } from '../ctf/stream.js';
import type { FieldValue, ReaderCounts, SyscallEvent } from '../event.js';
import { argsCopier } from '../args.js';

interface Thread { pid: number; proc: string }

interface Kind {
  phase: 'entry' | 'exit' | 'other';
  name: string;
  /** Copies an exit's arguments (its payload less `ret`); entries use their payload as it is. */
  exitArgs?: (p: Record<string, unknown>) => Record<string, FieldValue>;
}

const num = (v: unknown): number => (typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : -1);

export class LttngInterpreter {
  /** Running tid per CPU, from sched_switch. */
  private readonly running = new Map<number, number>();
  private readonly threads = new Map<number, Thread>();
  /** Event class → how to read it (cached by class object). */
  private readonly kinds = new Map<object, Kind>();

  constructor(private readonly counts: ReaderCounts) {}

  private kindOf(rec: CtfEventRecord): Kind {
    let k = this.kinds.get(rec.eventClass);
    if (!k) {
      const n = rec.name;
      const members = (rec.eventClass.payload?.members ?? []).map((m) => m.name);
      const exitArgs = () => argsCopier(members.filter((f) => f !== 'ret'));
      let m: RegExpMatchArray | null;
      if ((m = /^(?:compat_)?syscall_entry_(.+)$/.exec(n))) k = { phase: 'entry', name: m[1]! };
      else if ((m = /^(?:compat_)?syscall_exit_(.+)$/.exec(n))) k = { phase: 'exit', name: m[1]!, exitArgs: exitArgs() };
      else if (n === 'exit_syscall') k = { phase: 'exit', name: 'unknown', exitArgs: exitArgs() }; // named by its entry when paired
      else if ((m = /^(?:compat_)?sys_(.+)$/.exec(n))) k = { phase: 'entry', name: m[1]! };
      else k = { phase: 'other', name: n };
      this.kinds.set(rec.eventClass, k);
    }
    return k;
  }

  /** Interprets one record: a syscall event, or undefined for other events (which update the thread state). */
  interpret(rec: CtfEventRecord): SyscallEvent | undefined {
    const k = this.kindOf(rec);
    const cpu = num(rec.packetContext?.['cpu_id']);
    const ctx = rec.specificContext ?? rec.commonContext;
    if (k.phase === 'other') {
      this.counts.otherEvents++;
      this.track(rec, cpu);
      return undefined;
    }
    let tid: number;
    let pid: number;
    let proc: string;
    const common = rec.commonContext;
    if (common && common['tid'] !== undefined) {
      tid = num(common['tid']);
      pid = common['pid'] !== undefined ? num(common['pid']) : this.threads.get(tid)?.pid ?? -1;
      proc = typeof common['procname'] === 'string' ? common['procname'] : this.threads.get(tid)?.proc ?? '';
    } else if (ctx && ctx['tid'] !== undefined) {
      tid = num(ctx['tid']);
      pid = ctx['pid'] !== undefined ? num(ctx['pid']) : this.threads.get(tid)?.pid ?? -1;
      proc = typeof ctx['procname'] === 'string' ? ctx['procname'] : this.threads.get(tid)?.proc ?? '';
    } else {
      tid = this.running.get(cpu) ?? -1;
      const t = this.threads.get(tid);
      pid = t?.pid ?? -1;
      proc = t?.proc ?? '';
    }
    const payload = rec.payload ?? {};
    // Every event is built with all fields, so all share one shape (pairing then completes them in place).
    if (k.phase === 'entry') {
      this.counts.syscallEntries++;
      // An entry's payload is exactly its arguments, and a fresh object per event: hand it over without a copy.
      const args = payload as Record<string, FieldValue>;
      return { ts: rec.ts, cpu, pid, tid, proc, name: k.name, phase: 'entry', args, ret: undefined, latency: undefined };
    }
    this.counts.syscallExits++;
    const ret = payload['ret'];
    return {
      ts: rec.ts, cpu, pid, tid, proc, name: k.name, phase: 'exit', args: k.exitArgs!(payload),
      ret: typeof ret === 'number' || typeof ret === 'bigint' ? ret : undefined, latency: undefined,
    };
  }

  private thread(tid: number): Thread {
    let t = this.threads.get(tid);
    if (!t) { t = { pid: -1, proc: '' }; this.threads.set(tid, t); }
    return t;
  }

  private track(rec: CtfEventRecord, cpu: number): void {
    const p = rec.payload;
    if (!p) return;
    switch (rec.name) {
      case 'sched_switch': {
        const tid = num(p['next_tid']);
        this.running.set(cpu, tid);
        if (typeof p['next_comm'] === 'string') this.thread(tid).proc = p['next_comm'];
        break;
      }
      case 'lttng_statedump_process_state': {
        const t = this.thread(num(p['tid']));
        t.pid = num(p['pid']);
        if (typeof p['name'] === 'string') t.proc = p['name'];
        break;
      }
      case 'sched_process_fork': {
        const child = this.thread(num(p['child_tid']));
        const parentPid = num(p['parent_pid']);
        child.pid = p['child_pid'] !== undefined ? num(p['child_pid']) : num(p['child_tid']);
        if (typeof p['child_comm'] === 'string') child.proc = p['child_comm'];
        if (parentPid >= 0 && this.threads.get(parentPid)?.pid === -1) this.thread(parentPid).pid = parentPid;
        break;
      }
      case 'sched_process_exec': {
        const t = this.thread(num(p['tid']));
        const file = p['filename'];
        if (typeof file === 'string') t.proc = file.slice(file.lastIndexOf('/') + 1).slice(0, 15);
        break;
      }
    }
  }
}
