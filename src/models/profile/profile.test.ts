/**
 * @module models/profile/profile.test
 * The call-profile model: the surprise by hand on a hand-made SVM (unseen calls in `<unk>`, the same value whatever
 * the length, perplexity exp(S), the explanation's parts adding up to at most S); its fit against scikit-learn's
 * OneClassSVM on ADFA-LD (a reference `bench/profile_sklearn_parity.py` wrote once); on ADFA-LD, what it is for: it
 * ranks attacks above normal traces on its own, and its z ensemble with the n-gram ranks them better than either;
 * the weight file's round trip and its damage; the reservoir continued by an update equals one pass over all, and an
 * updated model scores as one fitted on both; through the CLI: train, explain, update, and a bad setting refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Sequence } from '../../features/sequences/sequence.js';
import { Tokenizer } from '../../features/tokens/tokenizer.js';
import { UNKNOWN } from '../../features/tokens/vocabulary.js';
import { combineScores, Normaliser } from '../../detect/ensemble.js';
import { rocAuc } from '../../detect/metrics.js';
import { projectData, projectRoot } from '../../testing/paths.js';
import { webRequests } from '../../testing/web-sample.js';
import { adfaSets } from '../../testing/adfa-sample.js';
import { TraceError } from '../../trace/errors.js';
import { findModelKind, passesOver, perplexityMany, perplexityOf, resolveSettings, type ModelSettings } from '../language-model.js';
import { NGRAM_KIND } from '../language-model.js';
import { normalStats } from '../normal-scores.js';
import { decodeTensors, encodeTensors } from '../tensor-file.js';
import { cli, oneLineError } from '../../cli/cli-process.js';
import { callCounts, PROFILE_KIND, PROFILE_SAMPLE, ProfileModel, Reservoir, type CallCounts } from './profile.js';

const DEFAULTS: ModelSettings = resolveSettings(findModelKind('profile')!, new Map());

/** A sequence making the named calls in order. */
function calls(id: string, names: readonly string[]): Sequence {
  return { id, events: names.map((name, i) => ({ ts: BigInt(i), cpu: 0, pid: 1, tid: 1, proc: 'p', name, phase: 'complete' as const, args: {} })) };
}

const fitOn = async (seqs: readonly Sequence[], settings: ModelSettings = DEFAULTS) =>
  (await PROFILE_KIND.fit({ train: passesOver(seqs) }, settings)) as ProfileModel;

