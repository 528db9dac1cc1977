/**
 * @module features/windows/windows.test
 * Windowing checked against a direct recount of each window's slice, on real ADFA-LD traces; durations, per-thread
 * splitting, the unknown slot, and the binary / .npy round trips.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SyscallEvent } from '../../trace/event.js';
import { TraceError } from '../../trace/errors.js';
import { sharedData } from '../../testing/paths.js';
import { readAdfaZip, adfaEvents, adfaCountSet, type AdfaTrace } from './adfa-testdata.js';
import { SyscallVocabulary } from './vocabulary.js';
import { windowConfig, windows, emptyWindowStats, type Window } from './windows.js';
import { WindowSet, WindowSetBuilder, buildWindows } from './windowset.js';
import { csrGet } from './sparse.js';
import { readNpy } from './npy.js';

let adfa: AdfaTrace[] | undefined;
async function traces(): Promise<AdfaTrace[]> {
  return (adfa ??= await readAdfaZip(sharedData('adfa-ld', 'ADFA-LD.zip')));
}

async function collect(src: Iterable<SyscallEvent>, vocab: SyscallVocabulary, cfg = windowConfig()): Promise<Window[]> {
  const out: Window[] = [];
  for await (const w of windows(src, vocab, cfg)) out.push(w);
  return out;
}

function recount(names: string[], vocab: SyscallVocabulary): Map<number, number> {
  const m = new Map<number, number>();
  for (const n of names) {
    const s = vocab.lookup(n) ?? 0;
    m.set(s, (m.get(s) ?? 0) + 1);
  }
  return m;
}

test('ADFA-LD: the zip holds 833 training, 4,372 validation and 746 attack traces in 60 folders', async () => {
  const t = await traces();
  assert.equal(t.filter((x) => x.split === 'Training').length, 833);
  assert.equal(t.filter((x) => x.split === 'Validation').length, 4372);
  const att = t.filter((x) => x.split === 'Attack');
  assert.equal(att.length, 746);
  assert.equal(new Set(att.map((x) => x.group)).size, 60);
  assert.equal(new Set(att.map((x) => x.kind)).size, 6);
});

for (const [size, stride] of [[100, 100], [100, 37], [50, 80]] as const) {
  test(`sliding windows size ${size} stride ${stride} equal a direct recount of each slice (real ADFA calls)`, async () => {
    const t = (await traces()).filter((x) => x.split === 'Attack').slice(0, 20);
    const events = t.flatMap((x) => [...adfaEvents(x)]);
    const names = events.map((e) => e.name);
    const vocab = SyscallVocabulary.growing();
    const stats = emptyWindowStats();
    const ws: Window[] = [];
    for await (const w of windows(events, vocab, windowConfig({ size, stride }), stats)) ws.push(w);
    const expected = Math.floor((names.length - size) / stride) + 1;
    assert.equal(ws.length, expected);
    assert.equal(stats.events, names.length);
    for (const w of ws) {
      const start = w.index * stride;
      const want = recount(names.slice(start, start + size), vocab);
      const got = new Map([...w.indices].map((c, k) => [c, w.values[k]]));
      assert.deepEqual(got, want, `window ${w.index}`);
      assert.equal(w.startTs, events[start].ts);
      assert.equal(w.endTs, events[start + size - 1].ts);
    }
    const covered = stride <= size ? (expected - 1) * stride + size : expected * size;
    assert.equal(stats.eventsInNoWindow, names.length - covered);
  });
}

function ev(name: string, tid: number, phase: SyscallEvent['phase'], latency?: number): SyscallEvent {
  return { ts: 0n, cpu: 0, pid: tid, tid, proc: 'p', name, phase, args: {}, ...(latency !== undefined ? { latency } : {}) };
}

test('durations sum latency of complete events; unpaired entries/exits count but add no time; both interleaves', async () => {
  const evs = [ev('read', 1, 'complete', 100), ev('read', 1, 'complete', 50), ev('write', 1, 'entry'),
    ev('write', 1, 'complete', 7), ev('open', 1, 'exit')];
  const vocab = SyscallVocabulary.growing();
  const stats = emptyWindowStats();
  const both: Window[] = [];
  for await (const w of windows(evs, vocab, windowConfig({ size: 5, features: 'both' }), stats)) both.push(w);
  assert.equal(both.length, 1);
  const r = vocab.lookup('read')!, w = vocab.lookup('write')!, o = vocab.lookup('open')!;
  const m = new Map([...both[0].indices].map((c, k) => [c, both[0].values[k]]));
  assert.deepEqual(m, new Map([[2 * r, 2], [2 * r + 1, 150], [2 * w, 2], [2 * w + 1, 7], [2 * o, 1]]));
  assert.equal(stats.unpairedEvents, 2);
  const d = await collect(evs, vocab, windowConfig({ size: 5, features: 'durations' }));
  assert.deepEqual([...d[0].indices], [r, w].sort((a, b) => a - b));
});

test('per-thread windows equal windowing each thread alone; partial tails are kept only when asked', async () => {
  const t = (await traces()).filter((x) => x.split === 'Training').slice(0, 6);
  // interleave six traces as six threads, round-robin
  const evs: SyscallEvent[] = [];
  const its = t.map((x, i) => [...adfaEvents(x)].map((e) => ({ ...e, tid: 100 + i, pid: 7 })));
  for (let k = 0; its.some((a) => k < a.length); k++) for (const a of its) if (k < a.length) evs.push(a[k]);
  const vocab = SyscallVocabulary.growing();
  const all = await collect(evs, vocab, windowConfig({ size: 64, stride: 32, split: 'thread', partial: true }));
  vocab.freeze();
  for (let i = 0; i < its.length; i++) {
    const alone = await collect(its[i], vocab, windowConfig({ size: 64, stride: 32, partial: true }));
    const mine = all.filter((w) => w.key === `tid:${100 + i}`);
    assert.equal(mine.length, alone.length);
    mine.forEach((w, k) => {
      assert.deepEqual([...w.indices], [...alone[k].indices]);
      assert.deepEqual([...w.values], [...alone[k].values]);
    });
    const sum = [...mine.at(-1)!.values].reduce((a, b) => a + b, 0);
    assert.equal(sum, Math.min(64, its[i].length)); // the tail window holds the last ≤ 64 events
  }
  const noTail = await collect(evs, vocab, windowConfig({ size: 64, stride: 32, split: 'thread' }));
  assert.ok(noTail.length < all.length);
  assert.ok(noTail.every((w) => w.events === 64));
});

test('a frozen vocabulary sends unseen names to <unk> (slot 0) and counts them', async () => {
  const vocab = SyscallVocabulary.of(['read', 'write']);
  const stats = emptyWindowStats();
  const ws: Window[] = [];
  const evs = [ev('read', 1, 'entry'), ev('mmap', 1, 'entry'), ev('brk', 1, 'entry'), ev('mmap', 1, 'entry')];
  for await (const w of windows(evs, vocab, windowConfig({ size: 4 }), stats)) ws.push(w);
  assert.deepEqual([...ws[0].indices], [0, 1]);
  assert.deepEqual([...ws[0].values], [3, 1]);
  assert.equal(stats.unknownEvents, 3);
  assert.deepEqual([...vocab.unknownNames].sort(), ['brk', 'mmap']);
  assert.equal(vocab.size, 3);
});

test('window config is validated', () => {
  assert.throws(() => windowConfig({ size: 0 }), RangeError);
  assert.throws(() => windowConfig({ stride: 1.5 }), RangeError);
  assert.throws(() => windowConfig({ split: 'cpu' as never }), RangeError);
  assert.throws(() => windowConfig({ sizes: 3 } as never), TypeError);
  assert.equal(windowConfig().size, 10_000);
  assert.equal(windowConfig({ size: 7 }).stride, 7);
});

test('ADFA-LD per-trace count vectors: one row per trace whose counts add up to its length; save/load and .npy round trip', async () => {
  const t = await traces();
  const set = await adfaCountSet(t);
  assert.equal(set.rows, t.length);
  for (let r = 0; r < set.rows; r += 97) {
    let s = 0;
    for (let k = set.X.indptr[r]; k < set.X.indptr[r + 1]; k++) s += set.X.values[k];
    assert.equal(s, t[r].calls.length);
    const slot = set.vocabulary.lookup(`nr_${t[r].calls[0]}`)!;
    assert.equal(csrGet(set.X, r, slot), t[r].calls.filter((c) => c === t[r].calls[0]).length);
  }
  assert.equal(set.classNames[set.labels[0]], t[0].split === 'Attack' ? 'attack' : 'normal');
  const dir = mkdtempSync(join(tmpdir(), 'windows-'));
  const file = join(dir, 'adfa.saws');
  set.save(file);
  const back = WindowSet.load(file);
  assert.deepEqual(back.X, set.X);
  assert.deepEqual(back.labels, set.labels);
  assert.deepEqual(back.groupNames, set.groupNames);
  assert.deepEqual(back.vocabulary.list(), set.vocabulary.list());
  const bytes = readFileSync(file);
  bytes[0] ^= 0xff;
  writeFileSync(file, bytes);
  assert.throws(() => WindowSet.load(file), TraceError);
  writeFileSync(file, readFileSync(file).subarray(0, 100));
  assert.throws(() => WindowSet.load(file), TraceError);
  set.exportNpy(dir);
  const X = readNpy(join(dir, 'X.npy'));
  assert.deepEqual(X.shape, [set.rows, set.featureCount]);
  assert.deepEqual(X.data, set.dense().data);
  assert.deepEqual(readNpy(join(dir, 'y.npy')).data, set.labels);
});

test('buildWindows on a test stream with the training vocabulary keeps the training columns', async () => {
  const t = await traces();
  const b = new WindowSetBuilder(SyscallVocabulary.growing(), windowConfig({ size: 200 }));
  for (const x of t.filter((q) => q.split === 'Training').slice(0, 50)) await b.add(adfaEvents(x), 'normal', x.group);
  const train = b.build();
  assert.ok(train.vocabulary.frozen);
  const att = t.filter((q) => q.split === 'Attack')[0];
  const test1 = await buildWindows(adfaEvents(att), train.vocabulary, windowConfig({ size: 200, partial: true }), 'attack', att.group);
  assert.equal(test1.featureCount, train.featureCount);
  const L = att.calls.length;
  const full = L >= 200 ? Math.floor((L - 200) / 200) + 1 : 0;
  assert.equal(test1.rows, full + (L - full * 200 > 0 ? 1 : 0));
});
