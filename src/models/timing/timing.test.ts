/**
 * @module models/timing/timing.test
 * The timing model: features and surprise by hand on a made-up request (perplexity exp(S) whatever the length, the
 * explanation's fields and its measurements adding up to it), the fit against a brute-force mean and spread, the weight file's round trip
 * and its damage; and on the committed web-server sample, what it is for — requests served beside a CPU hog or by a
 * 25-worker pool rank above normal ones, a second run of the normal server does not; `explain` shows what it measured.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openData } from '../../features/dataset.js';
import type { Sequence } from '../../features/sequences/sequence.js';
import { rocAuc } from '../../detect/metrics.js';
import { projectData } from '../../testing/paths.js';
import type { SyscallEvent } from '../../trace/event.js';
import { perplexityMany, perplexityOf } from '../language-model.js';
import { cli, oneLineError } from '../../cli/cli-process.js';
import { sharedData } from '../../testing/paths.js';
import { MIN_SPREAD, TIMING_FEATURES, TIMING_KIND, TimingModel } from './timing.js';

/** A request: calls at the given start times (µs) with the given latencies (µs). */
function request(id: string, calls: readonly [number, number][]): Sequence {
  const events: SyscallEvent[] = calls.map(([t, lat], i) => ({
    ts: 1_000_000_000n + BigInt(t * 1000), cpu: 0, pid: 1, tid: 1, proc: 'apache2', name: i % 2 ? 'poll' : 'read', phase: 'complete',
    args: {}, ret: 0, latency: lat * 1000,
  }));
  return { id, events };
}

const fitOn = async (seqs: readonly Sequence[]) => (await TIMING_KIND.fit({ train: async function* () { yield* seqs; } }, {})) as TimingModel;

test('features, surprise and perplexity by hand; the explanation adds up to it', async () => {
  // span 0 → 900 + 100 = 1000 µs, in calls 50 + 100 = 150 µs, between calls 850 µs
  const seq = request('r', [[0, 50], [900, 100]]);
  const x = [Math.log1p(850), Math.log1p(1000), Math.log1p(150)];
  const mean = Float64Array.of(6, 7, 5);
  const std = Float64Array.of(0.5, 1, 2);
  const model = new TimingModel((await fitOn([seq])).tokenizer, mean, std, {});
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
    assert.ok(Math.abs(model.mean[j]! - m) < 1e-12);
    assert.ok(Math.abs(model.std[j]! - Math.max(sd, MIN_SPREAD)) < 1e-12);
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

async function requests(set: string): Promise<Sequence[]> {
  const path = projectData('web-novelty', `${set}.jsonl.gz`);
  const out: Sequence[] = [];
  for await (const s of openData({ kind: 'trace', arg: path, path }, { segmentation: 'request', maxLength: 10_000, pairing: 'paired', lenient: false })) out.push(s);
  return out;
}

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
    assert.match(readFileSync(html, 'utf8'), /<h2>What the model measured, against normal<\/h2>\n<table><tr><th>feature<\/th>.*\n<tr><td>gap \(time between calls\)<\/td>/);
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
