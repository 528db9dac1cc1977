/**
 * @module bench/large-trace
 * A large real CTF trace (≥ 300 MB) for speed measurements, recorded once system-wide with `recordSystem` while a
 * syscall-heavy load runs, and kept outside the repository in
 * `${XDG_CACHE_HOME:-~/.cache}/syscall-anomaly/bench-large/` (`ctf/` plus `READY.json`). Later runs reuse it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { findOnPath } from '../trace/record/privileges.js';
import { recordSystem } from '../trace/record/record.js';
import { timeCommand } from './util.js';

export const LARGE_TRACE_MIN_BYTES = 300 * 1024 * 1024;

export function largeTraceDir(): string {
  const cache = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(cache, 'syscall-anomaly', 'bench-large');
}

/** What `READY.json` says about the recorded trace. */
export interface LargeTraceInfo {
  ctfDir: string;
  /** Bytes of CTF (metadata + streams). */
  bytes: number;
  /** Event messages babeltrace2 counted, or null when babeltrace2 is not installed. */
  babeltraceEvents: number | null;
  /** perf's counts for the recording. */
  samples: number;
  lost: number;
  /** Seconds of load recorded; seconds the whole recording and conversion took. */
  windowS: number;
  recordSeconds: number;
  convertSeconds: number;
  recordedAt: string;
  load: string[];
}

export function folderBytes(dir: string): number {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    total += e.isDirectory() ? folderBytes(p) : statSync(p).size;
  }
  return total;
}

/** The final "N Event messages" line of `babeltrace2 -c sink.utils.counter` (it also prints every `step` messages). */
export function parseCounterEvents(stdout: string): number | null {
  const all = [...stdout.matchAll(/^\s*(\d+) Event messages/gm)];
  return all.length ? Number(all[all.length - 1]![1]) : null;
}

/** Counts events with babeltrace2; null when it is missing or fails. */
export async function babeltraceCount(ctfDir: string): Promise<number | null> {
  if (!findOnPath('babeltrace2')) return null;
  const r = await timeCommand(['babeltrace2', '-c', 'sink.utils.counter', '-p', 'step=+0', ctfDir]);
  return r.ok ? parseCounterEvents(r.stdout) : null;
}

/**
 * The load: shell loops (fork/exec, file lookups, directory walks) and a tight syscall loop, all on loopback-free
 * local work. Each entry is one `sh -c` script; stress-ng's `--get` stressor is used when installed.
 */
function loadScripts(): string[] {
  const loads = [
    'while :; do find /usr -xdev >/dev/null 2>&1; done',
    'while :; do cat /etc/hostname /etc/os-release >/dev/null; ls -la /proc/self/ >/dev/null; done',
  ];
  loads.push(findOnPath('stress-ng')
    ? 'exec stress-ng --get 1 --timeout 600 -q'
    : 'exec dd if=/dev/zero of=/dev/null bs=512 count=100000000 status=none');
  return loads;
}

function startLoads(scripts: string[]): ChildProcess[] {
  return scripts.map((s) => spawn('sh', ['-c', s], { stdio: 'ignore', detached: true }));
}

function stopLoads(children: ChildProcess[]): void {
  for (const c of children) {
    if (c.pid === undefined || c.exitCode !== null) continue;
    try {
      process.kill(-c.pid, 'SIGKILL'); // the whole process group: the shell and what it runs
    } catch {
      /* already gone */
    }
  }
}

/** Reads `READY.json` when the trace is there and complete. */
export function readLargeTrace(dir = largeTraceDir()): LargeTraceInfo | null {
  const ready = join(dir, 'READY.json');
  if (!existsSync(ready) || !existsSync(join(dir, 'ctf', 'metadata'))) return null;
  try {
    return JSON.parse(readFileSync(ready, 'utf8')) as LargeTraceInfo;
  } catch {
    return null;
  }
}

/**
 * The large trace: reused when present, else recorded now (needs perf and root; ~1–2 minutes, mostly the kernel
 * closing ~700 tracepoints per CPU and `perf data convert`). Returns a reason when it cannot be had.
 */
export async function ensureLargeTrace(log: (line: string) => void): Promise<LargeTraceInfo | { error: string }> {
  const dir = largeTraceDir();
  const have = readLargeTrace(dir);
  if (have) return have;

  let windowS = 10; // ~450 MiB of CTF on the 2-CPU development machine; retried longer once if under 300 MB
  for (let attempt = 0; attempt < 2; attempt++) {
    log(`recording the large trace system-wide for ${windowS} s under load into ${dir} …`);
    rmSync(join(dir, 'READY.json'), { force: true });
    const scripts = loadScripts();
    const t0 = performance.now();
    const loads = startLoads(scripts);
    // The window starts once perf has opened its events (well under a second); stop the load right after it.
    const timer = setTimeout(() => stopLoads(loads), (windowS + 1) * 1000);
    let r;
    try {
      r = await recordSystem(dir, windowS, 'syscalls');
    } finally {
      clearTimeout(timer);
      stopLoads(loads);
    }
    if (!r.ok) return { error: r.reason };
    const wall = (performance.now() - t0) / 1000;
    rmSync(r.perfData, { force: true }); // as large as the CTF; not needed for benches
    const bytes = folderBytes(r.ctfDir);
    log(`recorded ${r.samples.toLocaleString('en-US')} samples (${r.lost} lost), ${(bytes / 2 ** 20).toFixed(0)} MiB of CTF; ` +
      `recording took ${wall.toFixed(1)} s (perf record ${r.seconds.toFixed(1)} s, convert ${r.convertSeconds.toFixed(1)} s)`);
    if (bytes < LARGE_TRACE_MIN_BYTES && attempt === 0) {
      windowS = Math.ceil(windowS * (LARGE_TRACE_MIN_BYTES / Math.max(bytes, 1)) * 1.2);
      continue;
    }
    const info: LargeTraceInfo = {
      ctfDir: r.ctfDir, bytes, babeltraceEvents: await babeltraceCount(r.ctfDir), samples: r.samples, lost: r.lost,
      windowS, recordSeconds: wall, convertSeconds: r.convertSeconds, recordedAt: new Date().toISOString(),
      load: scripts,
    };
    writeFileSync(join(dir, 'READY.json'), JSON.stringify(info, null, 2) + '\n');
    return info;
  }
  return { error: 'unreachable' };
}
