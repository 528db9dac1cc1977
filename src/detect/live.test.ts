/**
 * @module detect/live.test
 * Live scoring on real traces (the committed web-server sample): the live segmenters cut exactly as the batch ones
 * (ids, events, truncation) for every segmentation; `watchEvents` gives every sequence the perplexity full scoring
 * gives (n-gram and LSTM, small batches so that rounds and splits happen); alerts carry Falco's fields and fire only
 * at checkpoint lengths; the open-sequence cap drops and counts, and every event is accounted for; with a latency
 * bound, results come out while the source is still open, and `stop()` ends the run with a final summary; a model of
 * whole sequences names no event in its alerts but what it measured (the facts `explain` gives).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openData } from '../features/dataset.js';
import { createSegmenter, SEGMENTATIONS, segmentAll, type Segmentation, type Sequence } from '../features/sequences/index.js';
import { MODEL_KINDS, perplexityOf, resolveSettings, type LanguageModel } from '../models/language-model.js';
import { openJsonl } from '../trace/jsonl/jsonl.js';
import type { SyscallEvent } from '../trace/event.js';
import { projectData } from '../testing/paths.js';
import { createLiveSegmenter, type LiveSink } from './live-segment.js';
import { watchEvents, type SequenceResult, type WatchRecord } from './live.js';
import { factNumber } from './alert.js';

const SOCKET = projectData('web-demo', 'socket.jsonl.gz');
const IO = projectData('web-demo', 'io.jsonl.gz');
const NORMAL = projectData('web-demo', 'normal.jsonl.gz');

let cached: SyscallEvent[] | undefined;
async function socketEvents(): Promise<SyscallEvent[]> {
  if (cached) return cached;
  const out: SyscallEvent[] = [];
  for await (const ev of openJsonl(SOCKET, false)) out.push(ev);
  return (cached = out);
}

async function* replay<T>(xs: readonly T[]): AsyncGenerator<T> {
  yield* xs;
}

async function fit(kind: string, settings: Record<string, string>, n: number): Promise<LanguageModel> {
  const entry = MODEL_KINDS.find((k) => k.kind === kind)!;
  const train: Sequence[] = [];
  for await (const s of openData({ kind: 'trace', arg: 'normal', path: NORMAL }, { segmentation: 'request', maxLength: 200, pairing: 'paired', lenient: false })) {
    train.push(s);
    if (train.length === n) break;
  }
  return (await entry.implementation()).fit({ train: async function* () { yield* train; } }, resolveSettings(entry, new Map(Object.entries(settings))));
}

async function collect(it: AsyncIterable<WatchRecord>): Promise<WatchRecord[]> {
  const out: WatchRecord[] = [];
  for await (const r of it) out.push(r);
  return out;
}

for (const kind of SEGMENTATIONS) {
  test(`live segmentation '${kind}' cuts a real trace as the batch segmenter does`, async () => {
    const events = await socketEvents();
    const maxLen = 50;
    const batch = segmentAll(events, createSegmenter(kind, maxLen));
    const live: Sequence[] = [];
    const sink: LiveSink<Sequence> = {
      open: (id) => { const s: Sequence = { id, events: [] }; live.push(s); return s; },
      add: (s, ev) => { if (s.events.length < maxLen) s.events.push(ev); else s.truncated = true; },
      end: (s, truncated) => { if (truncated) s.truncated = true; },
    };
    const seg = createLiveSegmenter<Sequence>(kind, maxLen);
    for (const ev of events) seg.push(ev, sink);
    seg.flush(sink);
    assert.ok(batch.length >= (kind === 'process' ? 1 : 10), `${batch.length} sequences`); // one server process
    // The same sequences (order of ends may differ only where several end at one event).
    const byId = new Map(live.map((s) => [s.id, s]));
    assert.equal(live.length, batch.length);
    for (const b of batch) {
      const l = byId.get(b.id);
      assert.ok(l, `${kind}: ${b.id} missing live`);
      assert.equal(l.events.length, b.events.length, `${kind}: ${b.id} length`);
      assert.equal(l.truncated === true, b.truncated === true, `${kind}: ${b.id} truncation`);
      for (let i = 0; i < b.events.length; i++) assert.equal(l.events[i], b.events[i]);
    }
    assert.equal(seg.counts.events, events.length);
  });
}

const SMALL_LSTM = { embed: '8', hidden: '16', layers: '1', chunk: '8', batch: '8', epochs: '1', threads: '1', positionDim: '4', patience: '0' };

for (const [kind, settings, tol] of [['ngram', { order: '4' }, 1e-12], ['lstm', SMALL_LSTM, 2e-5]] as const) {
  test(`watchEvents gives each sequence the perplexity full scoring gives: ${kind}`, async () => {
    const model = await fit(kind, settings, kind === 'ngram' ? 3000 : 150);
    try {
      const events = await socketEvents();
      const segmentation = { kind: 'thread' as Segmentation, maxLength: 60 };
      const seqs = segmentAll(events, createSegmenter('thread', 60));
      const full = new Map((await model.logProbsMany(seqs)).map((lp, i) => [seqs[i]!.id, perplexityOf(lp)]));
      const run = watchEvents(model, replay(events), { segmentation, threshold: 1e9, batchEvents: 500, maxBatch: 7 });
      const results = (await collect(run)).filter((r): r is SequenceResult => r.type === 'sequence');
      assert.equal(results.length, seqs.length);
      for (const r of results) {
        const want = full.get(r.id);
        assert.ok(want !== undefined, r.id);
        assert.ok(Math.abs(r.perplexity - want) <= tol * want, `${r.id}: ${r.perplexity} live vs ${want} in full`);
      }
      const s = run.summary();
      assert.equal(s.events, events.length);
      assert.equal(s.sequences, seqs.length);
      assert.equal(s.open, 0);
      assert.ok(s.dropped.byCap > 0, 'some threads pass the cap of 60');
      assert.equal(results.reduce((n, r) => n + r.length, 0) + s.dropped.byCap, events.length);
    } finally {
      await model.release();
    }
  });
}

test('alerts follow Falco conventions and fire only at checkpoint lengths; the open cap drops and counts', async () => {
  const model = await fit('ngram', { order: '4' }, 3000);
  const events: SyscallEvent[] = [];
  for await (const ev of openJsonl(IO, false)) events.push(ev);
  const segmentation = { kind: 'thread' as Segmentation, maxLength: 100_000 };
  const recs = await collect(watchEvents(model, replay(events), { segmentation, threshold: 3, minEvents: 8 }));
  const alerts = recs.flatMap((r) => (r.type === 'alert' ? [r.alert] : []));
  assert.ok(alerts.length > 0);
  for (const a of alerts) {
    assert.match(a.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
    assert.ok(['Warning', 'Error'].includes(a.priority));
    assert.equal(a.rule, 'Novel syscall sequence');
    assert.equal(a.source, 'syscall-anomaly');
    assert.ok(a.output.length > 20 && !a.output.includes('\n'));
    const f = a.output_fields;
    for (const k of ['seq.id', 'proc.name', 'proc.pid', 'thread.tid', 'seq.score', 'seq.threshold', 'seq.top_events', 'evt.lost']) assert.ok(k in f, k);
    assert.ok((f['seq.score'] as number) > (f['seq.threshold'] as number));
    const top = f['seq.top_events'] as { name: string; surprise: number }[];
    assert.ok(top.length > 0 && top.length <= 5);
    for (let i = 1; i < top.length; i++) assert.ok(top[i - 1]!.surprise >= top[i]!.surprise);
    const n = f['seq.length'] as number;
    if (f['seq.final'] === false) assert.ok([8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096].includes(n), `checkpoint ${n}`);
  }
  // At most one alert per sequence, and every sequence that alerted says so.
  const alerted = new Set(alerts.map((a) => a.output_fields['seq.id']));
  assert.equal(alerted.size, alerts.length);
  for (const r of recs) if (r.type === 'sequence') assert.equal(r.alerted, alerted.has(r.id));

  // The cap on open sequences: what is dropped is counted, every event accounted for.
  const run = watchEvents(model, replay(await socketEvents()), { segmentation, threshold: 1e9, maxOpen: 3 });
  const seqs = (await collect(run)).filter((r): r is SequenceResult => r.type === 'sequence');
  const s = run.summary();
  const total = segmentAll(await socketEvents(), createSegmenter('thread', 100_000)).length;
  assert.ok(s.dropped.sequences > 0 && s.dropped.events > 0);
  assert.equal(seqs.length + s.dropped.sequences, total);
  assert.equal(seqs.reduce((n, r) => n + r.length, 0) + s.dropped.events, s.events);
});

test('a model of whole sequences (profile) alerts at the end with what it measured, and names no event as the most surprising', async () => {
  const model = await fit('profile', {}, 600);
  const segmentation = { kind: 'request' as Segmentation, maxLength: 100_000 };
  const events = await socketEvents();
  const recs = await collect(watchEvents(model, replay(events), { segmentation, threshold: 1.5 }));
  const alerts = recs.flatMap((r) => (r.type === 'alert' ? [r.alert] : []));
  assert.ok(alerts.length > 0, 'some socket requests alert');
  const batch = new Map(segmentAll(events, createSegmenter('request', 100_000)).map((q) => [q.id, q]));
  for (const a of alerts) {
    assert.deepEqual(a.output_fields['seq.top_events'], [], 'every event of a whole-sequence model scores 0');
    assert.ok(!a.output.includes('most surprising'), a.output);
    assert.equal(a.output_fields['model.kind'], 'profile');
    // what it measured: the facts `explain` gives for the same request, most surprising first, the top three in words
    const want = model.sequenceFacts!(batch.get(a.output_fields['seq.id'] as string)!).map(({ name, value, normal, unit, z, surprise }) => ({ name, value, normal, unit, z, surprise }));
    assert.ok(want.length > 0);
    assert.deepEqual(a.output_fields['seq.facts'], want);
    assert.ok(a.output.includes(`; against normal: ${want[0]!.name} ${factNumber(want[0]!.value)} % (normal ~`), a.output);
  }
});

test('with a latency bound, results come while the source is still open; stop() ends the run', async () => {
  const model = await fit('ngram', { order: '3' }, 200);
  const events = (await socketEvents()).slice(0, 12);
  let release: () => void = () => {};
  const hold = new Promise<void>((r) => (release = r));
  async function* source(): AsyncGenerator<SyscallEvent> {
    yield* events;
    await hold; // a live source that goes quiet
  }
  const run = watchEvents(model, source(), { segmentation: { kind: 'window', maxLength: 4 }, threshold: 1e9, latencyMs: 5 });
  const it = run[Symbol.asyncIterator]();
  const got: WatchRecord[] = [];
  while (got.length < 3) {
    const r = await it.next();
    assert.equal(r.done, false);
    got.push(r.value as WatchRecord);
  }
  assert.deepEqual(got.map((r) => (r as SequenceResult).id), ['win:0', 'win:1', 'win:2']);
  run.stop();
  const r = await it.next();
  assert.equal(r.done, true);
  assert.equal(run.summary().sequences, 3);
  release();
  await model.release();
});
