/**
 * @module models/folder.test
 * Model folders on real data: an n-gram fitted on ADFA-LD attack traces is saved and loaded back with bit-identical
 * perplexities; saving replaces an old model folder atomically and refuses anything else; every kind of damage
 * (bad JSON, magic, version, kind, fields, weight bytes) is a one-line `TraceError` naming the file. The weights'
 * tensor file round-trips every element type and rejects truncation. Normal validation score statistics (for
 * ensembles) round-trip, +∞ included; folders without them (written before ensembles) still load.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sharedData } from '../testing/paths.js';
import { TraceError } from '../trace/errors.js';
import { openData, parseDataArg } from '../features/dataset.js';
import type { Sequence } from '../features/sequences/sequence.js';
import { loadModelFolder, MANIFEST_FILE, MODEL_MAGIC, readManifest, saveModelFolder, type ManifestInput } from './folder.js';
import { NGRAM_KIND, NgramLanguageModel, type LanguageModel } from './language-model.js';
import { normalStats } from './normal-scores.js';
import { decodeTensors, encodeTensors } from './tensor-file.js';

test('tensor file: every element type round-trips exactly; damage is a TraceError with its byte', () => {
  const arrays = new Map<string, Int32Array | Float32Array | Float64Array>([
    ['i', Int32Array.of(-2147483648, 0, 7, 2147483647)],
    ['f', Float32Array.of(1.5, -0, Infinity, NaN)],
    ['d', Float64Array.of(Math.PI, -1e-300, Number.MAX_VALUE)],
    ['é', new Float64Array(0)],
  ]);
  const bytes = encodeTensors(arrays);
  assert.equal(Buffer.from(bytes.subarray(0, 8)).toString('latin1'), 'SATENSOR');
  const back = decodeTensors(bytes, 'w.bin');
  assert.deepEqual([...back.keys()], ['i', 'f', 'd', 'é']);
  for (const [k, a] of arrays) {
    const b = back.get(k)!;
    assert.equal(b.constructor, a.constructor);
    assert.deepEqual(Array.from(b), Array.from(a));
  }
  assert.ok(Object.is(back.get('f')![1], -0));
  assert.throws(() => decodeTensors(bytes.subarray(0, bytes.length - 3), 'w.bin'), (e: unknown) =>
    e instanceof TraceError && e.file === 'w.bin' && /truncated/.test(e.reason) && e.offset > 16);
  const wrongVersion = Uint8Array.from(bytes);
  wrongVersion[8] = 9;
  assert.throws(() => decodeTensors(wrongVersion, 'w.bin'), /w\.bin:byte 8: weights format version 9, expected 1/);
  assert.throws(() => decodeTensors(new Uint8Array(20), 'w.bin'), /w\.bin:byte 0: not a weights file/);
  assert.throws(() => decodeTensors(Uint8Array.from([...bytes, 0]), 'w.bin'), /1 unexpected bytes after the last array/);
});

const zip = sharedData('adfa-ld', 'ADFA-LD.zip');
const skip = existsSync(zip) ? undefined : `${zip} not found`;

async function collect(arg: string): Promise<Sequence[]> {
  const out: Sequence[] = [];
  for await (const s of openData(parseDataArg(arg), { segmentation: 'trace', maxLength: 100_000, pairing: 'paired', lenient: false })) out.push(s);
  return out;
}

function manifestInput(n: number): ManifestInput {
  const data = { data: 'x', format: 'adfa', sequences: n, events: 0, truncated: 0, droppedByCap: 0, lost: 0, skipped: 0, unassigned: 0 };
  return {
    segmentation: { kind: 'trace', maxLength: 100_000 },
    thresholds: { labelFree: { method: 'quantile', q: 0.99, value: 12.5, fittedOn: n, on: 'held-out' } },
    training: { date: new Date().toISOString(), seconds: 0, train: data, fitSequences: n, heldOut: 0 },
    input: { pairing: 'paired', formats: ['adfa'] },
  };
}

/** An n-gram fitted (once) on two ADFA-LD attack folders, and the sequences of a third to score. */
let fitted: Promise<{ model: LanguageModel; probe: Sequence[]; n: number }> | undefined;
function fit(): Promise<{ model: LanguageModel; probe: Sequence[]; n: number }> {
  fitted ??= (async () => {
    const train = await collect(`${zip}:Attack_Data_Master/Adduser_1`);
    train.push(...(await collect(`${zip}:Attack_Data_Master/Adduser_2`)));
    const probe = await collect(`${zip}:Attack_Data_Master/Adduser_3`);
    assert.ok(train.length >= 10 && probe.length >= 5, `${train.length} / ${probe.length} traces`);
    const model = await NGRAM_KIND.fit({ train: async function* () { yield* train; } }, { order: 3, minCount: 1 });
    return { model, probe, n: train.length };
  })();
  return fitted;
}

/** That model saved in a fresh temporary folder. */
async function fixture(): Promise<{ root: string; dir: string; model: LanguageModel; probe: Sequence[] }> {
  const { model, probe, n } = await fit();
  const root = await mkdtemp(join(tmpdir(), 'sa-folder-'));
  const dir = join(root, 'model');
  await saveModelFolder(dir, model, manifestInput(n));
  return { root, dir, model, probe };
}

