/**
 * @module trace/record/record.test
 * Records tiny real commands with perf and checks the CTF with babeltrace2 (the reference decoder); the privilege
 * decision is tested as a pure function. Recording tests skip (with the reason) where perf cannot record.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkRecordPrivileges, findOnPath, hasPerfCapability, privilegeProblem, probeRecordFacts } from './privileges.js';
import {
  mmapPages, parsePerfStats, perfErrorLine, perfPipeCommand, perfRecordArgs, recordCommand, recordSystem, type RecordProgress, withNotices,
} from './record.js';

const cannotRecord = checkRecordPrivileges();
const noBabeltrace = findOnPath('babeltrace2') === undefined ? 'babeltrace2 not installed' : null;
const skipReason = cannotRecord ?? noBabeltrace ?? undefined;

/** babeltrace2's text output, one line per event (a busy machine makes a system-wide 0.5 s window large). */
function babeltrace(ctfDir: string): string[] {
  return execFileSync('babeltrace2', [ctfDir], { encoding: 'utf8', maxBuffer: 1 << 30 }).split('\n').filter((l) => l);
}

/** Thread ids that perf_comm names `comm`, read from babeltrace2's lines. */
function tidsOfComm(lines: string[], comm: string): Set<number> {
  const tids = new Set<number>();
  for (const l of lines) {
    const m = /perf_comm: .*\btid = (\d+), comm = "([^"]*)"/.exec(l);
    if (m && m[2] === comm) tids.add(Number(m[1]));
  }
  return tids;
}

function eventsOf(lines: string[], name: string, tids: Set<number>): string[] {
  return lines.filter((l) => {
    if (!l.includes(` ${name}: `)) return false;
    const m = /\bperf_tid = (\d+)/.exec(l);
    return m !== null && tids.has(Number(m[1]));
  });
}