test('surprise by hand on a hand-made SVM: unseen calls in <unk>, any length, perplexity exp(S), facts within S', async () => {
  const tokenizer = await new Tokenizer(['name'], 1).fitStream(passesOver([calls('t', ['read', 'read', 'write', 'poll'])])());
  const names = tokenizer.vocabulary('name');
  const D = names.size;
  const [r, w, p] = ['read', 'write', 'poll'].map((n) => names.id(n)) as [number, number, number];
  // two support vectors: all reads; half writes, half polls (square-rooted shares)
  const support = new Float64Array(2 * D);
  support[r] = 1;
  support[D + w] = Math.SQRT1_2;
  support[D + p] = Math.SQRT1_2;
  const alpha = Float64Array.of(0.3, 0.7);
  const gamma = 1.5;
  const model = new ProfileModel(tokenizer, { support, alpha, gamma }, { ...DEFAULTS, gamma }, new Reservoir());
  // 2 reads, 1 write, 1 call never seen (into <unk>)
  const seq = calls('s', ['read', 'write', 'read', 'mmap']);
  const x = new Float64Array(D);
  x[r] = Math.sqrt(2 / 4);
  x[w] = Math.sqrt(1 / 4);
  x[UNKNOWN] = Math.sqrt(1 / 4);
  const d2 = [0, 1].map((i) => x.reduce((a, v, j) => a + (v - support[i * D + j]!) ** 2, 0));
  const s = -Math.log((0.3 * Math.exp(-gamma * d2[0]!) + 0.7 * Math.exp(-gamma * d2[1]!)) / 1.0);
  assert.ok(Math.abs(model.surprise(seq) - s) < 1e-12, `${model.surprise(seq)} vs ${s}`);
  // another unseen call is the same <unk> column
  assert.ok(Math.abs(model.surprise(calls('s2', ['read', 'write', 'read', 'brk'])) - s) < 1e-12);
  const [lp] = await model.logProbsMany([seq]);
  assert.equal(lp!.length, 5, '[T + 1]');
  assert.deepEqual([...lp!.subarray(0, 4)], [0, 0, 0, 0], 'events carry nothing; the end token all');
  assert.ok(Math.abs(Math.log(perplexityOf(lp!)) - s) < 1e-12, 'perplexity = exp(S)');
  // the same mix three times as long: the same perplexity
  const longer = calls('l', [...seq.events, ...seq.events, ...seq.events].map((e) => e.name));
  assert.ok(Math.abs(Math.log((await perplexityMany(model, [longer]))[0]!) - s) < 1e-12);
  // a sequence that is a support vector's mix is less surprising than one far from both
  assert.ok(model.surprise(calls('n', ['write', 'poll'])) < model.surprise(calls('f', ['mmap', 'brk'])));
  // far from every support vector with a narrow kernel, where exp(−γ d²) underflows: S stays exact (d² = 2 to both)
  const narrow = new ProfileModel(tokenizer, { support, alpha, gamma: 2000 }, { ...DEFAULTS, gamma: 2000 }, new Reservoir());
  assert.equal(narrow.surprise(calls('f', ['mmap', 'brk'])), 4000);
  // what explain shows: shares in % beside the normal mix near it, parts of S, largest first
  const facts = model.sequenceFacts(seq);
  assert.ok(facts.length > 0);
  assert.ok(facts.reduce((a, f) => a + f.surprise, 0) <= s + 1e-12);
  assert.ok(facts.every((f, i) => i === 0 || f.surprise <= facts[i - 1]!.surprise));
  const unseen = facts.find((f) => f.name === 'calls never seen in training');
  assert.ok(unseen && Math.abs(unseen.value - 25) < 1e-9 && unseen.normal === 0 && unseen.z > 0, JSON.stringify(facts));
  const poll = facts.find((f) => f.name === 'poll');
  assert.ok(!poll || poll.z < 0, 'a call made less often than near normal has z < 0');
  for (const f of facts) assert.ok(Math.abs(0.5 * f.z * f.z - f.surprise) < 1e-12);
});

test('ADFA-LD: the fit matches scikit-learn\'s OneClassSVM; alone and beside the n-gram it ranks attacks above normal traces', async () => {
  const data = await adfaSets();
  const ref = JSON.parse(readFileSync(join(projectRoot(), 'src', 'models', 'profile', 'testdata', 'sklearn-adfa.json'), 'utf8')) as {
    trainTraces: number; supportVectors: number; surprise: Record<string, number>;
  };
  assert.equal(data.train.length, ref.trainTraces);
  const all = await fitOn(data.train);
  assert.equal(all.svm.alpha.length, ref.supportVectors, 'as many support vectors as scikit-learn');
  const byId = new Map([...data.validation, ...data.attack].map((s) => [s.id, s]));
  let worst = 0;
  for (const [id, s] of Object.entries(ref.surprise)) worst = Math.max(worst, Math.abs(all.surprise(byId.get(id)!) - s));
  assert.ok(worst < 1e-9, `largest difference from scikit-learn: ${worst}`);

  // As `train` does: fit on nine tenths, z-normalise with the held-out tenth.
  const held = data.train.filter((_, i) => i % 10 === 9);
  const fit = data.train.filter((_, i) => i % 10 !== 9);
  const profile = await fitOn(fit);
  const ngram = await NGRAM_KIND.fit({ train: passesOver(fit) }, resolveSettings(findModelKind('ngram')!, new Map([['order', '5']])));
  const scored = [...data.validation, ...data.attack];
  const labels = scored.map((_, i) => i >= data.validation.length);
  const members = [profile, ngram];
  const ppl = await Promise.all(members.map((m) => perplexityMany(m, scored)));
  const normalisers = await Promise.all(members.map(async (m) => new Normaliser(normalStats(held.map((s) => s.id), await perplexityMany(m, held), 'held-out'), 'z')));
  const [aucProfile, aucNgram] = ppl.map((p) => rocAuc(p, labels)) as [number, number];
  const aucBoth = rocAuc(combineScores(normalisers, ppl), labels);
  assert.ok(aucProfile > 0.8, `profile alone: AUC ${aucProfile}`);
  assert.ok(aucBoth > Math.max(aucProfile, aucNgram) + 0.015, `ensemble ${aucBoth} against profile ${aucProfile}, n-gram ${aucNgram}`);
  // the most surprising attack's explanation names calls, with shares in %
  const top = data.attack.reduce((a, b) => (profile.surprise(b) > profile.surprise(a) ? b : a));
  const facts = profile.sequenceFacts(top);
  assert.ok(facts.length > 0 && facts.every((f) => f.value >= 0 && f.value <= 100 && f.normal >= 0 && f.normal <= 100 + 1e-9));
});

