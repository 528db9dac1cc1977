/**
 * @module models/timing/timing.test
 * The timing model: features and surprise by hand on a made-up request (perplexity exp(S) whatever the length, the
 * explanation's fields and its measurements adding up to it), the fit against a brute-force mean and spread, the weight file's round trip
 * and its damage; a Gaussian per call shape against brute force, the pooled one for rare shapes, both through the file; and on the
 * committed web-server sample, what it is for — requests served beside a CPU hog or by a 25-worker pool rank above
 * normal ones, a second run of the normal server does not; per shape, `train` + `score` call them novel where one
 * Gaussian puts its threshold at the TLS handshakes; `explain` shows what it measured.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Sequence } from '../../features/sequences/sequence.js';
import { rocAuc } from '../../detect/metrics.js';
import { projectData } from '../../testing/paths.js';
import { webRequests } from '../../testing/web-sample.js';
import type { SyscallEvent } from '../../trace/event.js';
import { perplexityMany, perplexityOf } from '../language-model.js';
import { cli, oneLineError } from '../../cli/cli-process.js';
import { sharedData } from '../../testing/paths.js';
import { decodeTensors, encodeTensors } from '../tensor-file.js';
import { MIN_SPREAD, shapeKey, TIMING_FEATURES, TIMING_KIND, TimingModel } from './timing.js';

/** A request: calls at the given start times (µs) with the given latencies (µs). */
function request(id: string, calls: readonly [number, number][]): Sequence {
  const events: SyscallEvent[] = calls.map(([t, lat], i) => ({
    ts: 1_000_000_000n + BigInt(t * 1000), cpu: 0, pid: 1, tid: 1, proc: 'apache2', name: i % 2 ? 'poll' : 'read', phase: 'complete',
    args: {}, ret: 0, latency: lat * 1000,
  }));
  return { id, events };
}

const fitOn = async (seqs: readonly Sequence[], settings: Record<string, number> = {}) =>
  (await TIMING_KIND.fit({ train: async function* () { yield* seqs; } }, settings)) as TimingModel;

test('features, surprise and perplexity by hand; the explanation adds up to it', async () => {
  // span 0 → 900 + 100 = 1000 µs, in calls 50 + 100 = 150 µs, between calls 850 µs
  const seq = request('r', [[0, 50], [900, 100]]);
  const x = [Math.log1p(850), Math.log1p(1000), Math.log1p(150)];
  const mean = Float64Array.of(6, 7, 5);
  const std = Float64Array.of(0.5, 1, 2);
  const model = new TimingModel((await fitOn([seq])).tokenizer, { mean, std, count: 1 }, new Map(), {});
  const s = x.reduce((a, v, j) => a + 0.5 * ((v - mean[j]!) / std[j]!) ** 2, 0);
  assert.ok(Math.abs(model.surprise(seq) - s) < 1e-12);
  const [lp] = await model.logProbsMany([seq]);
  assert.equal(lp!.length, 3, '[T + 1]');
  assert.deepEqual([lp![0], lp![1]], [0, 0], 'events carry nothing; the end token all');
  assert.ok(Math.abs(Math.log(perplexityOf(lp!)) - s) < 1e-12, 'perplexity = exp(S)');
  // the same timing spread over more events: the same perplexity
  const longer = request('r2', [[0, 50], [300, 0], [600, 0], [900, 100]]);
  assert.ok(Math.abs(Math.log((await perplexityMany(model, [longer]))[0]!) - s) < 1e-12);
  // what explain shows: each feature in µs beside the normal one, its z and surprise
  const facts = model.sequenceFacts(seq);
  assert.deepEqual(facts.map((f) => f.name), [...TIMING_FEATURES]);
  [850, 1000, 150].forEach((us, j) => {
    assert.ok(Math.abs(facts[j]!.value - us) < 1e-9 && Math.abs(facts[j]!.normal - Math.expm1(mean[j]!)) < 1e-9);
    assert.ok(Math.abs(facts[j]!.z - (x[j]! - mean[j]!) / std[j]!) < 1e-12);
  });
  assert.ok(Math.abs(facts.reduce((a, f) => a + f.surprise, 0) - s) < 1e-12);
  const [fields] = await model.fieldSurpriseMany([seq]);
  assert.deepEqual(Object.keys(fields!), [...TIMING_FEATURES]);
  for (let t = 0; t < lp!.length; t++) {
    const sum = TIMING_FEATURES.reduce((a, f) => a + fields![f]![t]!, 0);
    assert.ok(Math.abs(sum + lp![t]!) < 1e-9, `token ${t}`);
  }
});

