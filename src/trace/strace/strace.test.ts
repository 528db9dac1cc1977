/**
 * @module trace/strace/strace.test
 * The strace reader on real strace output: the tests run `strace -f -ttt -T` on small real programs (a shell pipeline
 * with a background job; a multi-threaded node script, so that `<unfinished ...>`/`resumed` lines appear) and check
 * the events against facts counted straight from the file's text by simple line tests written here. Skipped, with a
 * message, only when `strace` is not installed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import type { SyscallEvent } from '../event.js';
import { emptyCounts } from '../event.js';
import { isTraceError } from '../errors.js';
import { looksLikeStrace, openStrace, StraceParser } from './strace.js';

const hasStrace = !spawnSync('strace', ['-V']).error;
const noStrace = hasStrace ? false : 'strace is not installed (apt-get install strace): real-output tests skipped';
const dir = mkdtempSync(join(tmpdir(), 'strace-test-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

/** Runs `strace OPTIONS -o FILE CMD…` and returns FILE's path. */
function trace(name: string, options: string[], cmd: string[]): string {
  const out = join(dir, name);
  const r = spawnSync('strace', [...options, '-o', out, ...cmd], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, `strace failed: ${r.stderr}`);
  return out;
}

async function read(path: string, pairing: 'raw' | 'paired', lenient = false) {
  const src = openStrace(path, pairing, lenient);
  const events: SyscallEvent[] = [];
  for await (const e of src) events.push(e);
  return { src, events };
}

/** Facts about an `strace -f -ttt -T` file from plain line tests (not the reader's parser). */
function facts(path: string) {
  const lines = readFileSync(path, 'utf8').split('\n').filter((l) => l.length > 0);
  const isOther = (l: string) => / (---|\+\+\+) /.test(l);
  const isResumed = (l: string) => l.includes('<... ') && l.includes(' resumed>');
  const isUnfinished = (l: string) => l.endsWith('<unfinished ...>');
  const noReturn = (l: string) => / = \?$/.test(l);
  const other = lines.filter(isOther);
  const unfinished = lines.filter((l) => !isResumed(l) && isUnfinished(l));
  const resumed = lines.filter(isResumed);
  const plainNoReturn = lines.filter((l) => !isOther(l) && !isResumed(l) && noReturn(l));
  const complete = lines.filter((l) => !isOther(l) && !isResumed(l) && !isUnfinished(l) && !noReturn(l));
  const resumedReturning = resumed.filter((l) => !noReturn(l));
  // "PID  SEC.USEC name(" and "<t>" taken apart with split, not with the reader's code
  const cols = (l: string) => l.split(/ +/);
  const latencyNs = (l: string) => Math.round(parseFloat(l.slice(l.lastIndexOf('<') + 1, -1)) * 1e9);
  return { lines, other, unfinished, resumed, resumedReturning, plainNoReturn, complete, cols, latencyNs };
}

function checkInvariants(c: { syscallEntries: number; syscallExits: number; completed: number; unmatchedEntries: number; unmatchedExits: number; noExitCalls: number; cloneChildExits: number }) {
  assert.equal(c.syscallEntries, c.completed + c.unmatchedEntries + c.noExitCalls, 'every entry is completed, unmatched or a no-exit call');
  assert.equal(c.syscallExits, c.completed + c.unmatchedExits + c.cloneChildExits, 'every exit is completed or unmatched');
}

