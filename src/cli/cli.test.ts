/**
 * @module cli/cli.test
 * The command line as a user runs it: `stats --json` counts on the shared traces (the figures babeltrace2 and
 * Trace Compass give), one-line errors with exit code 2 on damaged input, `--lenient`, `convert` round trips, `demo`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, truncateSync, chmodSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sharedData } from '../testing/paths.js';
import { cli } from './cli-process.js';
import { refuseRepeats } from './run.js';

const EXPECTED: Array<[string, number, number | undefined]> = [
  ['many-threads', 240_644, 78_085],
  ['bug446190', 31_556, 1_817],
  ['flipping-endianness', 14_310, undefined],
  ['perf-taskset2', 1_500, undefined],
  ['ctf-sequence-empty', 10, undefined],
  ['CTF2-vl-ints', 1, undefined],
];

for (const [name, events, entries] of EXPECTED) {
  test(`stats --json ${name}: ${events} events${entries ? `, ${entries} syscall entries` : ''}`, () => {
    const r = cli('stats', '--json', sharedData('ctf', name));
    assert.equal(r.code, 0, r.err);
    const s = JSON.parse(r.out);
    assert.equal(s.events, events);
    if (entries !== undefined) assert.equal(s.syscallEntries, entries);
  });
}

function damagedCopy(): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'sa-cli-'));
  cpSync(sharedData('ctf', 'many-threads'), dir, { recursive: true });
  for (const f of readdirSync(dir)) if (statSync(join(dir, f)).isFile()) chmodSync(join(dir, f), 0o644);
  const file = join(dir, 'channel0_5');
  truncateSync(file, statSync(file).size - 5000);
  return { dir, file };
}

test('a truncated trace: one line naming the file and byte offset, exit code 2, no stack', () => {
  const { dir, file } = damagedCopy();
  try {
    const r = cli('stats', dir);
    assert.equal(r.code, 2);
    const lines = r.err.trim().split('\n');
    assert.equal(lines.length, 1, r.err);
    assert.match(lines[0]!, new RegExp(`^syscall-anomaly: ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:byte \\d+: `));
    assert.doesNotMatch(r.err, /\n\s+at /);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--lenient decodes up to the damage and reports what it skipped', () => {
  const { dir } = damagedCopy();
  try {
    const r = cli('stats', '--json', '--lenient', dir);
    assert.equal(r.code, 0, r.err);
    const s = JSON.parse(r.out);
    assert.equal(s.skipped, 1);
    assert.ok(s.events > 200_000 && s.events < 240_644, `${s.events}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('missing and unknown inputs give one-line errors', () => {
  let r = cli('stats', '/nonexistent/trace');
  assert.equal(r.code, 2);
  assert.match(r.err.trim(), /^syscall-anomaly: \/nonexistent\/trace:byte 0: cannot open: no such file or directory$/);
  r = cli('stats', fileURLToPath(import.meta.url).replace(/\.test\.js$/, '.test.js.map'));
  assert.equal(r.code, 2, r.err);
  assert.equal(r.err.trim().split('\n').length, 1);
});

test('an option that takes one value and is given twice is refused, not silently replaced by the last', () => {
  for (const [args, want] of [
    [['convert', 'x', '-o', 'a.jsonl', '--output', 'b.jsonl'], /^syscall-anomaly: convert: --output\/-o is given 2 times; it takes one value$/],
    [['score', '--model', 'm/', 'x', '--threshold', '1', '--threshold=2'], /^syscall-anomaly: score: --threshold is given 2 times; it takes one value$/],
  ] as const) {
    const r = cli(...args);
    assert.equal(r.code, 2, r.err);
    assert.match(r.err.trim(), want);
  }
  // Options that collect their values (--model of score) may repeat; what follows `--` is a traced command's.
  const r = cli('score', '--model', '/nonexistent/a', '--model', '/nonexistent/b', 'x');
  assert.doesNotMatch(r.err, /is given 2 times/);
  const pid = [{ long: '--pid', short: '-p', required: true, optional: false }];
  assert.doesNotThrow(() => refuseRepeats(pid, ['--pid', '1', '--', 'strace', '-p', '2'], 'watch'));
  assert.throws(() => refuseRepeats(pid, ['--pid', '1', '-p', '2'], 'watch'), /watch: --pid\/-p is given 2 times/);
});

test('convert → JSONL → stats gives the same syscall counts as the CTF trace', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sa-conv-'));
  try {
    const out = join(dir, 'bug.jsonl');
    const c = cli('convert', sharedData('ctf', 'bug446190'), '-o', out);
    assert.equal(c.code, 0, c.err);
    const a = JSON.parse(cli('stats', '--json', sharedData('ctf', 'bug446190')).out);
    const b = JSON.parse(cli('stats', '--json', out).out);
    assert.equal(b.format, 'jsonl');
    assert.deepEqual(b.syscalls, a.syscalls);
    assert.deepEqual(b.processes, a.processes);
    assert.equal(b.start, a.start);
    assert.equal(b.end, a.end);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a folder of traces (like an LTTng session with kernel/ and ust/) is read as one, merged by time', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sa-session-'));
  try {
    symlinkSync(sharedData('ctf', 'many-threads'), join(dir, 'kernel'));
    mkdirSync(join(dir, 'ust', 'uid', '0'), { recursive: true });
    symlinkSync(sharedData('ctf', 'ctf-sequence-empty'), join(dir, 'ust', 'uid', '0', '64-bit'));
    const r = cli('stats', '--json', dir);
    assert.equal(r.code, 0, r.err);
    const s = JSON.parse(r.out);
    assert.equal(s.events, 240_644 + 10);
    assert.equal(s.syscallEntries, 78_085);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('demo --trace runs on the committed trace', () => {
  const r = cli('demo', '--trace', '--json');
  assert.equal(r.code, 0, r.err);
  const d = JSON.parse(r.out);
  assert.ok(d.stats.syscallEntries > 500);
  assert.ok(d.threads.length >= 2);
  assert.ok(d.slowest.length > 0);
});

test('--version prints the package version', () => {
  const { version } = JSON.parse(readFileSync(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8')) as { version: string };
  for (const flag of ['--version', '-V']) {
    const r = cli(flag);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out.trim(), version);
  }
});
