/**
 * @module trace/record/privileges
 * Can this process record syscall tracepoints with perf? A pure decision (`privilegeProblem`) over facts that
 * `probeRecordFacts` reads from the machine, so every message can be tested without changing the machine.
 * Each problem is one line that names the fix.
 */
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Where tracefs stands: mounted (with or without syscall events), only a mount point, or not in this kernel. */
export type TracefsState = 'mounted' | 'no-syscall-events' | 'unreadable' | 'mountable' | 'absent';

/** Capability bits (from `CapEff` in /proc/self/status) that let a non-root user open tracepoints. */
const CAP_SYS_ADMIN = 21n;
const CAP_PERFMON = 38n;

/** True when the effective capability mask holds CAP_PERFMON or CAP_SYS_ADMIN. */
export function hasPerfCapability(capEff: bigint): boolean {
  return ((capEff >> CAP_PERFMON) & 1n) === 1n || ((capEff >> CAP_SYS_ADMIN) & 1n) === 1n;
}

/**
 * Why recording cannot start, or null when it can.
 * - `uid`: effective user id (0 = root).
 * - `paranoid`: `/proc/sys/kernel/perf_event_paranoid`, or null when that file could not be read.
 * - `perfFound`: whether a `perf` binary is on PATH.
 * - `tracefs`: see `TracefsState`; root may leave it unmounted (perf mounts it).
 * - `capEff`: effective capabilities; CAP_PERFMON or CAP_SYS_ADMIN count as root for the paranoid check.
 */
export function privilegeProblem(
  uid: number,
  paranoid: number | null,
  perfFound: boolean,
  tracefs: TracefsState = 'mounted',
  capEff: bigint = 0n,
): string | null {
  if (!perfFound) {
    return 'perf not found on PATH: install it (Debian: `apt-get install linux-perf`; Ubuntu: `apt-get install linux-tools-$(uname -r)`)';
  }
  if (tracefs === 'absent') {
    return 'no tracefs in this kernel (neither /sys/kernel/tracing nor /sys/kernel/debug/tracing): use a kernel built with CONFIG_FTRACE';
  }
  const privileged = uid === 0 || hasPerfCapability(capEff);
  if (!privileged) {
    if (paranoid === null) {
      return 'cannot read /proc/sys/kernel/perf_event_paranoid: run as root (sudo), or give perf CAP_PERFMON';
    }
    if (paranoid > -1) {
      return `perf_event_paranoid is ${paranoid}: syscall tracepoints need -1 (or root/CAP_PERFMON); run \`sudo sysctl kernel.perf_event_paranoid=-1\` or record as root`;
    }
    if (tracefs === 'mountable') {
      return 'tracefs is not mounted: run `sudo mount -t tracefs nodev /sys/kernel/tracing` (or record as root)';
    }
    if (tracefs === 'unreadable') {
      return 'tracefs events are readable by root only: run `sudo chmod -R a+rX /sys/kernel/tracing` (or record as root)';
    }
  }
  if (tracefs === 'no-syscall-events') {
    return 'tracefs has no syscalls:* events: use a kernel built with CONFIG_FTRACE_SYSCALLS, or record raw_syscalls';
  }
  return null;
}

/** The facts `privilegeProblem` decides on, read from this machine. */
export interface RecordFacts {
  uid: number;
  paranoid: number | null;
  perfFound: boolean;
  tracefs: TracefsState;
  capEff: bigint;
}

/** Finds `name` on PATH (an executable file), or undefined. */
export function findOnPath(name: string, path = process.env.PATH ?? ''): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const full = join(dir, name);
    try {
      accessSync(full, constants.X_OK);
      return full;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

/** Reads a sysctl-style integer file; null when missing or not an integer. */
export function readIntFile(path: string): number | null {
  try {
    const v = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
    return Number.isFinite(v) ? v : null;
  } catch {
    return null;
  }
}

function tracefsState(): TracefsState {
  let mounts = '';
  try {
    mounts = readFileSync('/proc/mounts', 'utf8');
  } catch {
    /* no /proc: decide from the folders alone */
  }
  const candidates = ['/sys/kernel/tracing', '/sys/kernel/debug/tracing'];
  for (const dir of candidates) {
    const mounted = mounts.split('\n').some((l) => {
      const [, mnt, type] = l.split(' ');
      return mnt === dir && (type === 'tracefs' || type === 'debugfs');
    });
    if (!mounted && !existsSync(join(dir, 'events'))) continue;
    try {
      accessSync(join(dir, 'events'), constants.R_OK | constants.X_OK);
    } catch {
      return 'unreadable';
    }
    return existsSync(join(dir, 'events', 'syscalls')) || existsSync(join(dir, 'events', 'raw_syscalls'))
      ? 'mounted'
      : 'no-syscall-events';
  }
  return candidates.some((d) => existsSync(d)) ? 'mountable' : 'absent';
}

function effectiveCaps(): bigint {
  try {
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? BigInt('0x' + m[1]) : 0n;
  } catch {
    return 0n;
  }
}

/** Reads the facts from this machine; `paranoidPath` can point elsewhere (tests). */
export function probeRecordFacts(paranoidPath = '/proc/sys/kernel/perf_event_paranoid'): RecordFacts {
  return {
    uid: process.geteuid ? process.geteuid() : -1,
    paranoid: readIntFile(paranoidPath),
    perfFound: findOnPath('perf') !== undefined,
    tracefs: tracefsState(),
    capEff: effectiveCaps(),
  };
}

/** One-line reason why this machine cannot record now, or null. */
export function checkRecordPrivileges(paranoidPath?: string): string | null {
  const f = probeRecordFacts(paranoidPath);
  return privilegeProblem(f.uid, f.paranoid, f.perfFound, f.tracefs, f.capEff);
}
