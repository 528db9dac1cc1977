/**
 * @module trace/adfa/adfa.test
 * The ADFA-LD reader on the real dataset (`../shared/data/adfa-ld/ADFA-LD.zip`, read in place): set sizes and attack
 * folders against an independent yauzl listing and the dataset's published figures, trace content against the raw
 * entry text, the i386 table against the system's `asm/unistd_32.h` and against the shared syscall list, and folder /
 * single-file inputs built in a temporary folder (never in the repo).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yauzl from 'yauzl';
import { sharedData } from '../../testing/paths.js';
import { isTraceError } from '../errors.js';
import type { SyscallEvent } from '../event.js';
import { adfaSyscallName, iterateAdfaTraces, listAdfaTraces, openAdfa, parseUnistdHeader, readAdfaTrace } from './adfa.js';
import { I386_SYSCALLS } from './i386.js';

const ZIP = sharedData('adfa-ld', 'ADFA-LD.zip');
const LIST = sharedData('adfa-ld', 'syscall-list.txt');
const noZip = existsSync(ZIP) ? false : `ADFA-LD is not at ${ZIP}`;
const UNISTD_32 = '/usr/include/x86_64-linux-gnu/asm/unistd_32.h';

/** The zip's entry names and the text of the entries `want` asks for, read with yauzl directly. */
async function readZipDirectly(want: (name: string) => boolean): Promise<{ names: string[]; texts: Map<string, string> }> {
  const zip = await yauzl.openPromise(ZIP, { lazyEntries: true, autoClose: false });
  const names: string[] = [];
  const texts = new Map<string, string>();
  try {
    for await (const entry of zip.eachEntry()) {
      names.push(entry.fileName);
      if (!want(entry.fileName)) continue;
      const chunks: Buffer[] = [];
      for await (const c of await zip.openReadStreamPromise(entry)) chunks.push(c as Buffer);
      texts.set(entry.fileName, Buffer.concat(chunks).toString('latin1'));
    }
  } finally {
    zip.close();
  }
  return { names, texts };
}

/** The reader's listing, made once for the tests below. */
let listing: ReturnType<typeof listAdfaTraces> | undefined;
const traceList = () => (listing ??= listAdfaTraces(ZIP));

const numbersOf = (text: string) => text.trim().split(/\s+/).map(Number);

test('ADFA-LD zip: 833 / 4,372 / 746 traces, 60 attack folders of 6 kinds', { skip: noZip }, async () => {
  const names = (await readZipDirectly(() => false)).names.filter((n) => n.endsWith('.txt'));
  const nameSet = new Set(names);
  const inSet = (set: string) => names.filter((n) => n.split('/').includes(set));
  const attackFolders = new Set(inSet('Attack_Data_Master').map((n) => n.split('/').at(-2)!));
  // independent listing vs the dataset's published sizes
  assert.equal(inSet('Training_Data_Master').length, 833);
  assert.equal(inSet('Validation_Data_Master').length, 4372);
  assert.equal(inSet('Attack_Data_Master').length, 746);
  assert.equal(attackFolders.size, 60);

  const traces = await traceList();
  const count = (set: string) => traces.filter((t) => t.set === set).length;
  assert.equal(traces.length, 833 + 4372 + 746, 'the syscall list file is not a trace');
  assert.equal(count('training'), 833);
  assert.equal(count('validation'), 4372);
  assert.equal(count('attack'), 746);
  assert.deepEqual(new Set(traces.map((t) => t.folder).filter((f) => attackFolders.has(f))), attackFolders);
  assert.deepEqual(new Set(traces.flatMap((t) => (t.attack ? [t.attack] : []))),
    new Set(['Adduser', 'Hydra_FTP', 'Hydra_SSH', 'Java_Meterpreter', 'Meterpreter', 'Web_Shell']));
  for (const t of traces) {
    if (t.set === 'attack') assert.equal(t.attack, t.folder.replace(/_\d+$/, ''), t.path);
    else assert.equal(t.attack, undefined);
    assert.ok(nameSet.has(`ADFA-LD/${t.path}`), `${t.path} is an entry, relative to the dataset root`);
  }
  const paths = traces.map((t) => t.path);
  assert.deepEqual(paths, [...paths].sort(), 'sorted path order');
  assert.equal(new Set(paths).size, paths.length);
});

