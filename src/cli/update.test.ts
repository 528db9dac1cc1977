/**
 * @module cli/update.test
 * Lifelong learning (`syscall-anomaly update`) on the committed web-server sample. An n-gram fitted on normal requests
 * and then updated with the io novelty's requests (new syscalls among them) scores every request exactly as one fitted
 * on both at once, for the name and for the joint name|size token; the old vocabulary ids are kept. Through the CLI:
 * after `update` with the io requests, io is no longer novel, while opcache and socket still are and normal requests
 * stay below 1 % — the io requests are ones the update held out for its threshold or learned from, the others it never
 * saw. The manifest says what it was updated from and counts what was learned in all; an in-place update works;
 * `info` shows the lineage and verifies the files (a flipped byte is named); LSTM and Longformer folders update through
 * the CLI too; misuse is a one-line error. The timing model, per shape and pooled, updated from
 * memory or from its file, scores bit for bit as one fitted on both; a folder without its moments (written before
 * them) still scores and refuses an update.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openData, parseDataArg, type Reading } from '../features/dataset.js';
import type { Sequence } from '../features/sequences/sequence.js';
import { NgramScorer } from '../models/ngram/scorer.js';
import { passesOver, resolveSettings, findModelKind } from '../models/language-model.js';
import { TIMING_KIND, type TimingModel } from '../models/timing/timing.js';
import { decodeTensors, encodeTensors } from '../models/tensor-file.js';
import { createHash } from 'node:crypto';
import { projectData } from '../testing/paths.js';
import { cli, oneLineError } from './cli-process.js';

const data = (name: string) => projectData('web-novelty', `${name}.jsonl.gz`);
const reading: Reading = { segmentation: 'request', maxLength: 100_000, pairing: 'paired', lenient: false };

async function read(name: string, n: number): Promise<Sequence[]> {
  const out: Sequence[] = [];
  for await (const s of openData(parseDataArg(data(name)), reading)) {
    out.push(s);
    if (out.length === n) break;
  }
  return out;
}

let root = '';
before(() => {
  root = mkdtempSync(join(tmpdir(), 'sa-update-'));
});
after(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

test('an updated n-gram scores as one fitted on the old and new data together; old ids are kept', async () => {
  const normal = await read('normal', 400);
  const io = await read('io', 200);
  const probe = [...(await read('opcache', 50)), ...(await read('socket', 50)), ...normal.slice(0, 20), ...io.slice(0, 20)];
  for (const predict of [['name'], ['name', 'size']] as const) {
    const old = NgramScorer.fit(normal, 5, 1, predict);
    const updated = await old.updatedStream(passesOver(io));
    const both = NgramScorer.fit([...normal, ...io], 5, 1, predict);
    const oldVocab = old.tokenizer.vocabulary(old.field);
    const newVocab = updated.tokenizer.vocabulary(updated.field);
    assert.ok(newVocab.size > oldVocab.size, `io brings new ${predict.join('|')} tokens (${oldVocab.size} → ${newVocab.size})`);
    for (let id = 0; id < oldVocab.size; id++) assert.equal(newVocab.token(id), oldVocab.token(id));
    assert.equal(updated.model.size, both.model.size, 'the same n-grams');
    for (const s of probe) {
      const a = updated.score(s);
      const b = both.score(s);
      assert.ok(Math.abs(a - b) <= 1e-12 * Math.max(1, Math.abs(b)), `${s.id}: updated ${a} vs fitted on both ${b}`);
    }
    // the old model is unchanged: io's new calls are still unknown to it
    assert.ok(old.score(io[0]!) > updated.score(io[0]!));
  }
});

const novelShare = (dir: string, name: string): number => {
  const r = cli('score', '--model', dir, data(name), '--json');
  assert.equal(r.code, 0, r.err);
  const doc = JSON.parse(r.out) as { sequences: { novel: boolean }[] };
  return doc.sequences.filter((s) => s.novel).length / doc.sequences.length;
};

test('update through the CLI: io becomes normal, the other novelties stay novel; in place; errors', () => {
  const base = join(root, 'ngram');
  const updated = join(root, 'ngram-io');
  const t = cli('train', '--model', 'ngram', '--segment', 'request', '--train', data('normal'), '-o', base, '--json');
  assert.equal(t.code, 0, t.err);
  const baseManifest = JSON.parse(t.out) as { training: { fitSequences: number; date: string } };
  assert.ok(novelShare(base, 'io') > 0.9);

  const u = cli('update', '--model', base, '--train', data('io'), '-o', updated, '--json');
  assert.equal(u.code, 0, u.err);
  const m = JSON.parse(u.out) as {
    kind: string; segmentation: { kind: string }; settings: Record<string, unknown>;
    training: { fitSequences: number; updatedFrom: { model: string; date: string; fitSequences: number } };
  };
  assert.equal(m.kind, 'ngram');
  assert.equal(m.segmentation.kind, 'request', 'the base folder\'s segmentation');
  assert.deepEqual(m.training.updatedFrom, { model: base, date: baseManifest.training.date, fitSequences: baseManifest.training.fitSequences });
  assert.ok(novelShare(updated, 'io') < 0.05, 'io learned');
  assert.ok(novelShare(updated, 'opcache') > 0.9, 'opcache still novel');
  assert.ok(novelShare(updated, 'socket') > 0.9, 'socket still novel');
  assert.ok(novelShare(updated, 'normal') < 0.01, 'normal still normal');
  // the base folder is untouched
  assert.ok(novelShare(base, 'io') > 0.9);

  // in place, a second update: what was learned adds up
  const again = cli('update', '--model', updated, '--train', data('normal2'), '-o', updated, '--json');
  assert.equal(again.code, 0, again.err);
  const m2 = JSON.parse(again.out) as { training: { updatedFrom: { fitSequences: number; date: string } } };
  assert.equal(m2.training.updatedFrom.fitSequences, baseManifest.training.fitSequences + m.training.fitSequences);
  assert.equal(m2.training.updatedFrom.date, baseManifest.training.date, 'the date of the first training');
  assert.match(readFileSync(join(updated, 'manifest.json'), 'utf8'), /"updatedFrom"/);
  const text = cli('update', '--model', base, '--train', data('io'), '-o', join(root, 'text'));
  assert.equal(text.code, 0, text.err);
  assert.match(text.out, /^updated ngram model .*\n[\s\S]*updated {4}from .* sequences learned before\): [\d,]+ in all/);

  // info: the folder as people read it (lineage, threshold, files verified), its manifest as JSON, damage named
  const info = cli('info', updated);
  assert.equal(info.code, 0, info.err);
  assert.match(info.out, /^.*ngram-io: ngram model \(order 5, minCount 1, predict name\), updated /);
  assert.match(info.out, /updated {4}from .*ngram-io \(trained .*\): [\d,]+ in all/);
  assert.match(info.out, /ngram\.bin \([\d,]+ bytes\): sizes and SHA-256 verified/);
  const infoJson = cli('info', updated, '--json');
  assert.equal(infoJson.code, 0, infoJson.err);
  assert.deepEqual(JSON.parse(infoJson.out), JSON.parse(readFileSync(join(updated, 'manifest.json'), 'utf8')));
  const weights = join(updated, 'ngram.bin');
  const bytes = readFileSync(weights);
  bytes[bytes.length - 1] ^= 0xff;
  writeFileSync(weights, bytes);
  oneLineError(cli('info', updated), /ngram\.bin.*damaged: its SHA-256 differs/);

  // neural folders learn on through the CLI too (what they learn: models/update.test)
  const tiny: Record<string, string[]> = { lstm: ['--hidden', '8'], longformer: ['--width', '8', '--heads', '2', '--ffn', '8', '--window', '32'] };
  for (const [kind, size] of Object.entries(tiny)) {
    const dir = join(root, kind);
    const tr = cli('train', '--model', kind, '--segment', 'request', '--train', data('normal'), ...size, '--embed', '8', '--epochs', '1', '-o', dir);
    assert.equal(tr.code, 0, tr.err);
    const up = cli('update', '--model', dir, '--train', data('io'), '-o', `${dir}-io`, '--json');
    assert.equal(up.code, 0, up.err);
    const um = JSON.parse(up.out) as { kind: string; training: { updatedFrom: { model: string } } };
    assert.equal(um.kind, kind);
    assert.equal(um.training.updatedFrom.model, dir);
    assert.ok(novelShare(`${dir}-io`, 'io') < 0.05, `${kind}: io learned`);
  }
  oneLineError(cli('update', '--model', base, '--model', updated, '--train', data('io'), '-o', join(root, 'x')), /one model folder/);
  oneLineError(cli('update', '--model', join(root, 'nothing'), '--train', data('io'), '-o', join(root, 'x')), /nothing/);
});

test('an updated timing model (per shape and pooled) scores as one fitted on both; its moments survive the file', async () => {
  const normal = await read('normal', 1200);
  const more = [...(await read('normal2', 600)), ...(await read('io', 100))]; // io: new calls, new shapes
  const probe = [...(await read('cpu', 60)), ...(await read('connection', 60)), ...normal.slice(0, 30), ...more.slice(0, 30)];
  for (const shapeMin of ['0', '20']) {
    const settings = resolveSettings(findModelKind('timing')!, new Map([['shapeMin', shapeMin]]));
    const old = (await TIMING_KIND.fit({ train: passesOver(normal) }, settings)) as TimingModel;
    const both = (await TIMING_KIND.fit({ train: passesOver([...normal, ...more]) }, settings)) as TimingModel;
    const dir = mkdtempSync(join(root, `timing-${shapeMin}-`));
    const files = await old.save(dir);
    const loaded = (await TIMING_KIND.load(dir, { settings, tokenizer: old.tokenizer.toJSON(), files })) as TimingModel;
    for (const base of [old, loaded]) {
      const updated = await base.updated({ train: passesOver(more) });
      assert.equal(updated.shapes.size, both.shapes.size);
      assert.ok(updated.tokenizer.vocabulary('name').size > old.tokenizer.vocabulary('name').size, 'io brings new calls');
      for (const q of probe) assert.equal(updated.surprise(q), both.surprise(q), `${q.id}, --shape-min ${shapeMin}`);
    }
    if (shapeMin === '20') assert.ok(both.shapes.size > old.shapes.size, 'shapes that reach --shape-min with the new data get their own Gaussian');
    // a file written before updates (no moments) loads and scores, and refuses an update
    const file = join(dir, files[0]!);
    const arrays = decodeTensors(readFileSync(file), file);
    arrays.delete('m2');
    arrays.delete('shapeM2');
    writeFileSync(file, encodeTensors(arrays));
    const before = (await TIMING_KIND.load(dir, { settings, tokenizer: old.tokenizer.toJSON(), files })) as TimingModel;
    assert.equal(before.surprise(probe[0]!), old.surprise(probe[0]!));
    await assert.rejects(before.updated({ train: passesOver(more) }), /saved without its moments/);
  }
});

test('update through the CLI on a timing folder; an older folder without moments is a one-line error', () => {
  const timing = join(root, 'timing-cli');
  assert.equal(cli('train', '--model', 'timing', '--segment', 'request', '--train', data('normal'), '-o', timing).code, 0);
  const u = cli('update', '--model', timing, '--train', data('normal2'), '-o', join(root, 'timing-cli-2'), '--json');
  assert.equal(u.code, 0, u.err);
  assert.equal((JSON.parse(u.out) as { kind: string }).kind, 'timing');
  // strip the moments as a folder written before 2026-11-23 lacks them (manifest hash updated to match)
  const file = join(timing, 'timing.bin');
  const arrays = decodeTensors(readFileSync(file), file);
  arrays.delete('m2');
  arrays.delete('shapeM2');
  const bytes = encodeTensors(arrays);
  writeFileSync(file, bytes);
  const manifestFile = join(timing, 'manifest.json');
  const m = JSON.parse(readFileSync(manifestFile, 'utf8')) as { files: { name: string; bytes: number; sha256: string }[] };
  m.files = m.files.map((f) => (f.name === 'timing.bin' ? { ...f, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') } : f));
  writeFileSync(manifestFile, JSON.stringify(m));
  assert.equal(cli('score', '--model', timing, data('cpu')).code, 0, 'it still scores');
  oneLineError(cli('update', '--model', timing, '--train', data('normal2'), '-o', join(root, 'x')), /saved without its moments.*train it again/);
});