test('strace -f -ttt -T of a shell: counts, timestamps, latencies, names, processes', { skip: noStrace }, async () => {
  const file = trace('sh.txt', ['-f', '-ttt', '-T'], ['sh', '-c', 'ls / >/dev/null; cat /etc/hostname >/dev/null; sleep 0.01 & wait']);
  const f = facts(file);
  assert.ok(f.complete.length > 100, 'a shell running three programs makes hundreds of calls');

  const raw = await read(file, 'raw');
  const completes = raw.events.filter((e) => e.phase === 'complete');
  assert.equal(raw.src.counts.events, f.lines.length, 'every line is an event record');
  assert.equal(raw.src.counts.otherEvents, f.other.length, 'signals and +++ lines are other events');
  assert.equal(raw.src.counts.skipped, 0);
  assert.equal(completes.length, f.complete.length, 'one complete event per finished line');
  assert.equal(raw.events.filter((e) => e.phase === 'entry').length, f.unfinished.length + f.plainNoReturn.length);
  assert.equal(raw.events.filter((e) => e.phase === 'exit').length, f.resumedReturning.length);

  // raw mode keeps file order: the i-th complete event is the i-th finished line
  completes.forEach((e, i) => {
    const line = f.complete[i];
    const [tid, ts] = f.cols(line);
    assert.equal(e.tid, Number(tid), line);
    assert.equal(e.ts, BigInt(ts.replace('.', '') + '000'), `ts exactly from the text: ${line}`);
    assert.equal(e.latency, f.latencyNs(line), `latency is <t>: ${line}`);
    assert.ok(line.includes(` ${e.name}(`), `the name is on its line: ${line}`);
  });

  const paired = await read(file, 'paired');
  const c = paired.src.counts;
  checkInvariants(c);
  const pairedCompletes = paired.events.filter((e) => e.phase === 'complete');
  assert.equal(pairedCompletes.length, c.completed);
  assert.equal(c.completed, f.complete.length + f.resumedReturning.length - c.unmatchedExits,
    'finished lines plus every resumed call that returned');
  assert.equal(c.unmatchedExits, 0, 'strace prints every unfinished call before its resumption');
  const text = readFileSync(file, 'utf8');
  for (const e of pairedCompletes) assert.ok(text.includes(`${e.name}(`), `${e.name} appears in the file`);

  // processes: four pids (sh and its three children), named by their execve
  const pids = new Set(paired.events.map((e) => e.pid));
  const firstCols = new Set(f.lines.map((l) => Number(f.cols(l)[0])));
  assert.deepEqual(pids, firstCols, 'no threads here: pid = tid for every line');
  const procOf = (pred: (e: SyscallEvent) => boolean) => new Set(paired.events.filter(pred).map((e) => e.proc));
  assert.deepEqual(procOf((e) => e.name === 'getdents64'), new Set(['ls']), 'ls reads the directory');
  assert.deepEqual(procOf((e) => e.name === 'openat' && String(e.args.raw).includes('"/etc/hostname"')), new Set(['cat']));
  assert.deepEqual(procOf((e) => e.name === 'clock_nanosleep' || e.name === 'nanosleep'), new Set(['sleep']));
  assert.ok(paired.events.filter((e) => e.name === 'wait4').every((e) => e.proc === 'sh'));

  // errors: "= -1 ENOENT (…)" → ret = -2, args.errno = 'ENOENT'
  const enoent = paired.events.filter((e) => e.args.errno === 'ENOENT');
  assert.equal(enoent.length, f.lines.filter((l) => l.includes(' = -1 ENOENT ')).length);
  assert.ok(enoent.length > 0 && enoent.every((e) => e.ret === -2));
  assert.ok(looksLikeStrace(readFileSync(file).subarray(0, 4096)));
});