test('ADFA-LD trace content: numbers as in the file, i386 names, pid = trace index', { skip: noZip }, async () => {
  const traces = await traceList();
  const firstPath = traces[0].path;
  const lastPath = traces[traces.length - 1].path;
  const { texts } = await readZipDirectly((n) => n === `ADFA-LD/${firstPath}` || n === `ADFA-LD/${lastPath}`);
  const numbers = numbersOf(texts.get(`ADFA-LD/${firstPath}`)!);
  assert.ok(numbers.length > 10 && numbers.every(Number.isInteger));

  const events: SyscallEvent[] = [];
  const src = openAdfa(ZIP);
  for await (const e of src) {
    if (e.pid !== 1) break;
    events.push(e);
  }
  assert.deepEqual(events.map((e) => e.name), numbers.map((n) => I386_SYSCALLS[n]));
  events.forEach((e, i) => {
    assert.equal(e.ts, BigInt(i));
    assert.equal(e.tid, 1);
    assert.equal(e.cpu, 0);
    assert.equal(e.phase, 'entry');
    assert.equal(e.proc, firstPath);
    assert.deepEqual(e.args, {});
  });

  const last = await readAdfaTrace(ZIP, lastPath);
  assert.deepEqual(last, numbersOf(texts.get(`ADFA-LD/${lastPath}`)!).map((n) => I386_SYSCALLS[n]));
});

const hasUnzip = !spawnSync('unzip', ['-v']).error;
test('ADFA-LD whole dataset: every number has an i386 name; counts match the raw text (unzip)', {
  skip: noZip || (hasUnzip ? false : 'unzip is not installed (used as the independent reader of the whole archive)'),
}, async () => {
  // independent of yauzl and of the reader: Info-ZIP's unzip, entry by entry in its own (zip) order
  const list = spawnSync('unzip', ['-Z1', ZIP], { encoding: 'utf8', maxBuffer: 1 << 26 }).stdout.split('\n')
    .filter((n) => /_Data_Master\/.*\.txt$/.test(n));
  const all = spawnSync('unzip', ['-p', ZIP, '*_Data_Master/*.txt'], { maxBuffer: 1 << 26 });
  assert.equal(all.status, 0, String(all.stderr));
  // each trace ends with a space, so concatenated entries stay apart
  const numbers = numbersOf(all.stdout.toString('latin1'));
  const used = new Set(numbers);
  // the sequence-level view over every trace (openAdfa runs the same reading code; its events are checked above)
  let total = 0;
  let traces = 0;
  let unknown = 0;
  const listed = await traceList();
  const first = numbersOf(spawnSync('unzip', ['-p', ZIP, `ADFA-LD/${listed[0].path}`], { encoding: 'latin1' }).stdout);
  for await (const t of iterateAdfaTraces(ZIP)) {
    traces++;
    assert.equal(t.index, traces);
    assert.equal(t.trace.path, listed[traces - 1].path);
    if (traces === 1) assert.deepEqual(t.numbers, first);
    assert.equal(t.names.length, t.numbers.length);
    total += t.numbers.length;
    for (const name of t.names) if (name.startsWith('sys_')) unknown++;
  }
  assert.equal(total, numbers.length);
  assert.equal(traces, list.length);
  assert.equal(unknown, 0, 'the traces use i386 numbers only');
  assert.ok([...used].every((n) => I386_SYSCALLS[n] !== undefined));
  // 252 (exit_group) ends most processes; asm-generic reserves 244-259 for the architecture, so the traces are not it
  assert.ok(used.has(252) && used.has(3) && used.has(102));
});

