/**
 * @module features/dataset.test
 * Data arguments: ADFA-LD subsets of the real zip (a set, a folder, an attack kind across its numbered folders, one
 * trace) give one sequence per trace with the dataset's own counts; traces are segmented as asked; every pass reads
 * the data again; missing files and empty subsets are one-line errors naming the file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { listAdfaTraces } from '../trace/adfa/adfa.js';
import { TraceError } from '../trace/errors.js';
import { projectData, sharedData } from '../testing/paths.js';
import type { Sequence } from './sequences/sequence.js';
import { adfaSubsetMatcher, openData, parseDataArg, type Reading } from './dataset.js';

const READ: Reading = { segmentation: 'thread', maxLength: 100_000, pairing: 'paired', lenient: false };

async function all(src: AsyncIterable<Sequence>): Promise<Sequence[]> {
  const out: Sequence[] = [];
  for await (const s of src) out.push(s);
  return out;
}

test('parseDataArg: ADFA-LD subsets after a colon, anything else a trace path', () => {
  assert.deepEqual(parseDataArg('a/ADFA-LD.zip:Training_Data_Master'),
    { kind: 'adfa', arg: 'a/ADFA-LD.zip:Training_Data_Master', path: 'a/ADFA-LD.zip', subset: 'Training_Data_Master' });
  assert.deepEqual(parseDataArg('x:Attack_Data_Master/Adduser_1/'),
    { kind: 'adfa', arg: 'x:Attack_Data_Master/Adduser_1/', path: 'x', subset: 'Attack_Data_Master/Adduser_1' });
  assert.equal(parseDataArg('C:/traces/run1').kind, 'trace');
  assert.equal(parseDataArg('trace:Other_Folder').kind, 'trace');
  assert.equal(parseDataArg(':Training_Data_Master').kind, 'trace');
});

test('adfaSubsetMatcher: the path, below it, or an attack kind across its numbered folders', () => {
  const kind = adfaSubsetMatcher('Attack_Data_Master/Adduser');
  assert.ok(kind('Attack_Data_Master/Adduser_1/UAD-Adduser-1-2783.txt'));
  assert.ok(kind('Attack_Data_Master/Adduser_10/x.txt'));
  assert.ok(!kind('Attack_Data_Master/AdduserX_1/x.txt'));
  assert.ok(!kind('Attack_Data_Master/Hydra_FTP_1/x.txt'));
  const set = adfaSubsetMatcher('Training_Data_Master');
  assert.ok(set('Training_Data_Master/UTD-0001.txt'));
  assert.ok(!set('Training_Data_Master_old/UTD-0001.txt'));
  assert.ok(adfaSubsetMatcher('Attack_Data_Master/Adduser_1/a.txt')('Attack_Data_Master/Adduser_1/a.txt'));
});

const zip = sharedData('adfa-ld', 'ADFA-LD.zip');
const skip = existsSync(zip) ? undefined : `${zip} not found`;

test('ADFA-LD subsets of the zip: one sequence per trace, ids = dataset paths, the listing\'s counts', { skip }, async () => {
  const listed = await listAdfaTraces(zip);
  const adduser = listed.filter((t) => t.attack === 'Adduser').map((t) => t.path);
  const src = openData(parseDataArg(`${zip}:Attack_Data_Master/Adduser`), READ);
  const seqs = await all(src);
  assert.deepEqual(seqs.map((s) => s.id), adduser);
  assert.equal(seqs.length, 91);
  const sum = src.summary();
  assert.equal(sum.sequences, 91);
  assert.equal(sum.format, 'adfa');
  assert.equal(sum.events, seqs.reduce((n, s) => n + s.events.length, 0));
  assert.ok(seqs.every((s) => s.events.every((e) => e.proc === s.id && e.phase === 'entry')));

  const one = adduser[0];
  const single = await all(openData(parseDataArg(`${zip}:${one}`), READ));
  assert.deepEqual(single.map((s) => s.id), [one]);
  assert.deepEqual(single[0].events.map((e) => e.name), seqs[0].events.map((e) => e.name));

  // a length cap truncates and counts what it drops; a second pass reads again
  const capped = openData(parseDataArg(`${zip}:${adduser[0].split('/').slice(0, 2).join('/')}`), { ...READ, maxLength: 50 });
  for (let pass = 0; pass < 2; pass++) {
    const c = await all(capped);
    assert.ok(c.length > 0 && c.every((s) => s.events.length <= 50));
    const s = capped.summary();
    assert.equal(s.sequences, c.length);
    assert.equal(s.truncated, c.filter((x) => x.truncated).length);
    assert.equal(s.droppedByCap, s.events - c.reduce((n, x) => n + x.events.length, 0));
    assert.ok(s.truncated > 0);
  }
});

test('a trace file is segmented as asked', async () => {
  const demo = projectData('demo', 'http-node');
  const threads = openData(parseDataArg(demo), READ);
  const t = await all(threads);
  const sum = threads.summary();
  assert.equal(sum.format, 'ctf-perf');
  assert.equal(t.length, new Set(t.flatMap((s) => s.events.map((e) => e.tid))).size);
  assert.ok(t.every((s) => /^tid:\d+#\d+$/.test(s.id)));
  assert.equal(sum.events, t.reduce((n, s) => n + s.events.length, 0));
  const windows = await all(openData(parseDataArg(demo), { ...READ, segmentation: 'window', maxLength: 100 }));
  assert.equal(windows.length, Math.ceil(sum.events / 100));
});

test('missing files and empty subsets: one-line errors naming the file', { skip }, async () => {
  await assert.rejects(all(openData(parseDataArg('/nonexistent/ADFA-LD.zip:Training_Data_Master'), READ)),
    (e: unknown) => e instanceof TraceError && e.message === '/nonexistent/ADFA-LD.zip:byte 0: cannot open: no such file or directory');
  await assert.rejects(all(openData(parseDataArg(`${zip}:Attack_Data_Master/Abc`), READ)),
    (e: unknown) => e instanceof TraceError && e.file === zip && /no ADFA-LD traces under 'Attack_Data_Master\/Abc'/.test(e.reason));
});
