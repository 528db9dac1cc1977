/**
 * @module trace/kernel.test
 * LTTng (both namings) and perf CTF traces → syscall events: the entry/exit counts babeltrace2 and Trace Compass
 * report, pairing that accounts for every entry and exit, thread identity from sched_switch, latency from the pair.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sharedData } from '../testing/paths.js';
import type { SyscallEvent } from './event.js';
import { KernelCtfSource } from './kernel.js';
import { computeStats } from './stats.js';

const mode = { lenient: false, follow: false };

async function collect(src: KernelCtfSource): Promise<SyscallEvent[]> {
  const out: SyscallEvent[] = [];
  for await (const b of src.batches()) out.push(...b);
  return out;
}

test('many-threads (new naming, no context): counts, pairing and per-CPU thread tracking', async () => {
  const src = await KernelCtfSource.open(sharedData('ctf', 'many-threads'), 'paired', mode);
  const evs = await collect(src);
  const c = src.counts;
  assert.equal(src.format, 'ctf-lttng');
  assert.equal(c.events, 240_644);
  assert.equal(c.syscallEntries, 78_085);
  assert.equal(c.syscallExits, 78_086);
  // Every entry and every exit is accounted for exactly once.
  assert.equal(c.completed + c.unmatchedEntries + c.noExitCalls, c.syscallEntries);
  assert.equal(c.completed + c.unmatchedExits + c.cloneChildExits, c.syscallExits);
  assert.equal(evs.length, c.completed + c.unmatchedEntries + c.noExitCalls + c.unmatchedExits + c.cloneChildExits);
  // 8,003 threads exit (exit/exit_group have no exit event) and as many clone children return; few orphans remain
  // (calls open when the trace starts or ends).
  assert.equal(c.noExitCalls, c.cloneChildExits);
  assert.ok(c.unmatchedEntries + c.unmatchedExits < 100, `orphans ${c.unmatchedEntries} + ${c.unmatchedExits}`);
  assert.ok(c.cloneChildExits > 0, 'clone returns twice');
  // Threads come from sched_switch: nearly every syscall has a known tid and process name.
  const known = evs.filter((e) => e.tid >= 0 && e.proc !== '').length;
  assert.ok(known / evs.length > 0.99, `known thread for ${known} of ${evs.length}`);
  for (const e of evs) {
    if (e.phase !== 'complete') continue;
    assert.ok(e.latency! >= 0, 'latency is exit minus entry');
    assert.ok(e.ret !== undefined);
  }
});

test('bug446190 (old naming: sys_X + exit_syscall): names come from the pairing', async () => {
  const src = await KernelCtfSource.open(sharedData('ctf', 'bug446190'), 'paired', mode);
  const evs = await collect(src);
  assert.equal(src.counts.events, 31_556);
  assert.equal(src.counts.syscallEntries, 1_817);
  assert.equal(src.counts.syscallExits, 1_811);
  const complete = evs.filter((e) => e.phase === 'complete');
  assert.ok(complete.length > 1_700);
  // A paired old-style exit takes its entry's name; only the 7 `sys_unknown` entries (numbers the tracer could not
  // name, e.g. id 194 on this ARM machine) stay 'unknown'.
  const unnamed = complete.filter((e) => e.name === 'unknown');
  assert.ok(unnamed.length <= 7, `${unnamed.length} unnamed`);
  assert.ok(unnamed.every((e) => typeof e.args['id'] === 'number'), 'those carry the syscall number');
  assert.ok(evs.filter((e) => e.phase === 'exit').every((e) => e.name === 'unknown'), 'an unpaired old-style exit has no name');
});

test('raw mode keeps entries and exits as recorded, in time order', async () => {
  const src = await KernelCtfSource.open(sharedData('ctf', 'many-threads'), 'raw', mode);
  const evs = await collect(src);
  assert.equal(evs.length, 78_085 + 78_086);
  for (let i = 1; i < evs.length; i++) assert.ok(evs[i]!.ts >= evs[i - 1]!.ts);
});

test('perf --to-ctf layout: tid, pid and cpu from perf fields', async () => {
  const src = await KernelCtfSource.open(sharedData('ctf', 'perf-taskset2'), 'paired', mode);
  const s = await computeStats(src);
  assert.equal(src.format, 'ctf-perf');
  assert.equal(s.events, 1_500);
  // perf-taskset2 recorded scheduler events only: no syscalls, all counted as other events.
  assert.equal(s.syscallEntries + s.syscallExits + s.otherEvents, 1_500);
});