test('i386 table: standard numbers, equal to the system unistd_32.h, and the shared list is asm-generic', async (t) => {
  assert.equal(adfaSyscallName(3), 'read');
  assert.equal(adfaSyscallName(4), 'write');
  assert.equal(adfaSyscallName(5), 'open');
  assert.equal(adfaSyscallName(11), 'execve');
  assert.equal(adfaSyscallName(102), 'socketcall');
  assert.equal(adfaSyscallName(192), 'mmap2');
  assert.equal(adfaSyscallName(252), 'exit_group');
  assert.equal(adfaSyscallName(222), 'sys_222', 'a number i386 never assigned');
  assert.equal(adfaSyscallName(9999), 'sys_9999');

  await t.test('equals the system header where present', { skip: existsSync(UNISTD_32) ? false : `${UNISTD_32} not installed` }, () => {
    const sys = parseUnistdHeader(readFileSync(UNISTD_32, 'utf8'));
    const ours = new Map(I386_SYSCALLS.flatMap((n, i) => (n === undefined ? [] : [[i, n] as const])));
    assert.deepEqual(ours, sys);
  });

  await t.test('the shared syscall list', { skip: existsSync(LIST) ? false : `${LIST} missing` }, () => {
    const shared = parseUnistdHeader(readFileSync(LIST, 'utf8'));
    assert.ok(shared.size > 200);
    const both = [...shared.keys()].filter((n) => I386_SYSCALLS[n] !== undefined);
    const agree = both.filter((n) => shared.get(n) === I386_SYSCALLS[n]);
    if (shared.get(3) === 'read') {
      // an i386 list: it must agree with ours wherever both define a number
      assert.deepEqual(agree, both);
    } else {
      // The list shipped with ADFA-LD is asm-generic's unistd.h (read = 63, write = 64, openat = 56), not i386:
      // it cannot name the traces' numbers, and disagrees with i386 almost everywhere.
      assert.equal(shared.get(63), 'read');
      assert.equal(shared.get(64), 'write');
      assert.equal(shared.get(56), 'openat');
      assert.ok(agree.length < both.length / 10, `${agree.length} of ${both.length} agree`);
      // …while every name it has for a real call exists in the i386 table under some number, or is 64-bit-only
      const i386Names = new Set(I386_SYSCALLS);
      const missing = [...shared.values()].filter((n) => !i386Names.has(n));
      assert.ok(missing.length < shared.size / 4, `names absent from i386: ${missing.join(' ')}`);
    }
  });
});

test('folder and single-file inputs; malformed traces name the file and line', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'adfa-test-'));
  try {
    const root = join(dir, 'ADFA-LD');
    mkdirSync(join(root, 'Attack_Data_Master', 'Hydra_FTP_3'), { recursive: true });
    mkdirSync(join(root, 'Training_Data_Master'), { recursive: true });
    writeFileSync(join(root, 'Training_Data_Master', 'UTD-0002.txt'), '3 4 5 ');
    writeFileSync(join(root, 'Training_Data_Master', 'UTD-0001.txt'), '6 102\n999 ');
    writeFileSync(join(root, 'Attack_Data_Master', 'Hydra_FTP_3', 'UAD-Hydra-FTP-3-1.txt'), '11 252');
    writeFileSync(join(root, 'ADFA-LD+Syscall+List.txt'), '#define __NR_read 63\n');

    const traces = await listAdfaTraces(root);
    assert.deepEqual(traces.map((t) => t.path), [
      'Attack_Data_Master/Hydra_FTP_3/UAD-Hydra-FTP-3-1.txt',
      'Training_Data_Master/UTD-0001.txt',
      'Training_Data_Master/UTD-0002.txt',
    ]);
    assert.deepEqual(traces[0], { path: traces[0].path, set: 'attack', attack: 'Hydra_FTP', folder: 'Hydra_FTP_3' });

    const src = openAdfa(root);
    const events: SyscallEvent[] = [];
    for await (const e of src) events.push(e);
    assert.deepEqual(events.map((e) => `${e.pid}:${e.ts}:${e.name}`), [
      '1:0:execve', '1:1:exit_group', '2:0:close', '2:1:socketcall', '2:2:sys_999', '3:0:read', '3:1:write', '3:2:open',
    ]);
    assert.equal(src.unknownNumbers, 1);
    assert.equal(src.traces, 3);

    // a single trace file; and a folder inside a set folder still knows its set
    const one = join(root, 'Attack_Data_Master', 'Hydra_FTP_3', 'UAD-Hydra-FTP-3-1.txt');
    assert.deepEqual(await readAdfaTrace(one), ['execve', 'exit_group']);
    assert.deepEqual((await listAdfaTraces(join(root, 'Attack_Data_Master', 'Hydra_FTP_3')))[0].attack, 'Hydra_FTP');

    const bad = join(root, 'Training_Data_Master', 'UTD-0003.txt');
    writeFileSync(bad, '3 4\n5 x 6');
    await assert.rejects(readAdfaTrace(root, 'Training_Data_Master/UTD-0003.txt'), (e: unknown) => {
      assert.ok(isTraceError(e));
      assert.equal(e.file, bad);
      assert.equal(e.line, 2);
      assert.equal(e.offset, 6);
      return true;
    });
    await assert.rejects(readAdfaTrace(root, 'Training_Data_Master/UTD-9999.txt'), /no trace/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