test('fit: each feature\'s mean and spread (at least the floor) over the training requests; a round trip through its file', async () => {
  const train = [request('a', [[0, 10], [500, 20]]), request('b', [[0, 30], [800, 40]]), request('c', [[0, 10], [650, 10]])];
  const model = await fitOn(train);
  const feats = train.map((q) => {
    const e = q.events;
    const span = (Number(e[e.length - 1]!.ts - e[0]!.ts) + e[e.length - 1]!.latency!) / 1000;
    const inside = e.reduce((a, v) => a + v.latency! / 1000, 0);
    return [Math.log1p(span - inside), Math.log1p(span), Math.log1p(inside)];
  });
  TIMING_FEATURES.forEach((_, j) => {
    const xs = feats.map((f) => f[j]!);
    const m = xs.reduce((a, b) => a + b, 0) / xs.length;
    const sd = Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / xs.length);
    assert.ok(Math.abs(model.pooled.mean[j]! - m) < 1e-12);
    assert.ok(Math.abs(model.pooled.std[j]! - Math.max(sd, MIN_SPREAD)) < 1e-12);
  });
  const names = model.tokenizer.vocabulary('name');
  assert.ok(names.has('poll') && names.has('read') && !names.has('write'), 'the calls seen, recorded in the folder');
  const dir = mkdtempSync(join(tmpdir(), 'sa-timing-'));
  try {
    const files = await model.save(dir);
    const back = await TIMING_KIND.load(dir, { settings: {}, tokenizer: model.tokenizer.toJSON(), files });
    const probe = request('p', [[0, 5], [2000, 900]]);
    assert.deepEqual(await back.logProbsMany([probe]), await model.logProbsMany([probe]));
    // damage: a wrong array length is one error naming the file
    const file = join(dir, files[0]!);
    const bytes = readFileSync(file);
    writeFileSync(file, bytes.subarray(0, bytes.length - 8));
    await assert.rejects(TIMING_KIND.load(dir, { settings: {}, tokenizer: model.tokenizer.toJSON(), files }), (e: Error) => e.message.includes(file));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('shapes: sequences that make the same calls get their own Gaussian once --shape-min of them are seen; others are measured against all', async () => {
  // shape A: read, poll (three requests); shape B: read, poll, read (two)
  const a = [request('a1', [[0, 10], [500, 20]]), request('a2', [[0, 30], [800, 40]]), request('a3', [[0, 10], [650, 10]])];
  const b = [request('b1', [[0, 10], [90_000, 20], [200_000, 300_000]]), request('b2', [[0, 40], [120_000, 10], [250_000, 400_000]])];
  const model = await fitOn([...a, ...b], { shapeMin: 3 });
  assert.deepEqual([...model.shapes.keys()], [shapeKey(new Map([['read', 1], ['poll', 1]]))], 'only A has three');
  assert.equal(shapeKey(new Map([['read', 2], ['poll', 1]])), 'poll×1 read×2');
  const brute = (seqs: readonly Sequence[]) => {
    const xs = seqs.map((q) => {
      const e = q.events;
      const span = (Number(e[e.length - 1]!.ts - e[0]!.ts) + e[e.length - 1]!.latency!) / 1000;
      const inside = e.reduce((acc, v) => acc + v.latency! / 1000, 0);
      return [Math.log1p(span - inside), Math.log1p(span), Math.log1p(inside)];
    });
    return TIMING_FEATURES.map((_, j) => {
      const m = xs.reduce((acc, x) => acc + x[j]!, 0) / xs.length;
      return { m, s: Math.max(MIN_SPREAD, Math.sqrt(xs.reduce((acc, x) => acc + (x[j]! - m) ** 2, 0) / xs.length)) };
    });
  };
  const sOf = (q: Sequence, g: { m: number; s: number }[]) => {
    const f = model.sequenceFacts(q);
    return f.reduce((acc, x, j) => acc + 0.5 * ((Math.log1p(x.value) - g[j]!.m) / g[j]!.s) ** 2, 0);
  };
  const probeA = request('pa', [[0, 5], [2000, 900]]);
  const probeB = request('pb', [[0, 5], [100_000, 20], [230_000, 350_000]]);
  assert.ok(Math.abs(model.surprise(probeA) - sOf(probeA, brute(a))) < 1e-9, 'A against the A requests only');
  assert.ok(Math.abs(model.surprise(probeB) - sOf(probeB, brute([...a, ...b]))) < 1e-9, 'B against all five');
  assert.match(model.sequenceFacts(probeA)[0]!.against!, /^the 3 training sequences that make the same calls/);
  assert.match(model.sequenceFacts(probeB)[0]!.against!, /^all 5 training sequences \(too few make the same calls/);
  // one Gaussian over both shapes takes a slow A (2.9 ms against A's 0.5–0.85) for normal: B's 300 ms widen it
  const pooledOnly = await fitOn([...a, ...b], { shapeMin: 0 });
  assert.equal(pooledOnly.shapes.size, 0);
  assert.ok(model.surprise(probeA) > 20 && pooledOnly.surprise(probeA) < 1, `${model.surprise(probeA)} vs ${pooledOnly.surprise(probeA)}`);
  assert.match(pooledOnly.sequenceFacts(probeA)[0]!.against!, /^all 5 training sequences$/);
  // a round trip through the file keeps every Gaussian; a shape row pointing past the names is one error naming the file
  const dir = mkdtempSync(join(tmpdir(), 'sa-timing-shapes-'));
  try {
    const files = await model.save(dir);
    const saved = { settings: { shapeMin: 3 }, tokenizer: model.tokenizer.toJSON(), files };
    const back = (await TIMING_KIND.load(dir, saved)) as TimingModel;
    for (const q of [probeA, probeB, ...a, ...b]) assert.equal(back.surprise(q), model.surprise(q));
    assert.equal(back.shapes.size, 1, 'B, made by two sequences, is saved for updates but not scored against');
    const file = join(dir, files[0]!);
    const arrays = decodeTensors(readFileSync(file), file);
    assert.equal(arrays.get('shapeEnds')!.length, 2, 'both shapes are rows of the file');
    arrays.set('shapeEnds', Int32Array.of(99, ...(arrays.get('shapeEnds') as Int32Array).subarray(1)));
    writeFileSync(file, encodeTensors(arrays));
    await assert.rejects(TIMING_KIND.load(dir, saved), (e: Error) => e.message.includes(file) && /shape 0 ends at 99/.test(e.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const requests = (set: string) => webRequests(set);

test('on the web-server sample: a CPU hog and a 25-worker pool show in where requests spend their time; a second normal run does not', async () => {
  const normal = await requests('normal');
  const model = await fitOn(normal.slice(0, 2000));
  const held = await perplexityMany(model, normal.slice(2000));
  const auc = async (set: string) => {
    const other = await perplexityMany(model, await requests(set));
    return rocAuc([...held, ...other], [...held.map(() => false), ...other.map(() => true)]);
  };
  const cpu = await auc('cpu');
  const connection = await auc('connection');
  const control = await auc('normal2');
  assert.ok(cpu > 0.9 && connection > 0.9, `AUC cpu ${cpu}, connection ${connection}`);
  assert.ok(control < 0.6, `the second normal run: AUC ${control}`);
});

test('label-free verdicts as `train` + `score` give them: per shape a CPU hog and a 25-worker pool are novel, one Gaussian puts its threshold at the handshakes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sa-timing-shapes-cli-'));
  try {
    // `train` holds out every tenth request for the 0.99 quantile: connections' first requests among them
    const novelShare = (model: string, set: string) => {
      const r = cli('score', '--model', model, projectData('web-novelty', `${set}.jsonl.gz`), '--json');
      assert.equal(r.code, 0, r.err);
      const seqs = (JSON.parse(r.out) as { sequences: { novel: boolean }[] }).sequences;
      return seqs.filter((q) => q.novel).length / seqs.length;
    };
    const shares: Record<string, Record<string, number>> = {};
    for (const [label, args] of [['per shape', []], ['one Gaussian', ['--shape-min', '0']]] as const) {
      const model = join(dir, label.replace(' ', '-'));
      const t = cli('train', '--model', 'timing', ...args, '--segment', 'request', '--train', projectData('web-novelty', 'normal.jsonl.gz'), '-o', model);
      assert.equal(t.code, 0, t.err);
      shares[label] = Object.fromEntries(['cpu', 'connection', 'normal2'].map((set) => [set, novelShare(model, set)]));
    }
    const [shape, one] = [shares['per shape']!, shares['one Gaussian']!];
    const why = JSON.stringify(shares);
    assert.ok(shape['cpu']! > 0.25 && shape['connection']! > 0.2, why);
    assert.ok(shape['cpu']! > 4 * one['cpu']! && shape['connection']! > 4 * one['connection']!, why);
    assert.ok(shape['normal2']! < 0.05, `a second normal run stays near the 1 % the threshold allows: ${why}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('explain on a timing model: the request\'s times beside the normal ones, and which feature carries the surprise', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sa-timing-cli-'));
  try {
    const model = join(dir, 'timing');
    const t = cli('train', '--model', 'timing', '--segment', 'request', '--train', projectData('web-novelty', 'normal.jsonl.gz'), '-o', model);
    assert.equal(t.code, 0, t.err);
    const cpu = projectData('web-novelty', 'cpu.jsonl.gz');
    const scored = JSON.parse(cli('score', '--model', model, cpu, '--json').out) as { sequences: { id: string; perplexity: number }[] };
    const top = [...scored.sequences].sort((a, b) => b.perplexity - a.perplexity)[0]!;
    const e = cli('explain', '--model', model, cpu, '--sequence', top.id, '--json');
    assert.equal(e.code, 0, e.err);
    const doc = JSON.parse(e.out) as { perplexity: number; explanation: { facts: { name: string; surprise: number }[] } };
    const facts = doc.explanation.facts;
    assert.deepEqual(facts.map((f) => f.name), [...TIMING_FEATURES]);
    assert.ok(Math.abs(facts.reduce((a, f) => a + f.surprise, 0) - Math.log(doc.perplexity)) < 1e-6 * Math.log(doc.perplexity));
    const text = cli('explain', '--model', model, cpu, '--sequence', top.id).out;
    assert.match(text, /what the model measured of the sequence, against normal:\n {2}gap \(time between calls\) +[\d,.]+ µs {2}normal ~[\d,.]+ µs {2}z [-+][\d.]+/);
    assert.match(text, /no event carries surprise of its own/);
    const html = join(dir, 'why.html');
    assert.equal(cli('explain', '--model', model, cpu, '--sequence', top.id, '--html', html).code, 0);
    const page = readFileSync(html, 'utf8');
    assert.match(page, /<h2>What the model measured, against normal<\/h2>\n<table><tr><th>feature<\/th>.*\n<tr><td>gap \(time between calls\)<\/td>/);
    assert.match(page, /<p>Normal: the [\d,]+ training sequences that make the same calls as many times\.<\/p>/);
    // no per-event colouring legend or table by call where no event carries surprise; the events are still listed
    assert.match(page, /No event carries surprise of its own/);
    assert.ok(!page.includes('<h2>By system call</h2>') && !page.includes('class="legend"'));
    assert.match(page, /<h2>Events<\/h2>/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('watch with an n-gram and the timing model: alerts only where a request is above its threshold by more than rounding', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sa-timing-watch-'));
  try {
    const normal = projectData('web-novelty', 'normal.jsonl.gz');
    const ng = join(dir, 'ngram-size');
    const tm = join(dir, 'timing');
    for (const [out, args] of [[ng, ['--model', 'ngram', '--predict', 'name,size']], [tm, ['--model', 'timing']]] as const) {
      const r = cli('train', ...args, '--segment', 'request', '--train', normal, '-o', out);
      assert.equal(r.code, 0, r.err);
    }
    const w = cli('watch', '--model', ng, '--model', tm, '--input', projectData('web-novelty', 'cpu.jsonl.gz'), '--alerts-only');
    assert.equal(w.code, 0, w.err);
    const alerts = w.out.trim().split('\n').map((l) => JSON.parse(l) as { output_fields?: Record<string, number> }).filter((a) => a.output_fields);
    assert.ok(alerts.length > 0);
    // (incremental and full scoring sum in different orders: 24 of 66 alerts here were a request equal to the
    // quantile's own sequence, "above" it by 4e-16, before live thresholds allowed for it)
    for (const a of alerts) {
      const f = a.output_fields!;
      assert.ok(f['seq.score']! - f['seq.threshold']! > 1e-10, `${f['seq.score']} vs ${f['seq.threshold']}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('data without call durations (ADFA-LD: names only) is a one-line error naming it', () => {
  const adfa = `${sharedData('adfa-ld', 'ADFA-LD.zip')}:Training_Data_Master`;
  const dir = mkdtempSync(join(tmpdir(), 'sa-timing-adfa-'));
  try {
    oneLineError(cli('train', '--model', 'timing', '--train', adfa, '-o', join(dir, 'm')), /ADFA-LD\.zip:Training_Data_Master: timing: no training event has a duration/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
