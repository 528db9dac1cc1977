/**
 * @module models/lstm/adapter.test
 * The LSTM as a `LanguageModel`: fitted from event sequences over several token fields (learned, sinusoidal,
 * position), its batched onnxruntime scores must agree with an independent float64 token-by-token evaluation of the
 * same weights (`./cpu.ts`), whatever the batch; it predicts the end token too (`[T + 1]` log-probabilities); a model
 * folder round trip through the kind's `load` scores the same; weights that do not fit the manifest are refused. The same
 * for a model predicting a composite unit (`--predict name,lat`: the first input and the target are `name|lat` tokens).
 * Label smoothing (`--label-smoothing`) flattens what it learns; folders from before the setting load as unsmoothed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seededRandom } from '../../engine/graph.js';
import type { Sequence as EventSequence } from '../../features/sequences/sequence.js';
import type { SyscallEvent } from '../../trace/event.js';
import { isTraceError } from '../../trace/errors.js';
import { perplexityOf, type ModelSettings } from '../language-model.js';
import { LSTM_KIND, LstmLanguageModel } from './adapter.js';
import { LstmCpuScorer } from './cpu.js';
import { LSTM_OPTIONS } from './options.js';

const PROGRAMS = [['open', 'read', 'read', 'close'], ['socket', 'connect', 'write', 'read', 'close']];

function events(count: number, seed: number): EventSequence[] {
  const rand = seededRandom(seed);
  return Array.from({ length: count }, (_, s) => {
    const prog = PROGRAMS[s % 2]!;
    const pid = 100 + (s % 2) * 50;
    let ts = 0n;
    const evs: SyscallEvent[] = Array.from({ length: 12 + Math.floor(rand() * 20) }, (_, i) => {
      ts += BigInt(1 + Math.floor(rand() * 5000));
      const name = rand() < 0.05 ? 'mmap' : prog[i % prog.length]!;
      const latency = 100 * 2 ** Math.floor(rand() * 6); // six latency buckets
      return { ts, cpu: 0, pid, tid: pid, proc: s % 2 ? 'curl' : 'cat', name, phase: 'complete', args: {}, ret: name === 'connect' ? -111 : 0, latency };
    });
    return { id: `s${s}`, events: evs };
  });
}

const settings: ModelSettings = {
  ...Object.fromEntries(LSTM_OPTIONS.map((o) => [o.key, o.defaultValue])),
  embed: 8, hidden: 16, layers: 2, chunk: 8, batch: 4, epochs: 2, threads: 1,
  fields: 'name,phase,dt,proc,pid,tid,ret', // every field, sinusoidal pid and tid included (`auto` leaves those out)
};

test('LSTM language model: batched onnxruntime scores agree with a float64 reference, [T + 1] predictions, folder round trip', async () => {
  const train = events(24, 1);
  const model = await LSTM_KIND.fit({ train: async function* () { yield* train; } }, settings) as LstmLanguageModel;
  assert.equal(model.tokenizer.fields.length, 7);
  assert.equal(model.model.config.fields.find((f) => f.name === 'pid')!.encoding, 'sinusoidal');
  const reference = new LstmCpuScorer(model.model.config, model.model.params);
  const test = events(6, 2);
  const batched = await model.logProbsMany(test); // 6 sequences, 4 per run
  const surprise = await model.fieldSurpriseMany(test);
  assert.equal(batched.length, test.length);
  for (const [i, seq] of test.entries()) {
    const lp = reference.logProbs(model.tokenizer.encode(seq));
    assert.equal(lp.length, seq.events.length + 1);
    assert.equal(batched[i]!.length, seq.events.length + 1);
    for (let t = 0; t < lp.length; t++) assert.ok(Math.abs(lp[t]! - batched[i]![t]!) < 1e-4, `seq ${i} token ${t}: ${lp[t]} vs ${batched[i]![t]}`);
    const [alone] = await model.logProbsMany([seq]);
    for (let t = 0; t < lp.length; t++) assert.ok(Math.abs(alone![t]! - batched[i]![t]!) < 1e-5, 'alone or in a batch: the same');
    assert.deepEqual(Object.keys(surprise[i]!), ['name']);
    assert.deepEqual(Array.from(surprise[i]!['name']!), Array.from(batched[i]!, (x) => -x));
    const ppl = perplexityOf(batched[i]!);
    assert.ok(Math.abs(Math.log(ppl) + lp.reduce((a, b) => a + b, 0) / lp.length) < 1e-4);
  }
  assert.equal(model.describe()['parameters'], model.model.size);

  const dir = await mkdtemp(join(tmpdir(), 'lstm-adapter-'));
  try {
    const files = await model.save(dir);
    const saved = { settings, tokenizer: model.tokenizer.toJSON(), files };
    const loaded = await LSTM_KIND.load(dir, saved) as LstmLanguageModel;
    assert.deepEqual((await loaded.logProbsMany(test)).map((a) => Array.from(a)), batched.map((a) => Array.from(a)));
    await loaded.release();
    await assert.rejects(LSTM_KIND.load(dir, { ...saved, settings: { ...settings, hidden: 32 } }), (e) => isTraceError(e));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  await model.release();
});

test('LSTM predicting name + latency bucket: a float64 reference agrees; the tokenizer JSON and a folder round trip keep the unit', async () => {
  const train = events(24, 3);
  const s = { ...settings, predict: 'name,lat', fields: 'name,phase,dt,ret' };
  const model = await LSTM_KIND.fit({ train: async function* () { yield* train; } }, s) as LstmLanguageModel;
  assert.deepEqual(model.tokenizer.unitNames, ['name|lat', 'phase', 'dt', 'ret']);
  assert.ok(model.tokenizer.vocabulary('name|lat').size > 5 + 6 * 2, 'names × latency buckets');
  assert.equal(model.model.config.fields[0]!.name, 'name_lat');
  assert.equal(model.describe()['predict'], 'name,lat');
  const test = events(4, 4);
  const scores = await model.logProbsMany(test);
  const reference = new LstmCpuScorer(model.model.config, model.model.params);
  test.forEach((seq, i) => {
    const lp = reference.logProbs(model.tokenizer.encode(seq));
    for (let t = 0; t < lp.length; t++) assert.ok(Math.abs(lp[t]! - scores[i]![t]!) < 1e-4, `seq ${i} token ${t}`);
  });
  assert.deepEqual(Object.keys((await model.fieldSurpriseMany(test.slice(0, 1)))[0]!), ['name|lat']);
  const dir = await mkdtemp(join(tmpdir(), 'lstm-adapter-lat-'));
  try {
    const files = await model.save(dir);
    const saved = { settings: s, tokenizer: JSON.parse(JSON.stringify(model.tokenizer.toJSON())), files };
    assert.equal(saved.tokenizer.joined, 2);
    const loaded = await LSTM_KIND.load(dir, saved) as LstmLanguageModel;
    assert.deepEqual((await loaded.logProbsMany(test)).map((a) => Array.from(a)), scores.map((a) => Array.from(a)));
    await loaded.release();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  await model.release();
});

test('LSTM options parse and refuse bad values', () => {
  const get = (k: string) => LSTM_OPTIONS.find((o) => o.key === k)!;
  assert.equal(get('fields').parse('name, pid'), 'name,pid');
  assert.throws(() => get('fields').parse('pid,name'), /must start with name/);
  assert.throws(() => get('fields').parse('name,args'), /unknown field 'args'/);
  assert.throws(() => get('positionDim').parse('3'), /even/);
  assert.throws(() => get('lr').parse('2'), /\(0, 1\)/);
  assert.equal(get('hidden').parse('256'), 256);
  assert.equal(get('labelSmoothing').parse('0.1'), 0.1);
  assert.throws(() => get('labelSmoothing').parse('1'), /--label-smoothing must be a number in \[0, 1\)/);
});

test('label smoothing flattens what the LSTM learns: higher perplexity on its own training data; older folders read as none', async () => {
  const train = events(24, 11);
  const fit = (labelSmoothing: number) => LSTM_KIND.fit({ train: async function* () { yield* train; } }, { ...settings, epochs: 4, labelSmoothing });
  const sharp = await fit(0);
  const smooth = await fit(0.3);
  try {
    const ppl = async (m: Awaited<ReturnType<typeof fit>>) => (await m.logProbsMany(train)).reduce((a, lp) => a + Math.log(perplexityOf(lp)), 0);
    const [a, b] = [await ppl(sharp), await ppl(smooth)];
    assert.ok(b > a, `ln perplexity summed over the training sequences: smoothed ${b} vs not ${a}`);
    assert.equal(smooth.settings['labelSmoothing'], 0.3);
    // a folder written before the setting existed: its settings lack the key, and it loads (none was used)
    const dir = await mkdtemp(join(tmpdir(), 'sa-lstm-ls-'));
    try {
      const files = await sharp.save(dir);
      const { labelSmoothing: _dropped, ...older } = sharp.settings;
      const loaded = await LSTM_KIND.load(dir, { settings: older, tokenizer: sharp.tokenizer.toJSON(), files });
      assert.ok(Math.abs((await ppl(loaded)) - a) < 1e-6 * Math.abs(a));
      await loaded.release();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  } finally {
    await sharp.release();
    await smooth.release();
  }
});