test('save → load gives the same model: identical perplexities and surprises', { skip }, async () => {
  const { root, dir, model, probe } = await fixture();
  try {
    assert.deepEqual((await readdir(dir)).sort(), [MANIFEST_FILE, 'ngram.bin']);
    assert.deepEqual(await readdir(root), ['model'], 'no temporary folder left behind');
    const { manifest, model: back } = await loadModelFolder(dir);
    assert.ok(back instanceof NgramLanguageModel && model instanceof NgramLanguageModel, 'n-gram models score synchronously too');
    assert.equal(manifest.magic, MODEL_MAGIC);
    assert.equal(manifest.kind, 'ngram');
    assert.deepEqual(manifest.settings, { order: 3, minCount: 1 });
    assert.deepEqual(manifest.fields, ['name']);
    assert.equal(manifest.files[0].name, 'ngram.bin');
    assert.equal(manifest.model.vocabulary, model.tokenizer.vocabulary('name').size);
    for (const s of probe) {
      assert.equal(back.perplexity(s), model.perplexity(s), s.id);
      assert.deepEqual(back.fieldSurprise(s), model.fieldSurprise(s));
    }
    // the asynchronous, batched interface gives the same
    assert.deepEqual(await back.logProbsMany(probe), probe.map((s) => model.logProbs(s)));
    assert.deepEqual(await back.fieldSurpriseMany(probe), probe.map((s) => model.fieldSurprise(s)));
    // perplexity is exp(mean surprise), and surprises are −ln P of the same tokens
    const s = probe[0];
    const lp = back.logProbs(s);
    assert.equal(lp.length, s.events.length + 1);
    const mean = -lp.reduce((a, b) => a + b, 0) / lp.length;
    assert.ok(Math.abs(Math.log(back.perplexity(s)) - mean) < 1e-12);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('saving replaces an old model folder, and refuses a folder that is not one', { skip }, async () => {
  const { root, dir, model } = await fixture();
  try {
    const before = await readFile(join(dir, MANIFEST_FILE), 'utf8');
    await saveModelFolder(dir, model, manifestInput(1));
    const after = JSON.parse(await readFile(join(dir, MANIFEST_FILE), 'utf8'));
    assert.notEqual(before, JSON.stringify(after));
    assert.equal(after.training.fitSequences, 1);
    assert.deepEqual(await readdir(root), ['model']);
    const other = join(root, 'notes');
    await mkdir(other);
    await writeFile(join(other, 'keep.txt'), 'mine');
    await assert.rejects(saveModelFolder(other, model, manifestInput(1)), /exists and is not a model folder/);
    assert.equal(await readFile(join(other, 'keep.txt'), 'utf8'), 'mine');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('damaged model folders: one-line TraceErrors naming the file', { skip }, async () => {
  const { root, dir } = await fixture();
  const mf = join(dir, MANIFEST_FILE);
  const good = await readFile(mf, 'utf8');
  const edit = async (f: (j: Record<string, unknown>) => void) => {
    const j = JSON.parse(good);
    f(j);
    await writeFile(mf, JSON.stringify(j));
  };
  const expectError = async (re: RegExp, file = mf) => {
    await assert.rejects(readManifest(dir), (e: unknown) => {
      assert.ok(e instanceof TraceError, String(e));
      assert.equal(e.file, file);
      assert.match(e.message, re);
      assert.ok(!e.message.includes('\n'));
      return true;
    });
  };
  try {
    await writeFile(mf, good.slice(0, 200));
    await expectError(/:byte \d+: manifest is not valid JSON/);
    await edit((j) => (j.magic = 'something-else'));
    await expectError(/not a syscall-anomaly model \(magic "something-else"/);
    await edit((j) => (j.formatVersion = 2));
    await expectError(/model format version 2 is not supported/);
    await edit((j) => (j.kind = 'hmm'));
    await expectError(/unknown model kind 'hmm' \(known: ngram/);
    await edit((j) => (j.normalScores = { score: 'log-perplexity', on: 'validation', count: 3, mean: 1, std: -1, scores: [1], stride: 1, ids: 'x' }));
    await expectError(/manifest field 'normalScores': std is negative/);
    await edit((j) => (j.normalScores = { score: 'perplexity' }));
    await expectError(/manifest field 'normalScores': score must be "log-perplexity"/);
    await edit((j) => ((j.segmentation as Record<string, unknown>).kind = 'sentence'));
    await expectError(/unknown segmentation 'sentence'/);
    await edit((j) => delete (j.thresholds as Record<string, unknown>).labelFree);
    await expectError(/manifest field 'thresholds.labelFree.value' is missing or not a number/);
    await writeFile(mf, good);
    const w = join(dir, 'ngram.bin');
    const bytes = await readFile(w);
    bytes[bytes.length - 1] ^= 0xff;
    await writeFile(w, bytes);
    await expectError(/damaged: its SHA-256 differs/, w);
    await rm(w);
    await expectError(/weight file listed in manifest.json is missing/, w);
    await rm(mf);
    await expectError(/missing: not a syscall-anomaly model folder/);
    await assert.rejects(readManifest(join(root, 'nothing')), /cannot open model folder: no such file or directory/);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('normal score statistics round-trip (+∞ included); a folder without them still loads', { skip }, async () => {
  const { root, dir, model, probe } = await fit().then(async (f) => ({ ...(await fixture()), ...f }));
  try {
    const plain = await readManifest(dir);
    assert.equal(plain.normalScores, undefined, 'folders written without statistics load as before');
    const ppl = probe.map((s) => (model as NgramLanguageModel).perplexity(s));
    ppl[1] = Infinity;
    const stats = normalStats(probe.map((s) => s.id), ppl, 'held-out');
    await saveModelFolder(dir, model, { ...manifestInput(3), normalScores: stats });
    const back = await readManifest(dir);
    assert.deepEqual(back.normalScores, stats);
    assert.equal(back.normalScores!.scores[1], Infinity);
    assert.equal(back.normalScores!.count, probe.length);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
