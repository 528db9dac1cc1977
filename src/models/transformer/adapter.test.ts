/**
 * @module models/transformer/adapter.test
 * The Transformer and the Longformer through the `LanguageModel` interface, on real data (the committed web-server
 * sample, one sequence per HTTP request): fitted from the registry, they predict `[T + 1]` tokens per sequence;
 * requests with verbose logging and fsync (`io`) are more perplexing than held-out normal ones; a fresh model folder
 * (manifest, weights, ONNX graph) loads back to identical log-probabilities; incremental scoring of the trained model
 * agrees with whole-sequence scoring; the attention view names earlier events only, heaviest first; a request
 * stretched to 9,000 events scores whole with the Longformer; weights that do not fit the manifest are refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openData, type Reading } from '../../features/dataset.js';
import type { Sequence } from '../../features/sequences/sequence.js';
import { projectRoot } from '../../testing/paths.js';
import { isTraceError } from '../../trace/errors.js';
import { loadModelFolder, saveModelFolder, type ManifestInput } from '../folder.js';
import { findModelKind, perplexityOf, resolveSettings } from '../language-model.js';

const READING: Reading = { segmentation: 'request', maxLength: 100_000, pairing: 'paired', lenient: false };

async function read(name: string, limit: number): Promise<Sequence[]> {
  const path = join(projectRoot(), 'data', 'web-demo', `${name}.jsonl.gz`);
  const out: Sequence[] = [];
  for await (const s of openData({ kind: 'trace', arg: path, path }, READING)) {
    out.push(s);
    if (out.length === limit) break;
  }
  return out;
}

const median = (xs: number[]): number => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

for (const kind of ['transformer', 'longformer'] as const) {
  test(`${kind} through the LanguageModel interface on web-server requests`, async (t) => {
    const normal = await read('normal', 560);
    const io = await read('io', 60);
    const train = normal.slice(0, 400);
    const valid = normal.slice(400, 460);
    const heldOut = normal.slice(460);
    const entry = findModelKind(kind)!;
    const given = new Map<string, string>([['embed', '16'], ['width', '32'], ['layers', '1'], ['heads', '2'], ['ffn', '48'],
      ['epochs', '3'], ['warmup', '10'], ['lr', '0.01'], ['batch', '4'], ['chunk', '64'], [kind === 'transformer' ? 'context' : 'window', '16']]);
    const settings = resolveSettings(entry, given);
    const impl = await entry.implementation();
    const model = await impl.fit({ train: async function* () { yield* train; }, valid: async function* () { yield* valid; } }, settings);
    assert.equal(model.kind, kind);
    const lpNormal = await model.logProbsMany(heldOut);
    const lpIo = await model.logProbsMany(io);
    heldOut.forEach((s, i) => assert.equal(lpNormal[i]!.length, s.events.length + 1));
    const pplNormal = lpNormal.map(perplexityOf);
    const pplIo = lpIo.map(perplexityOf);
    t.diagnostic(`median perplexity: normal ${median(pplNormal).toFixed(3)}, io ${median(pplIo).toFixed(3)}`);
    assert.ok(median(pplIo) > 2 * median(pplNormal), `io ${median(pplIo)} vs normal ${median(pplNormal)}`);
    assert.ok(pplNormal.every((p) => Number.isFinite(p) && p >= 1));

    // A fresh model folder loads back to identical scores.
    const dir = join(await mkdtemp(join(tmpdir(), `${kind}-adapter-`)), 'model');
    try {
      const data = { data: 'web-demo normal', format: 'jsonl', sequences: 400, events: 0, truncated: 0, droppedByCap: 0, lost: 0, skipped: 0, unassigned: 0 };
      const input: ManifestInput = {
        segmentation: { kind: 'request', maxLength: READING.maxLength },
        thresholds: { labelFree: { method: 'quantile', q: 0.99, value: 2, fittedOn: 60, on: 'validation' } },
        training: { date: new Date().toISOString(), seconds: 0, train: data, fitSequences: 400, heldOut: 0 },
        input: { pairing: 'paired', formats: ['jsonl'] },
      };
      await saveModelFolder(dir, model, input);
      const { model: loaded } = await loadModelFolder(dir);
      assert.deepEqual((await loaded.logProbsMany(heldOut)).map((a) => Array.from(a)), lpNormal.map((a) => Array.from(a)));
      await loaded.release();
      const saved = { settings: { ...settings, width: 48 }, tokenizer: model.tokenizer.toJSON(), files: [`${kind}.json`, `${kind}.weights`, `${kind}.onnx`] };
      await assert.rejects(impl.load(dir, saved), (e) => isTraceError(e));
    } finally {
      await rm(join(dir, '..'), { recursive: true, force: true });
    }

    // Incremental scoring of the trained model: event by event, several sequences at once.
    const some = heldOut.slice(0, 6);
    const scorer = model.incremental!();
    const handles = some.map(() => scorer.open());
    const got = some.map(() => [] as number[]);
    const longest = Math.max(...some.map((s) => s.events.length));
    for (let e = 0; e < longest; e++) {
      const live = some.map((_, i) => i).filter((i) => e < some[i]!.events.length);
      const lp = await scorer.push(live.map((i) => handles[i]!), live.map((i) => some[i]!.events[e]!));
      live.forEach((i, k) => got[i]!.push(lp[k]!));
    }
    const ends = await scorer.close(handles);
    let worst = 0;
    some.forEach((s, i) => {
      got[i]!.push(ends[i]!);
      for (let x = 0; x < got[i]!.length; x++) worst = Math.max(worst, Math.abs(got[i]![x]! - lpNormal[i]![x]!));
    });
    t.diagnostic(`incremental vs whole: worst difference ${worst.toExponential(2)}`);
    assert.ok(worst < 1e-5, `incremental vs whole: ${worst}`);
    await scorer.release();

    // The attention view: one row per predicted token, earlier events only, heaviest first.
    const views = await model.attentionMany!(some, 3);
    some.forEach((s, i) => {
      const rows = views[i]!;
      assert.equal(rows.length, s.events.length + 1);
      rows.forEach((r, k) => {
        assert.equal(r.from, k);
        assert.ok(r.to.length >= 1 && r.to.length <= 3 && r.to.length === r.weight.length);
        assert.ok(r.to.every((j) => j >= -1 && j < k), `token ${k} attends to ${r.to}`);
        for (let m = 1; m < r.weight.length; m++) assert.ok(r.weight[m]! <= r.weight[m - 1]!);
      });
    });
    const all = (await model.attentionMany!([some[0]!], 100))[0]!;
    for (const r of all) assert.ok(Math.abs(r.weight.reduce((a, b) => a + b, 0) - 1) < 1e-4, 'all weights of a row sum to 1');

    if (kind === 'longformer') {
      // One request stretched to 9,000 events scores whole.
      const base = heldOut[0]!.events;
      const events = Array.from({ length: 9000 }, (_, i) => ({ ...base[i % base.length]!, ts: BigInt(i) * 1000n }));
      const [lp] = await model.logProbsMany([{ id: 'long', events }]);
      assert.equal(lp!.length, 9001);
      assert.ok(lp!.every((x) => Number.isFinite(x) && x <= 0));
    }
    await model.release();
  });
}
