/**
 * @module cli/demo-lm.test
 * The language-model demo on the committed web-server sample (`data/web-demo`): the request sequences of each set
 * are the HTTP requests the recording's client sent (its own tally in `<set>.client.json`) and the `recvfrom` calls
 * that read a request line (`"GET …`) in the raw JSONL; the split is by time; the n-gram separates at least one
 * novelty (ROC AUC > 0.7) and its saved model folder gives the most novel request the same perplexity when loaded
 * back; `--json` has, for every registered demo model (n-gram, LSTM), one row per novelty with metrics in range and
 * at least one AUC > 0.7, and an `explain` line that names the most novel request's set and id.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { perplexityMany } from '../models/language-model.js';
import { loadModelFolder } from '../models/folder.js';
import { projectData } from '../testing/paths.js';
import {
  DEMO_LM_DIR, demoModelKinds, demoSetPath, loadDemoSet, NOVELTIES, runDemoLanguageModels,
} from './demo-lm.js';

const SETS = ['normal', ...NOVELTIES] as const;
const run = promisify(execFile);

/** Requests the recording's client sent and got an answer to. */
function clientRequests(set: string): number {
  const j = JSON.parse(readFileSync(projectData(DEMO_LM_DIR, `${set}.client.json`), 'utf8')) as { counts: Record<string, number> };
  return Object.values(j.counts).reduce((a, b) => a + b, 0);
}

/** `recvfrom` calls on a TCP socket that returned data starting with an HTTP request line, read straight from the gzip. */
function requestReads(path: string): number {
  let n = 0;
  for (const line of gunzipSync(readFileSync(path)).toString('utf8').split('\n')) {
    if (!line.includes('"recvfrom"')) continue;
    const ev = JSON.parse(line) as { name: string; ret?: number; args: { raw?: string; path?: string } };
    if (ev.name === 'recvfrom' && (ev.ret ?? 0) > 0 && ev.args.path?.startsWith('TCP:') && /^\d+<TCP:\[[^\]]*\]>, "GET /.test(ev.args.raw ?? '')) n++;
  }
  return n;
}

test('each set has one request sequence per HTTP request the client sent', async () => {
  for (const set of SETS) {
    const s = await loadDemoSet(set);
    const sent = clientRequests(set);
    assert.ok(sent >= 500, `${set}: the client sent ${sent} requests`);
    assert.equal(requestReads(s.path), sent, `${set}: request reads in the JSONL vs the client's tally`);
    assert.equal(s.sequences.length, sent, `${set}: request sequences`);
    assert.equal(s.summary.sequences, sent);
    assert.equal(s.summary.truncated, 0);
    for (let i = 1; i < s.sequences.length; i++) assert.ok(s.sequences[i - 1].events[0].ts <= s.sequences[i].events[0].ts, 'time order');
  }
});

test('n-gram on the time split: metrics in range, AUC > 0.7 somewhere; the saved model folder agrees', async () => {
  const { split, results } = await runDemoLanguageModels(['ngram']);
  const normal = clientRequests('normal');
  assert.equal(split.train.length + split.valid.length + split.test.length, normal);
  assert.ok(split.train[split.train.length - 1].events[0].ts <= split.valid[0].events[0].ts, 'train before validation');
  assert.ok(split.valid[split.valid.length - 1].events[0].ts <= split.test[0].events[0].ts, 'validation before test');
  for (const nv of NOVELTIES) assert.equal(split.novel[nv].valid.length + split.novel[nv].test.length, clientRequests(nv));

  assert.deepEqual(results.map((r) => r.kind), ['ngram']);
  for (const r of results) {
    assert.deepEqual(r.rows.map((x) => x.novelty), ['cpu', 'io', 'socket']);
    for (const x of r.rows) {
      for (const v of [x.f1, x.f1LabelFree, x.auroc, x.detectionAt1Far]) assert.ok(v >= 0 && v <= 1, `${r.kind} ${x.novelty}: ${v}`);
      assert.equal(x.normal, split.test.length);
      assert.equal(x.novel, split.novel[x.novelty].test.length);
    }
    assert.ok(r.rows.some((x) => x.auroc > 0.7), `${r.kind}: AUCs ${r.rows.map((x) => x.auroc.toFixed(3)).join(', ')}`);
    // The explain line's model folder scores the most novel request as the demo did.
    const { model } = await loadModelFolder(r.modelDir);
    const seq = split.novel[r.mostNovel.novelty].test.find((s) => s.id === r.mostNovel.id);
    assert.ok(seq, `${r.mostNovel.id} is a test request of ${r.mostNovel.novelty}`);
    const [p] = await perplexityMany(model, [seq]);
    assert.ok(Math.abs(p - r.mostNovel.perplexity) <= 1e-9 * p, `${p} vs ${r.mostNovel.perplexity}`);
    await model.release();
  }
});

test('demo --json: every registered demo model, one row per novelty, AUC > 0.7 somewhere', async () => {
  const kinds = demoModelKinds();
  assert.ok(kinds.includes('ngram'));
  // In a child process, so that the printed JSON is all its stdout.
  const moduleUrl = new URL('./demo-lm.js', import.meta.url).href;
  const script = `const m = await import(${JSON.stringify(moduleUrl)}); await m.demoLanguageModels(true);`;
  const { stdout: text } = await run(process.execPath, ['--input-type=module', '-e', script], { maxBuffer: 1 << 24 });
  type Row = { novelty: string; f1: number; f1LabelFree: number; auroc: number; detectionAt1Far: number };
  const j = JSON.parse(text) as { models: Record<string, Row[]>; mostNovel: { model: string; novelty: string; id: string; explain: string }[] };
  assert.deepEqual(Object.keys(j.models), kinds);
  for (const [kind, rows] of Object.entries(j.models)) {
    assert.deepEqual(rows.map((x) => x.novelty), ['cpu', 'io', 'socket']);
    for (const x of rows) for (const v of [x.f1, x.f1LabelFree, x.auroc, x.detectionAt1Far]) assert.ok(v >= 0 && v <= 1, `${kind} ${x.novelty}: ${v}`);
    assert.ok(rows.some((x) => x.auroc > 0.7), `${kind}: AUCs ${rows.map((x) => x.auroc.toFixed(3)).join(', ')}`);
  }
  assert.deepEqual(j.mostNovel.map((w) => w.model), kinds);
  for (const w of j.mostNovel) {
    assert.ok(w.explain.startsWith('syscall-anomaly explain --model '), w.explain);
    assert.ok(w.explain.endsWith(` ${demoSetPath(w.novelty as 'cpu')} --sequence '${w.id}'`), w.explain);
  }
});