test('recordCommand (syscalls): openat of cat shows up in babeltrace2, tied to comm "cat"', { skip: skipReason }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'record-test-'));
  try {
    const progress: RecordProgress[] = [];
    const r = await recordCommand(dir, ['sh', '-c', 'cat /etc/hostname > /dev/null'], 'syscalls', (p) => progress.push(p));
    assert.ok(r.ok, r.ok ? '' : r.reason);
    assert.equal(r.exitCode, 0);
    assert.ok(existsSync(join(r.ctfDir, 'metadata')));
    assert.ok(existsSync(r.perfData));
    // 'close' comes only where the kernel is slow to unregister perf's ~700 events (here: ~28 s, so it does).
    const phases = [...new Set(progress.map((p) => p.phase))];
    assert.deepEqual(phases.filter((p) => p !== 'close'), ['record', 'convert', 'done']);
    if (phases.includes('close')) {
      assert.deepEqual(phases, ['record', 'convert', 'close', 'done']);
      for (const p of progress.filter((x) => x.phase === 'close')) assert.match(p.message, /the trace is converted \(.*ctf\); perf is still closing .* \(\d+ s so far\)$/);
    }

    const lines = babeltrace(r.ctfDir);
    const catTids = tidsOfComm(lines, 'cat');
    assert.equal(catTids.size, 1, 'exactly one thread named cat');
    const opens = eventsOf(lines, 'syscalls:sys_enter_openat', catTids);
    const openExits = eventsOf(lines, 'syscalls:sys_exit_openat', catTids);
    assert.ok(opens.length >= 1, 'cat opened files');
    assert.equal(openExits.length, opens.length, 'every openat of cat returned');
    assert.ok(eventsOf(lines, 'syscalls:sys_enter_read', catTids).length >= 1, 'cat read /etc/hostname');
    // perf's own count of samples is the number of tracepoint events babeltrace2 decodes (the rest is side-band).
    const tracepoints = lines.filter((l) => / syscalls:sys_(enter|exit)_\w+: /.test(l)).length;
    assert.equal(r.samples, tracepoints);
    assert.equal(r.lost, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('recordCommand (raw_syscalls): ids, exit status of the command, and the sh child followed', { skip: skipReason }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'record-test-'));
  try {
    const r = await recordCommand(dir, ['sh', '-c', 'cat /etc/hostname > /dev/null; exit 3'], 'raw_syscalls');
    assert.ok(r.ok, r.ok ? '' : r.reason);
    assert.equal(r.exitCode, 3);
    const lines = babeltrace(r.ctfDir);
    const catTids = tidsOfComm(lines, 'cat');
    assert.equal(catTids.size, 1);
    const enters = eventsOf(lines, 'raw_syscalls:sys_enter', catTids);
    // x86_64 openat is 257; on other architectures just require some entries.
    if (process.arch === 'x64') assert.ok(enters.some((l) => /\bid = 257\b/.test(l)), 'an openat entry (id 257) by cat');
    assert.ok(enters.length > 0);
    assert.ok(eventsOf(lines, 'raw_syscalls:sys_exit', catTids).length > 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('recordSystem (raw_syscalls, 0.5 s): every CPU, and perf\'s sample count is what babeltrace2 decodes', { skip: skipReason }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'record-test-'));
  try {
    const r = await recordSystem(dir, 0.5, 'raw_syscalls');
    assert.ok(r.ok, r.ok ? '' : r.reason);
    assert.equal(r.exitCode, 0);
    const lines = babeltrace(r.ctfDir);
    const raw = lines.filter((l) => / raw_syscalls:sys_(enter|exit): /.test(l)).length;
    assert.equal(raw, r.samples, 'babeltrace2 decodes every sample perf wrote');
    // perf's own `sleep` runs inside the window: its nanosleep/clock_nanosleep is recorded.
    const sleepTids = tidsOfComm(lines, 'sleep');
    assert.ok(sleepTids.size >= 1, 'the sleep process is named');
    assert.ok(eventsOf(lines, 'raw_syscalls:sys_enter', sleepTids).length > 0);
    assert.equal((await recordSystem(dir, 0, 'raw_syscalls')).ok, false, 'a zero window is refused');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('parsePerfStats: per-event LOST_SAMPLES summed, aggregate LOST and SAMPLE records', () => {
  // The layout of `perf report --stats` (perf 6.1): an aggregate block, then one block per event.
  const text = ['', 'Aggregated stats:', '           TOTAL events:    1313675', '            LOST events:        562  ( 0.0%)',
    '          SAMPLE events:    1210398  (92.1%)', '    LOST_SAMPLES events:          6  ( 0.0%)',
    'raw_syscalls:sys_enter stats:', '          SAMPLE events:     605240', '    LOST_SAMPLES events:     305504',
    'raw_syscalls:sys_exit stats:', '          SAMPLE events:     605158', '    LOST_SAMPLES events:     305586',
    'dummy:HG stats:', '    LOST_SAMPLES events:        228', ''].join('\n');
  assert.deepEqual(parsePerfStats(text), { lost: 305504 + 305586 + 228, lostChunks: 562, samples: 1210398 });
  assert.deepEqual(parsePerfStats(''), { lost: 0, lostChunks: 0, samples: 0 });
});

test('recordCommand: a command that cannot start is a reason, not a throw', { skip: cannotRecord ?? undefined }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'record-test-'));
  try {
    const empty = await recordCommand(dir, [], 'syscalls');
    assert.equal(empty.ok, false);
    const r = await recordCommand(dir, ['/nonexistent/program-xyz'], 'raw_syscalls');
    if (r.ok) assert.notEqual(r.exitCode, 0, 'perf reports the failed workload in its exit status');
    else assert.match(r.reason, /\S/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('privilegeProblem: each missing piece gives its one-line fix', () => {
  const fullCaps = BigInt('0x1fffeffffff');
  const perfmonOnly = 1n << 38n;
  assert.equal(privilegeProblem(0, 2, true), null, 'root ignores paranoid');
  assert.equal(privilegeProblem(0, 4, true, 'mountable'), null, 'perf mounts tracefs for root');
  assert.equal(privilegeProblem(1000, -1, true), null);
  assert.equal(privilegeProblem(1000, 2, true, 'mounted', perfmonOnly), null, 'CAP_PERFMON counts as privileged');
  assert.equal(privilegeProblem(1000, 2, true, 'mounted', 1n << 21n), null, 'CAP_SYS_ADMIN too');
  for (const p of [0, 1, 2, 3]) {
    const m = privilegeProblem(1000, p, true);
    assert.ok(m);
    assert.match(m, new RegExp(`perf_event_paranoid is ${p}`));
    assert.match(m, /sysctl kernel\.perf_event_paranoid=-1/);
    assert.ok(!m.includes('\n'));
  }
  assert.match(privilegeProblem(1000, null, true) ?? '', /cannot read .*perf_event_paranoid/);
  assert.match(privilegeProblem(0, -1, false) ?? '', /perf not found.*apt-get install linux-perf/);
  assert.match(privilegeProblem(0, -1, true, 'absent') ?? '', /no tracefs/);
  assert.match(privilegeProblem(1000, -1, true, 'mountable') ?? '', /mount -t tracefs/);
  assert.match(privilegeProblem(1000, -1, true, 'unreadable') ?? '', /chmod/);
  assert.match(privilegeProblem(0, -1, true, 'no-syscall-events') ?? '', /CONFIG_FTRACE_SYSCALLS/);
  assert.equal(hasPerfCapability(fullCaps), true);
  assert.equal(hasPerfCapability(0n), false);
});

test('probeRecordFacts reads perf_event_paranoid from the path it is given', () => {
  const dir = mkdtempSync(join(tmpdir(), 'record-test-'));
  try {
    const f = join(dir, 'paranoid');
    writeFileSync(f, '3\n');
    assert.equal(probeRecordFacts(f).paranoid, 3);
    writeFileSync(f, '-1\n');
    assert.equal(probeRecordFacts(f).paranoid, -1);
    assert.equal(probeRecordFacts(join(dir, 'missing')).paranoid, null);
    writeFileSync(f, 'garbage');
    assert.equal(probeRecordFacts(f).paranoid, null);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('perf argv: system-wide vs command, pipe output, ring buffer size', () => {
  const sys = perfRecordArgs('/x/perf.data', 'syscalls', undefined, 5);
  assert.deepEqual(sys.slice(0, 3), ['record', '-o', '/x/perf.data']);
  assert.ok(sys.includes('-a'));
  assert.deepEqual(sys.slice(-3), ['--', 'sleep', '5']);
  assert.equal(sys[sys.indexOf('-e') + 1], 'syscalls:sys_enter_*,syscalls:sys_exit_*');
  assert.equal(sys[sys.indexOf('-k') + 1], 'mono');
  const cmd = perfRecordArgs('/x/perf.data', 'raw_syscalls', ['ls', '-l']);
  assert.ok(!cmd.includes('-a'));
  assert.deepEqual(cmd.slice(-3), ['--', 'ls', '-l']);
  assert.equal(cmd[cmd.indexOf('-e') + 1], 'raw_syscalls:sys_enter,raw_syscalls:sys_exit');
  const pipe = perfPipeCommand('raw_syscalls');
  assert.equal(pipe[0], 'perf');
  assert.equal(pipe[pipe.indexOf('-o') + 1], '-');
  assert.ok(pipe.includes('-a') && !pipe.includes('--'), 'system-wide until stopped');
  for (const cpus of [1, 2, 8, 64, 512]) {
    const pages = mmapPages(cpus);
    assert.equal(pages & (pages - 1), 0, 'power of two');
    const bytes = pages * 4096;
    assert.ok(bytes >= 4 << 20 && bytes <= 64 << 20, `${cpus} cpus: ${bytes} bytes per CPU`);
  }
});

test('perfErrorLine picks the error out of perf usage text', () => {
  const stderr = "event syntax error: 'bogus:x'\n   \\___ unknown tracepoint\n\n Usage: perf record [<options>]\n";
  assert.equal(perfErrorLine(stderr), "event syntax error: 'bogus:x'");
  assert.equal(perfErrorLine('just one line\n'), 'just one line');
});

test('withNotices: nothing for a quick wait; a notice after the first delay, then one per interval, none after', async () => {
  const quick: number[] = [];
  assert.equal(await withNotices(Promise.resolve(7), 20, 20, (ms) => quick.push(ms)), 7);
  await new Promise((r) => setTimeout(r, 60));
  assert.deepEqual(quick, [], 'a promise that settles at once gets no notice, then or later');

  const seen: number[] = [];
  const slow = new Promise<string>((r) => setTimeout(() => r('closed'), 400));
  assert.equal(await withNotices(slow, 40, 100, (ms) => seen.push(ms)), 'closed');
  const atSettle = seen.length;
  await new Promise((r) => setTimeout(r, 250));
  // Due at ~40, 140, 240 and 340 ms (a loaded machine may run the last ones late, after the settle): repeated, each
  // with the time waited so far, and none once the promise has settled.
  assert.ok(atSettle >= 2 && atSettle <= 4, `notices at ${seen.map((x) => x.toFixed(0)).join(', ')} ms`);
  assert.equal(seen.length, atSettle, 'no notice after the promise settled');
  assert.ok(seen[0]! >= 35 && seen.every((x, i) => i === 0 || x - seen[i - 1]! >= 95), `notices at ${seen.join(', ')}`);

  await assert.rejects(withNotices(Promise.reject(new Error('perf died')), 10, 10, () => undefined), /perf died/);
});
