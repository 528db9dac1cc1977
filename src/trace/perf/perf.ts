/**
 * @module trace/perf/perf
 * `perf data convert --to-ctf` event records → syscall events.
 *
 * perf's CTF layout: one stream class; every event's payload starts with `perf_ip`, `perf_tid`, `perf_pid`,
 * `perf_cpu`… then the tracepoint's `common_*` fields and its own. Syscalls come as `syscalls:sys_enter_X` /
 * `syscalls:sys_exit_X` (arguments by name, `ret`), or `raw_syscalls:sys_enter {id, args[6]}` /
 * `raw_syscalls:sys_exit {id, ret}` (names from the x86_64 table). Process names come from `comm` records
 * (`perf data convert --all`) and `sched:sched_switch` / `sched_process_exec` when present.
 */
import type { CtfEventRecord } from '../ctf/stream.js';
import { argsCopier } from '../args.js';
import type { FieldValue, ReaderCounts, SyscallEvent } from '../event.js';
import { X86_64_SYSCALLS } from '../syscalls/x86_64.js';

const num = (v: unknown): number => (typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : -1);

/** perf's per-sample fields and the tracepoint's common fields: not syscall arguments. */
const PERF_FIELDS = new Set([
  'perf_ip', 'perf_tid', 'perf_pid', 'perf_id', 'perf_cpu', 'perf_period', 'perf_stream_id', 'perf_time', 'perf_addr',
  'common_type', 'common_flags', 'common_preempt_count', 'common_pid', '__syscall_nr', 'nr', 'id',
]);

/**
 * The payload members no interpreter step reads (`CtfReader.leaveUnread`): perf's per-sample fields other than the
 * thread, process and CPU, and the tracepoint's common fields. `perf_ip` alone (a kernel address: a bigint per
 * record) was ~5 % of decoding a large perf trace.
 */
export const PERF_UNREAD: ReadonlySet<string> = new Set([...PERF_FIELDS].filter((f) => !['perf_tid', 'perf_pid', 'perf_cpu', 'id'].includes(f)));

type Kind = {
  phase: 'entry' | 'exit' | 'other';
  name: string;
  raw: boolean;
  /** Copies the syscall's own arguments out of a payload (generated per event class: see `argsCopier`). */
  args: (p: Record<string, unknown>) => Record<string, FieldValue>;
};


export class PerfInterpreter {
  private readonly comm = new Map<number, string>();
  private readonly kinds = new Map<object, Kind>();
  /** raw_syscalls events whose number is not in the table. */
  unknownNumbers = 0;

  constructor(private readonly counts: ReaderCounts) {}

  private kindOf(rec: CtfEventRecord): Kind {
    let k = this.kinds.get(rec.eventClass);
    if (!k) {
      const n = rec.name;
      const members = (rec.eventClass.payload?.members ?? []).map((m) => m.name);
      const own = argsCopier(members.filter((f) => !PERF_FIELDS.has(f) && f !== 'ret'));
      const none = argsCopier([]);
      let m: RegExpMatchArray | null;
      if ((m = /^syscalls:sys_enter_(.+)$/.exec(n))) k = { phase: 'entry', name: m[1]!, raw: false, args: own };
      else if ((m = /^syscalls:sys_exit_(.+)$/.exec(n))) k = { phase: 'exit', name: m[1]!, raw: false, args: own };
      else if (n === 'raw_syscalls:sys_enter') k = { phase: 'entry', name: '', raw: true, args: argsCopier(['args']) };
      else if (n === 'raw_syscalls:sys_exit') k = { phase: 'exit', name: '', raw: true, args: none };
      else k = { phase: 'other', name: n, raw: false, args: none };
      this.kinds.set(rec.eventClass, k);
    }
    return k;
  }

  interpret(rec: CtfEventRecord): SyscallEvent | undefined {
    const p = rec.payload ?? {};
    const k = this.kindOf(rec);
    if (k.phase === 'other') {
      this.counts.otherEvents++;
      this.track(rec.name, p);
      return undefined;
    }
    const tid = num(p['perf_tid']);
    const pid = num(p['perf_pid']);
    const cpu = num(p['perf_cpu']);
    let name = k.name;
    if (k.raw) {
      const id = num(p['id']);
      name = X86_64_SYSCALLS[id] ?? `sys_${id}`;
      if (!(id in X86_64_SYSCALLS)) this.unknownNumbers++;
    }
    const args = k.args(p);
    const proc = this.comm.get(tid) ?? this.comm.get(pid) ?? '';
    // Every event is built with all fields, so all share one shape (pairing then completes them in place).
    if (k.phase === 'entry') {
      this.counts.syscallEntries++;
      return { ts: rec.ts, cpu, pid, tid, proc, name, phase: 'entry', args, ret: undefined, latency: undefined };
    }
    this.counts.syscallExits++;
    const ret = p['ret'];
    return {
      ts: rec.ts, cpu, pid, tid, proc, name, phase: 'exit', args,
      ret: typeof ret === 'number' || typeof ret === 'bigint' ? ret : undefined, latency: undefined,
    };
  }

  private track(name: string, p: Record<string, unknown>): void {
    switch (name) {
      case 'perf_comm': case 'comm':
        if (typeof p['comm'] === 'string') this.comm.set(num(p['tid'] ?? p['perf_tid']), p['comm']);
        break;
      case 'perf_fork': {
        // A new thread or process starts with its parent's name.
        const parent = this.comm.get(num(p['ptid'])) ?? this.comm.get(num(p['ppid']));
        if (parent !== undefined) this.comm.set(num(p['tid']), parent);
        break;
      }
      case 'sched:sched_switch':
        if (typeof p['next_comm'] === 'string') this.comm.set(num(p['next_pid']), p['next_comm']);
        break;
      case 'sched:sched_process_exec': {
        const f = p['filename'];
        if (typeof f === 'string') this.comm.set(num(p['pid']), f.slice(f.lastIndexOf('/') + 1).slice(0, 15));
        break;
      }
    }
  }
}
