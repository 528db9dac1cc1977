/**
 * @module detect/p-value.test
 * Conformal p-values: equal to (1 + #{normal ≥ x}) / (n + 1) counted by brute force, decreasing in the score, and
 * valid — for a score drawn like the normal ones, P(p ≤ k/(n+1)) = k/(n+1) (checked by simulation with a fixed
 * seed). Through the commands, on the committed web-server sample: `score --json` gives each request the p-value of
 * its perplexity against the normal scores the model folder stored, `watch` the same for the same request (and a
 * running request's alert, against the stored normal prefixes of its length), and `explain` says it in words.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { seededRandom } from '../engine/graph.js';
import { projectData } from '../testing/paths.js';
import { cli } from '../cli/cli-process.js';
import { NormalReference } from './p-value.js';

test('p-value = (1 + normal scores at or above it) / (n + 1), decreasing in the score', () => {
  fc.assert(fc.property(fc.array(fc.integer({ min: -20, max: 20 }), { minLength: 1, maxLength: 50 }), fc.integer({ min: -22, max: 22 }), (xs, q) => {
    const ref = new NormalReference(xs.map((x) => x / 4), 'normal');
    const x = q / 4;
    assert.equal(ref.pValue(x), (1 + xs.filter((v) => v / 4 >= x).length) / (xs.length + 1));
    assert.ok(ref.pValue(x) >= ref.pValue(x + 0.25));
  }));
  const ref = new NormalReference([1, 2, 3], 'normal');
  assert.equal(ref.pValue(Number.NaN), 1);
  assert.equal(ref.pValue(Infinity), 0.25, 'stranger than all three: 1/(n+1)');
  assert.equal(ref.describe(ref.pValue(10)), 'p = 0.25 (above all 3 normal)');
  assert.equal(ref.describe(ref.pValue(2)), 'p = 0.75 (above 1 of 3 normal)');
  assert.throws(() => new NormalReference([Number.NaN], 'x'), /at least one score/);
});

test('valid: a score drawn like the normal ones has P(p <= k/(n+1)) = k/(n+1)', () => {
  const rnd = seededRandom(7);
  const n = 19;
  const trials = 4000;
  const hits = new Array(n + 2).fill(0);
  for (let t = 0; t < trials; t++) {
    const normal = Array.from({ length: n }, () => rnd());
    const p = new NormalReference(normal, 'normal').pValue(rnd());
    hits[Math.round(p * (n + 1))]++;
  }
  for (const k of [1, 2, 5, 10]) {
    const rate = hits.slice(0, k + 1).reduce((a, b) => a + b, 0) / trials;
    // binomial sd at most 0.008 here: allow 4 of them
    assert.ok(Math.abs(rate - k / (n + 1)) < 0.032, `P(p <= ${k}/${n + 1}) = ${rate}`);
  }
});

let root = '';
let model = '';
const NORMAL = projectData('web-demo', 'normal.jsonl.gz');
const IO = projectData('web-demo', 'io.jsonl.gz');

before(() => {
  root = mkdtempSync(join(tmpdir(), 'sa-pvalue-'));
  model = join(root, 'ngram');
  const r = cli('train', '--model', 'ngram', '--order', '4', '--segment', 'request', '--train', NORMAL, '-o', model);
  assert.equal(r.code, 0, r.err);
});

after(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

test('score, watch and explain give each sequence its p-value against the stored normal scores', () => {
  const stored = JSON.parse(readFileSync(join(model, 'manifest.json'), 'utf8')).normalScores as { scores: number[]; on: string };
  const r = cli('score', '--model', model, IO, '--json');
  assert.equal(r.code, 0, r.err);
  const doc = JSON.parse(r.out) as { pValues: string; threshold: { value: number }; sequences: { id: string; perplexity: number; pValue: number; novel: boolean }[] };
  assert.equal(doc.pValues, `against ${stored.scores.length} normal ${stored.on} sequences`);
  const n = stored.scores.length;
  for (const s of doc.sequences) {
    const brute = (1 + stored.scores.filter((x) => x >= Math.log(s.perplexity)).length) / (n + 1);
    assert.equal(s.pValue, brute, s.id);
    // novel = above the 0.99 quantile of these very scores: at most about 1 % of them are as high
    if (s.novel) assert.ok(s.pValue <= 0.01 + 2 / (n + 1), `${s.id}: novel with p = ${s.pValue}`);
  }
  const w = cli('watch', '--model', model, '--input', IO, '--no-calibrate');
  assert.equal(w.code, 0, w.err);
  const live = new Map<string, number>();
  for (const line of w.out.trim().split('\n')) {
    const rec = JSON.parse(line) as { type: string; id?: string; pValue?: number };
    if (rec.type === 'sequence') live.set(rec.id!, rec.pValue!);
  }
  assert.equal(live.size, doc.sequences.length);
  for (const s of doc.sequences) assert.ok(Math.abs(live.get(s.id)! - s.pValue) < 1e-12, `${s.id}: watch ${live.get(s.id)} vs score ${s.pValue}`);
  // running sequences: checked against the stored normal prefixes of their length, and so are their p-values
  const prefixes = JSON.parse(readFileSync(join(model, 'manifest.json'), 'utf8')).prefixScores as { points: { length: number; perplexities: number[] }[] };
  const pw = cli('watch', '--model', model, '--input', IO, '--alerts-only');
  assert.equal(pw.code, 0, pw.err);
  let running = 0;
  for (const line of pw.out.trim().split('\n')) {
    const f = (JSON.parse(line) as { output_fields?: Record<string, number | boolean> }).output_fields;
    if (!f || f['seq.final'] !== false) continue;
    running++;
    const at = prefixes.points.find((p) => p.length === f['seq.length'])!;
    const brute = (1 + at.perplexities.filter((x) => Math.log(x) >= Math.log(f['seq.score'] as number)).length) / (at.perplexities.length + 1);
    assert.ok(Math.abs((f['seq.p_value'] as number) - brute) < 1e-12, `prefix of ${f['seq.length']}: ${f['seq.p_value']} vs ${brute}`);
  }
  assert.ok(running > 100, `${running} running alerts`);
  const top = [...doc.sequences].sort((a, b) => b.perplexity - a.perplexity)[0]!;
  const e = cli('explain', '--model', model, IO, '--sequence', top.id);
  assert.equal(e.code, 0, e.err);
  assert.match(e.out, new RegExp(`how sure: p = ${top.pValue.toPrecision(2).replace('.', '\\.')} \\(above (all|\\d+ of) ${n} normal ${stored.on} sequences\\)`));
});