const requests = (set: string) => webRequests(set);

test('the weight file: a round trip scores the same; damage is named with the file', async () => {
  const normal = await requests('normal');
  const model = await fitOn(normal.slice(0, 600));
  const dir = mkdtempSync(join(tmpdir(), 'profile-'));
  try {
    const files = await model.save(dir);
    const saved = { settings: model.settings, tokenizer: model.tokenizer.toJSON(), files };
    const back = await ProfileModel.load(dir, saved);
    const probe = [...normal.slice(600, 700), ...(await requests('socket')).slice(0, 50)];
    assert.deepEqual(await perplexityMany(back, probe), await perplexityMany(model, probe));
    assert.equal(back.sample.seen, 600);
    assert.deepEqual(back.sample.rows, model.sample.rows);
    const file = join(dir, files[0]!);
    const arrays = decodeTensors(readFileSync(file), file);
    const damaged = (name: string, value: Float64Array | Int32Array, pattern: RegExp) => {
      writeFileSync(file, encodeTensors(new Map([...arrays, [name, value]])));
      return assert.rejects(ProfileModel.load(dir, saved), (e: unknown) => e instanceof TraceError && e.message.includes(file) && pattern.test(e.message));
    };
    await damaged('gamma', Float64Array.of(2), /gamma 2, but the manifest says 1/);
    await damaged('alpha', arrays.get('alpha')!.slice(1) as Float64Array, /support' missing, not Float64Array, or not/);
    await damaged('sampleIds', Int32Array.from(arrays.get('sampleIds')!, (v, i) => (i === 3 ? 10_000 : v)), /sample row \d+: name id 10000/);
    await damaged('seen', Float64Array.of(5), /5 sequences seen, fewer than the 600 sampled/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('updates: the reservoir continued equals one pass over all; an updated model scores as one fitted on both', async () => {
  // beyond PROFILE_SAMPLE, where the reservoir starts replacing rows
  const rows = Array.from({ length: PROFILE_SAMPLE + 2500 }, (_, i): CallCounts => new Map([[`c${i % 7}`, 1 + (i % 5)], ['read', i]]));
  const once = new Reservoir();
  for (const r of rows) once.add(r);
  const later = new Reservoir();
  for (const r of rows.slice(0, 3000)) later.add(r);
  const continued = later.copy();
  for (const r of rows.slice(3000)) continued.add(r);
  assert.equal(once.rows.length, PROFILE_SAMPLE);
  assert.equal(continued.seen, rows.length);
  assert.deepEqual(continued.rows, once.rows);
  assert.ok(once.rows.some((r) => r.get('read')! >= PROFILE_SAMPLE), 'later rows replaced some earlier ones');
  assert.equal(later.rows.length, 3000, 'copy() left the original alone');

  // io requests make calls the normal ones do not: the vocabulary grows
  const normal = (await requests('normal')).slice(0, 500);
  const io = (await requests('io')).slice(0, 300);
  const updated = await (await fitOn(normal)).updated({ train: passesOver(io) });
  const both = await fitOn([...normal, ...io]);
  assert.equal(updated.sample.seen, 800);
  assert.ok(updated.width > (await fitOn(normal)).width, 'new call names added');
  const probe = [...(await requests('normal2')).slice(0, 100), ...(await requests('io')).slice(300, 400), ...(await requests('socket')).slice(0, 100)];
  const a = await perplexityMany(updated, probe);
  const b = await perplexityMany(both, probe);
  let worst = 0;
  a.forEach((v, i) => { worst = Math.max(worst, Math.abs(Math.log(v) - Math.log(b[i]!))); });
  assert.ok(worst < 1e-6, `updated vs fitted on both: ln perplexity differs by up to ${worst}`);
  // and the update learned io: the model of normal alone ranks every io request above normal2's, the updated one
  // hardly tells them apart
  const ioAuc = (p: readonly number[]) => rocAuc(p.slice(0, 200), Array.from({ length: 200 }, (_, i) => i >= 100));
  const aucBefore = ioAuc(await perplexityMany(await fitOn(normal), probe));
  assert.ok(aucBefore > 0.99 && ioAuc(a) < 0.7, `io against normal2: AUC ${aucBefore} before the update, ${ioAuc(a)} after`);
});

test('callCounts counts each name', () => {
  assert.deepEqual(callCounts(calls('c', ['a', 'b', 'a']).events), new Map([['a', 2], ['b', 1]]));
});

test('through the CLI: train, explain (calls by share, parts adding up to S), update; bad settings in one line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sa-profile-cli-'));
  try {
    const model = join(dir, 'profile');
    const socket = projectData('web-novelty', 'socket.jsonl.gz');
    const t = cli('train', '--model', 'profile', '--segment', 'request', '--train', projectData('web-novelty', 'normal.jsonl.gz'), '-o', model);
    assert.equal(t.code, 0, t.err);
    assert.match(t.out + t.err, /support vectors \d+/);
    const scored = JSON.parse(cli('score', '--model', model, socket, '--json').out) as { sequences: { id: string; perplexity: number }[] };
    const top = [...scored.sequences].sort((a, b) => b.perplexity - a.perplexity)[0]!;
    const e = cli('explain', '--model', model, socket, '--sequence', top.id, '--json');
    assert.equal(e.code, 0, e.err);
    const doc = JSON.parse(e.out) as { perplexity: number; explanation: { facts: { name: string; unit: string; surprise: number }[] } };
    const facts = doc.explanation.facts;
    assert.ok(facts.length > 0 && facts.every((f) => f.unit === '%'));
    const total = facts.reduce((a, f) => a + f.surprise, 0);
    assert.ok(total <= Math.log(doc.perplexity) + 1e-9 && total > 0.5 * Math.log(doc.perplexity), `facts ${total} of S ${Math.log(doc.perplexity)}`);
    assert.match(cli('explain', '--model', model, socket, '--sequence', top.id).out, /\(share of the calls\) +[\d.]+ % {2}normal ~[\d.]+ %/);
    const updated = join(dir, 'updated');
    const u = cli('update', '--model', model, '--train', projectData('web-novelty', 'io.jsonl.gz'), '-o', updated);
    assert.equal(u.code, 0, u.err);
    const novel = (m: string) => (JSON.parse(cli('score', '--model', m, projectData('web-novelty', 'io.jsonl.gz'), '--json').out) as { sequences: { novel: boolean }[] }).sequences
      .filter((q) => q.novel).length;
    assert.ok(novel(model) > 1000 && novel(updated) < 20, `io novel before ${novel(model)}, after ${novel(updated)}`);
    oneLineError(cli('train', '--model', 'profile', '--nu', '1.5', '--train', projectData('web-novelty', 'normal.jsonl.gz'), '-o', join(dir, 'x')), /--nu must be a number in \(0, 1\), got '1.5'/);
    oneLineError(cli('train', '--model', 'profile', '--gamma', '0', '--train', projectData('web-novelty', 'normal.jsonl.gz'), '-o', join(dir, 'x')), /--gamma must be a number > 0, got '0'/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