test('strace -f on a multi-threaded program: unfinished/resumed pairs, thread groups', { skip: noStrace }, async () => {
  const script = join(dir, 'threads.cjs');
  writeFileSync(script, `
    const { Worker } = require('node:worker_threads');
    const fs = require('node:fs');
    const src = "const fs = require('node:fs'); for (let i = 0; i < 50; i++) fs.readFileSync('/etc/hostname'); require('node:worker_threads').parentPort.postMessage(1);";
    let left = 2;
    for (let k = 0; k < 2; k++) new Worker(src, { eval: true }).on('message', function () { fs.readFileSync('/etc/hostname'); this.terminate(); });
  `);
  const file = trace('threads.txt', ['-f', '-ttt', '-T'], [process.execPath, script]);
  const f = facts(file);
  assert.ok(f.unfinished.length > 0 && f.resumed.length > 0, 'threads interleave, so strace splits calls');

  const { src, events } = await read(file, 'paired');
  const c = src.counts;
  checkInvariants(c);
  assert.equal(c.events, f.lines.length);
  assert.equal(c.syscallExits, f.complete.length + f.resumedReturning.length);
  assert.equal(c.unmatchedExits, 0);

  // every resumed call that returned became a complete event of that thread with strace's <t> as latency
  const key = (tid: number, name: string, latency: number | undefined) => `${tid} ${name} ${latency}`;
  const have = new Map<string, number>();
  for (const e of events) if (e.phase === 'complete') have.set(key(e.tid, e.name, e.latency), (have.get(key(e.tid, e.name, e.latency)) ?? 0) + 1);
  for (const line of f.resumedReturning) {
    const tid = Number(f.cols(line)[0]);
    const name = line.slice(line.indexOf('<... ') + 5, line.indexOf(' resumed>'));
    const k = key(tid, name, f.latencyNs(line));
    assert.ok((have.get(k) ?? 0) > 0, `a complete event for: ${line}`);
    have.set(k, have.get(k)! - 1);
  }
  const joined = events.find((e) => e.phase === 'complete' && f.unfinished.some((l) => l.startsWith(`${e.tid} `) && l.includes(` ${e.name}(`)) && e.name === 'futex');
  if (joined) assert.ok(String(joined.args.raw).includes('FUTEX_'), 'joined args keep the entry part');

  // threads: "clone3({flags=…CLONE_THREAD…}…) = N" makes N a thread of the caller's process
  const threadClones = f.lines.filter((l) => /\bclone3?\(/.test(l) && l.includes('CLONE_THREAD') && / = \d+/.test(l) && !l.endsWith('<unfinished ...>'));
  assert.ok(threadClones.length >= 2, 'node starts threads');
  const leader = Number(f.cols(f.lines[0])[0]);
  for (const l of threadClones) {
    const child = Number(/ = (\d+)/.exec(l.slice(l.lastIndexOf(')')))![1]);
    const childEvents = events.filter((e) => e.tid === child);
    assert.ok(childEvents.length > 0);
    assert.ok(childEvents.every((e) => e.pid === leader && e.proc === 'node'), `thread ${child} belongs to ${leader}`);
  }
  assert.deepEqual(new Set(events.map((e) => e.pid)), new Set([leader]));
});

test('strace -yy decorations, -tt times of day, and no -f / no timestamps', { skip: noStrace }, async () => {
  const yy = trace('yy.txt', ['-f', '-ttt', '-T', '-yy'], ['cat', '/etc/hostname']);
  const { events } = await read(yy, 'raw');
  const reads = events.filter((e) => e.name === 'read' && e.args.path === '/etc/hostname');
  assert.ok(reads.length >= 1, 'cat reads /etc/hostname through a decorated fd');
  const fdText = /read\((\d+)<\/etc\/hostname>/.exec(readFileSync(yy, 'utf8'))![1];
  assert.ok(reads.every((e) => e.args.fd === Number(fdText)));
  const open = events.find((e) => e.name === 'openat' && e.args.retPath === '/etc/hostname');
  assert.ok(open && open.ret === Number(fdText), 'the returned fd and its decoration');

  const tt = trace('tt.txt', ['-tt'], ['cat', '/etc/hostname']);
  const t = await read(tt, 'paired');
  assert.equal(t.events[0].ts, 0n, 'a time of day has no date: ns since the first line');
  const first = readFileSync(tt, 'utf8').split('\n')[0];
  assert.match(first, /^\d\d:\d\d:\d\d\.\d{6} execve\(/);
  for (let i = 1; i < t.events.length; i++) assert.ok(t.events[i].ts >= t.events[i - 1].ts);
  assert.ok(t.events.every((e) => e.pid === -1 && e.tid === -1), 'no pid column: pid/tid unknown');
  assert.ok(t.events.slice(1).every((e) => e.proc === 'cat'));

  const bare = trace('bare.txt', [], ['cat', '/etc/hostname']);
  const b = await read(bare, 'raw');
  const lines = readFileSync(bare, 'utf8').split('\n').filter((l) => l.length > 0 && !l.startsWith('+++'));
  assert.equal(b.events.length, lines.length);
  assert.deepEqual(b.events.map((e) => e.ts), lines.map((_, i) => BigInt(i)), 'no timestamps: ts is the sequence number');
  assert.ok(b.events.every((e) => e.latency === undefined), 'no -T: no latency');

  // -Y prints "PID<comm>": the comm is taken as it is
  const y = trace('Y.txt', ['-f', '-ttt', '-Y'], ['sh', '-c', 'cat /etc/hostname >/dev/null']);
  const yLines = readFileSync(y, 'utf8').split('\n').filter((l) => l.length > 0 && !/ (\+\+\+|---) /.test(l));
  const yEvents = (await read(y, 'raw')).events;
  assert.equal(yEvents.length, yLines.length);
  yEvents.forEach((e, i) => assert.equal(e.proc, /^\d+<([^>]*)>/.exec(yLines[i])![1], yLines[i]));
  assert.ok(yEvents.some((e) => e.proc === 'cat') && yEvents.some((e) => e.proc === 'sh'));

  // -k adds " > frame" lines after each call: not records
  let k: string | undefined;
  try {
    k = trace('k.txt', ['-k'], ['true']);
  } catch {
    k = undefined; // strace built without stack-trace support
  }
  if (k !== undefined) {
    const kText = readFileSync(k, 'utf8').split('\n').filter((l) => l.length > 0);
    const kr = await read(k, 'raw');
    assert.ok(kText.some((l) => l.startsWith(' > ')));
    assert.equal(kr.events.length, kText.filter((l) => !l.startsWith(' > ') && !l.startsWith('+++')).length);
    assert.equal(kr.src.counts.skipped, 0);
  }
});

test('strace line shapes: errors, restarts, big returns, padding, [pid N], decorations', async () => {
  const file = join(dir, 'shapes.txt');
  writeFileSync(file, [
    '[pid  41] 1700000000.000000001 openat(AT_FDCWD, "/nope", O_RDONLY) = -1 ENOENT (No such file or directory) <0.000010>',
    '41    1700000000.123456 brk(NULL)                               = 0x55a723854000 <0.000042>',
    '41    1700000000.200000 write(1, "f() = 3\\n", 8) = 8 <0.000001>',
    '41    1700000000.300000 read(5<TCP:[127.0.0.1:8080->127.0.0.1:5000]>, "x", 1) = 1 <0.000002>',
    '41    1700000000.400000 lseek(3, 0, SEEK_END) = 18446744073709551615 <0.000003>',
    '41    1700000000.500000 read(0,  <unfinished ...>',
    '41    1700000000.600000 <... read resumed>0x7ffd, 10) = ? ERESTARTSYS (To be restarted if SA_RESTART is set) <0.100000>',
    '41    1700000000.700000 --- SIGINT {si_signo=SIGINT, si_code=SI_KERNEL} ---',
    '41    1700000000.800000 exit_group(0)                           = ?',
    '41    1700000000.800100 +++ exited with 0 +++',
    '',
  ].join('\n'));
  const { src, events } = await read(file, 'paired');
  assert.equal(events.length, 7);
  const [open, brk, write, sock, lseek, restarted, exit] = events;
  assert.equal(open.ts, 1700000000000000001n);
  assert.equal(open.tid, 41);
  assert.equal(open.ret, -2);
  assert.equal(open.args.errno, 'ENOENT');
  assert.equal(open.latency, 10_000);
  assert.equal(brk.ret, 0x55a723854000);
  assert.equal(write.args.raw, '1, "f() = 3\\n", 8');
  assert.equal(write.args.fd, 1);
  assert.equal(write.ret, 8);
  assert.equal(sock.args.fd, 5);
  assert.equal(sock.args.path, 'TCP:[127.0.0.1:8080->127.0.0.1:5000]');
  assert.equal(lseek.ret, 18446744073709551615n);
  assert.equal(restarted.phase, 'complete');
  assert.equal(restarted.ret, -512);
  assert.equal(restarted.args.raw, '0, 0x7ffd, 10');
  assert.equal(restarted.latency, 100_000_000);
  assert.equal(restarted.ts, 1700000000500000000n);
  assert.equal(exit.phase, 'entry');
  assert.equal(exit.name, 'exit_group');
  assert.equal(src.counts.otherEvents, 2);
  assert.equal(src.counts.noExitCalls, 1);
  assert.equal(src.counts.events, 10);
});

test('malformed strace lines: the error names the file and the line; lenient counts them', async () => {
  const file = join(dir, 'bad.txt');
  writeFileSync(file, '1 1700000000.000001 getpid() = 1 <0.000001>\n1 1700000000.000002 this is not strace\n1 1700000000.000003 getpid() = 1 <0.000001>\n');
  await assert.rejects(read(file, 'raw'), (e: unknown) => {
    assert.ok(isTraceError(e));
    assert.equal(e.file, file);
    assert.equal(e.line, 2);
    assert.match(e.message, /bad\.txt:line 2: /);
    return true;
  });
  const lenient = await read(file, 'raw', true);
  assert.equal(lenient.events.length, 2);
  assert.equal(lenient.src.counts.skipped, 1);

  const bad2 = join(dir, 'bad2.txt');
  writeFileSync(bad2, '5 1700000000.000001 read(3, "", 1) = banana <0.000001>\n');
  await assert.rejects(read(bad2, 'raw'), (e: unknown) => isTraceError(e) && e.line === 1 && /return value/.test(e.reason));
});

test('damaged lines give a TraceError or events, never another exception (fast-check)', () => {
  const samples = [
    '4296  1795383361.481398 vfork( <unfinished ...>',
    '4296  1795383361.481947 <... vfork resumed>) = 4297 <0.000538>',
    '4297  1795383361.503939 +++ exited with 0 +++',
    '26196 21:39:17.310399 socket(AF_INET, SOCK_STREAM, IPPROTO_IP) = 19<TCP:[48856]>',
    '6936  1795383396.102851 clone3({flags=CLONE_VM|CLONE_THREAD, child_tid=0x7f} => {parent_tid=[6937]}, 88) = 6937 <0.000134>',
    '4296  1795383361.476711 access("/etc/ld.so.preload", R_OK) = -1 ENOENT (No such file or directory) <0.000067>',
    '18994<sh> 1795384750.102928 brk(NULL)   = 0x555e3b334000 <0.000010>',
  ];
  fc.assert(fc.property(
    fc.constantFrom(...samples), fc.nat(), fc.nat({ max: 8 }), fc.string({ maxLength: 6 }),
    (line, at, cut, insert) => {
      const p = at % (line.length + 1);
      const damaged = line.slice(0, p) + insert + line.slice(p + cut);
      const parser = new StraceParser('damaged.txt', 'paired', false, emptyCounts());
      const out: SyscallEvent[] = [];
      try {
        parser.line(damaged, 1, out);
        parser.end(out);
      } catch (e) {
        assert.ok(isTraceError(e), `${String(e)} for ${JSON.stringify(damaged)}`);
        assert.equal(e.line, 1);
      }
      for (const ev of out) assert.equal(typeof ev.ts, 'bigint');
    },
  ), { numRuns: 3000 });
});

test('looksLikeStrace tells strace text from other formats', () => {
  assert.ok(looksLikeStrace(Buffer.from('1234  1700000000.123456 execve("/bin/true", ["true"], 0x7ffc /* 1 var */) = 0 <0.000100>\n')));
  assert.ok(looksLikeStrace(Buffer.from('execve("/bin/true", ["true"], 0x7ffc /* 1 var */) = 0\nbrk(NULL) = 0x1000\n')));
  assert.ok(looksLikeStrace(Buffer.from('12:00:00.000001 read(0, "", 1) = 0\n')));
  assert.ok(!looksLikeStrace(Buffer.from('{"format":"syscall-anomaly-events","version":1}\n')));
  assert.ok(!looksLikeStrace(Buffer.from('6 6 63 6 42 120 6 195 120 6 6 114 ')));
  assert.ok(!looksLikeStrace(Buffer.from('')));
});
