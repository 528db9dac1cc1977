/**
 * @module cli/stats
 * `syscall-anomaly stats <trace> [--json]`: what a trace holds, counted in one streaming pass.
 */
import { computeStats, type TraceStats } from '../trace/stats.js';
import { openTrace } from '../trace/open.js';
import { progress } from './run.js';

export async function statsCommand(path: string, json: boolean, lenient: boolean): Promise<void> {
  const src = await openTrace(path, 'paired', { lenient, follow: false });
  const p = progress('events');
  const s = await computeStats(src, p.tick);
  p.done();
  process.stdout.write(json ? JSON.stringify(s, null, 2) + '\n' : formatStats(s));
}

function top(rec: Record<string, number>, n: number): string {
  const rows = Object.entries(rec).slice(0, n);
  const w = Math.max(8, ...rows.map(([k]) => k.length));
  const more = Object.keys(rec).length - rows.length;
  return rows.map(([k, v]) => `  ${k.padEnd(w)} ${v.toLocaleString('en-US').padStart(12)}`).join('\n')
    + (more > 0 ? `\n  … ${more} more (--json lists all)` : '') + '\n';
}

export function formatStats(s: TraceStats): string {
  const n = (v: number) => v.toLocaleString('en-US');
  const lines = [
    `trace            ${s.path} (${s.format})`,
    `events           ${n(s.events)}   (every event record; ${n(s.otherEvents)} not syscalls)`,
    `syscall entries  ${n(s.syscallEntries)}`,
    `syscall exits    ${n(s.syscallExits)}`,
    `completed calls  ${n(s.completed)}   (entry and exit paired, with latency)`,
    `unmatched        ${n(s.unmatchedEntries)} entries, ${n(s.unmatchedExits)} exits; ${n(s.noExitCalls)} exit/exit_group; ${n(s.cloneChildExits)} clone child returns`,
    `lost events      ${n(s.lost)}${s.skipped ? `   skipped (damaged): ${n(s.skipped)}` : ''}`,
    `threads          ${n(s.threads)}`,
    `time span        ${s.durationS.toFixed(6)} s`,
    '',
    'syscalls (calls):',
    top(s.syscalls, 15),
    'processes (calls):',
    top(s.processes, 10),
  ];
  return lines.join('\n');
}
