/**
 * @module cli/demo
 * `syscall-anomaly demo`: the main job on the embedded demo trace (`data/demo/http-node`, recorded by the project
 * itself with `record`): what the trace holds, which processes did what, and the slowest calls.
 */
import { projectData } from '../testing/paths.js';
import type { SyscallEvent } from '../trace/event.js';
import { openTrace } from '../trace/open.js';
import { computeStats } from '../trace/stats.js';
import { formatStats } from './stats.js';

export const DEMO_TRACE = 'demo/http-node';

export async function demoCommand(json: boolean): Promise<void> {
  const path = projectData(DEMO_TRACE);
  const src = await openTrace(path, 'paired', { lenient: false, follow: false });
  const slowest: SyscallEvent[] = [];
  const perThread = new Map<number, { proc: string; calls: number; errors: number }>();
  const tap = async function* () {
    for await (const ev of src) {
      const t = perThread.get(ev.tid) ?? { proc: ev.proc, calls: 0, errors: 0 };
      t.calls++;
      if (!t.proc && ev.proc) t.proc = ev.proc;
      if (typeof ev.ret === 'number' && ev.ret < 0) t.errors++;
      perThread.set(ev.tid, t);
      if (ev.latency !== undefined) {
        slowest.push(ev);
        if (slowest.length > 64) { slowest.sort((a, b) => b.latency! - a.latency!); slowest.length = 10; }
      }
      yield ev;
    }
  };
  const stats = await computeStats(Object.assign(tap(), { format: src.format, path: src.path, counts: src.counts }));
  slowest.sort((a, b) => b.latency! - a.latency!);
  slowest.length = Math.min(slowest.length, 10);
  const threads = [...perThread].sort((a, b) => b[1].calls - a[1].calls);
  if (json) {
    process.stdout.write(JSON.stringify({
      stats,
      threads: threads.map(([tid, t]) => ({ tid, ...t })),
      slowest: slowest.map((e) => ({ name: e.name, proc: e.proc, tid: e.tid, latencyNs: e.latency, ret: typeof e.ret === 'bigint' ? e.ret.toString() : e.ret })),
    }, null, 2) + '\n');
    return;
  }
  process.stdout.write(`Demo: a syscall trace the project recorded itself (data/demo/README.md says how).\n\n`);
  process.stdout.write(formatStats(stats));
  process.stdout.write('\nthreads (calls, failed calls):\n');
  for (const [tid, t] of threads.slice(0, 10)) process.stdout.write(`  ${String(tid).padStart(7)} ${t.proc.padEnd(16)} ${String(t.calls).padStart(6)} ${String(t.errors).padStart(5)}\n`);
  process.stdout.write('\nslowest calls:\n');
  for (const e of slowest) process.stdout.write(`  ${(e.latency! / 1e6).toFixed(3).padStart(10)} ms  ${e.name.padEnd(16)} ${e.proc} (tid ${e.tid}) = ${String(e.ret)}\n`);
  process.stdout.write('\nTry it on your own trace: syscall-anomaly stats <trace>   (record one: syscall-anomaly record -o DIR -- <command>)\n');
}
