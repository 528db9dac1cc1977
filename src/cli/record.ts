/**
 * @module cli/record
 * `syscall-anomaly record -o DIR -- <command…>` and `record -o DIR --system --duration S`: capture syscalls with
 * perf tracepoints and convert them to CTF, which every other command reads.
 */
import { recordCommand, recordSystem, type RecordEvents, type RecordProgress } from '../trace/record/record.js';
import { UsageError } from './run.js';

export async function recordCli(outDir: string, command: string[], system: boolean, durationS: number | undefined, events: RecordEvents): Promise<void> {
  const onProgress = (p: RecordProgress) => process.stderr.write(`record: ${p.message}\n`);
  if (system && command.length) throw new UsageError('record: give either --system or a command after --, not both');
  if (!system && command.length === 0) throw new UsageError('record: give a command after -- (or --system --duration S)');
  if (system && durationS === undefined) throw new UsageError('record --system needs --duration S');
  const r = system ? await recordSystem(outDir, durationS!, events, onProgress) : await recordCommand(outDir, command, events, onProgress);
  if (!r.ok) throw new UsageError(`record: ${r.reason}`);
  process.stderr.write(
    `recorded ${r.samples.toLocaleString('en-US')} events in ${r.seconds.toFixed(1)} s (${r.lost} lost), converted in `
    + `${r.convertSeconds.toFixed(1)} s → ${r.ctfDir}\n`
    + `next: syscall-anomaly stats ${r.ctfDir}\n`,
  );
  if (r.exitCode !== null && r.exitCode !== 0 && !system) process.exitCode = r.exitCode;
}
