/**
 * @module detect/history.test
 * Connection history: the median of each connection's last k against brute force, ids without a connection left
 * alone, the bound on connections remembered; and on the committed web-server sample, `train --model timing
 * --history k` end to end — `score` gives every request the median of its connection's last k own perplexities (those
 * of the same model without history), the label-free threshold is the quantile of those on validation, `watch`
 * and `explain` agree with `score`, it raises the share of starved-server requests called novel, and misuse is a
 * one-line error; in an ensemble, `watch` and serve's batch pass give `score`'s ensemble scores.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, oneLineError } from '../cli/cli-process.js';
import { openLiveModel } from '../cli/live-model.js';
import { loadDemoSet } from '../cli/demo-lm.js';
import { projectData } from '../testing/paths.js';
import { ConnectionHistory, connectionOf, withHistory } from './history.js';
import { quantileValue } from './threshold.js';

/** Median by brute force: sort and pick (the mean of the middle two for an even count). */
function bruteMedian(xs: number[]): number {
  const v = [...xs].sort((a, b) => a - b);
  return v.length % 2 ? v[(v.length - 1) / 2]! : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2;
}

test('the median of each connection\'s last k requests, against brute force; other ids keep their own', () => {
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (const k of [1, 2, 3, 5]) {
    const h = new ConnectionHistory(k);
    const seen = new Map<string, number[]>();
    for (let i = 0; i < 400; i++) {
      const conn = `req:${Math.floor(rand() * 7)}:3#0`;
      const n = (seen.get(conn)?.length ?? 0);
      const ppl = Math.exp(rand() * 10);
      const got = h.perplexity(`${conn}.${n}`, ppl);
      const xs = [...(seen.get(conn) ?? []), Math.log(ppl)];
      seen.set(conn, xs);
      assert.ok(Math.abs(Math.log(got) - bruteMedian(xs.slice(-k))) < 1e-12, `k ${k}, request ${i}`);
    }
  }
  const h = new ConnectionHistory(3);
  for (const id of ['tid:42#0', 'trace:x', 'req:5:1#0']) assert.equal(h.perplexity(id, 123), 123, id);
  assert.equal(connectionOf('req:24365:11#0.18'), 'req:24365:11#0');
  assert.equal(connectionOf('tid:42#0'), undefined);
  assert.throws(() => new ConnectionHistory(0), /integer >= 1/);
  // withHistory: one fresh pass over an array
  const ids = ['req:a.0', 'req:a.1', 'req:b.0', 'req:a.2'].map((id) => ({ id }));
  const out = withHistory({ history: 3 }, ids, Float64Array.of(Math.E, Math.E ** 3, 7, Math.E ** 2));
  assert.deepEqual([...out].map((x) => Math.round(Math.log(x) * 1e9) / 1e9), [1, 2, Math.round(Math.log(7) * 1e9) / 1e9, 2]);
  assert.equal(withHistory({}, ids, out), out);
});

test('memory is bounded: past the most connections remembered, the least recently seen is forgotten first', () => {
  const h = new ConnectionHistory(2, 2);
  h.perplexity('req:a.0', Math.exp(10));
  h.perplexity('req:b.0', Math.exp(20));
  h.perplexity('req:a.1', Math.exp(10)); // a seen last: b is the one to go
  h.perplexity('req:c.0', Math.exp(30));
  assert.ok(Math.abs(Math.log(h.perplexity('req:b.1', Math.exp(2))) - 2) < 1e-12, 'b started afresh');
  assert.ok(Math.abs(Math.log(h.perplexity('req:c.1', Math.exp(40))) - 35) < 1e-12, 'c kept its last');
});

interface Scored { id: string; perplexity: number; novel: boolean }

test('an ensemble with a --history member: watch (event by event) and serve\'s batch pass give score\'s ensemble score, request by request', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sa-history-ensemble-'));
  try {
    const normal = projectData('web-novelty', 'normal.jsonl.gz');
    const valid = projectData('web-novelty', 'normal2.jsonl.gz');
    const cpu = projectData('web-novelty', 'cpu.jsonl.gz');
    const ng = join(dir, 'ngram-size');
    const tm = join(dir, 'timing-h5');
    for (const [out, args] of [[ng, ['--model', 'ngram', '--predict', 'name,size']], [tm, ['--model', 'timing', '--history', '5']]] as const) {
      const r = cli('train', ...args, '--segment', 'request', '--train', normal, '--valid', valid, '-o', out);
      assert.equal(r.code, 0, r.err);
    }
    const s = cli('score', '--model', ng, '--model', tm, cpu, '--json');
    assert.equal(s.code, 0, s.err);
    const scored = (JSON.parse(s.out) as { sequences: { id: string; score: number; novel: boolean }[] }).sequences;
    const w = cli('watch', '--model', ng, '--model', tm, '--input', cpu);
    assert.equal(w.code, 0, w.err);
    const live = new Map(w.out.trim().split('\n').map((l) => JSON.parse(l) as { type?: string; id?: string; score?: number; novel?: boolean })
      .filter((r) => r.type === 'sequence').map((r) => [r.id!, r] as const));
    assert.equal(live.size, scored.length);
    for (const q of scored) {
      const r = live.get(q.id)!;
      assert.ok(Math.abs(r.score! - q.score) < 1e-9 && r.novel === q.novel, `${q.id}: watch ${r.score}, score ${q.score}`);
    }
    // serve's pass over a trace scored from the page (EnsembleLiveModel.scorePass), in batches
    const opened = await openLiveModel('serve', [ng, tm], 'quantile', false, false, 'z', []);
    try {
      const pass = opened.model.scorePass!();
      const seqs = (await loadDemoSet('cpu')).sequences;
      const byId = new Map(scored.map((q) => [q.id, q.score]));
      for (let i = 0; i < seqs.length; i += 100) {
        const batch = seqs.slice(i, i + 100);
        (await pass(batch)).forEach((p, j) => {
          const want = byId.get(batch[j]!.id)!;
          assert.ok(Math.abs(opened.model.scale!.of(p) - want) < 1e-9, `${batch[j]!.id}: pass ${opened.model.scale!.of(p)}, score ${want}`);
        });
      }
    } finally {
      await opened.model.release();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('train --model timing --history k: score, threshold, watch and explain all take the median of the connection\'s last k', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sa-history-'));
  try {
    const normal = projectData('web-novelty', 'normal.jsonl.gz');
    const valid = projectData('web-novelty', 'normal2.jsonl.gz');
    const k = 5;
    const models: Record<string, string> = {};
    for (const h of [1, k]) {
      models[h] = join(dir, `h${h}`);
      const t = cli('train', '--model', 'timing', '--history', String(h), '--segment', 'request', '--train', normal, '--valid', valid, '-o', models[h]!);
      assert.equal(t.code, 0, t.err);
    }
    const score = (model: string, set: string) => {
      const r = cli('score', '--model', model, projectData('web-novelty', `${set}.jsonl.gz`), '--json');
      assert.equal(r.code, 0, r.err);
      return JSON.parse(r.out) as { sequences: Scored[]; threshold: { value: number } };
    };
    // every request: the median of its connection's last k own perplexities, in the order score gives them
    const own = score(models[1]!, 'cpu').sequences;
    const withK = score(models[k]!, 'cpu');
    const byConn = new Map<string, number[]>();
    own.forEach((s, i) => {
      const conn = connectionOf(s.id)!;
      const xs = [...(byConn.get(conn) ?? []), Math.log(s.perplexity)].slice(-k);
      byConn.set(conn, xs);
      assert.equal(withK.sequences[i]!.id, s.id);
      assert.ok(Math.abs(Math.log(withK.sequences[i]!.perplexity) - bruteMedian(xs)) < 1e-9, s.id);
    });
    // the label-free threshold: the 0.99 quantile of the validation requests with their history
    const v = score(models[k]!, 'normal2');
    assert.ok(Math.abs(v.threshold.value / quantileValue(v.sequences.map((s) => s.perplexity), 0.99) - 1) < 1e-12);
    // what it is for: many more starved-server requests called novel, at the same ~1 % on the second normal run
    const share = (xs: Scored[]) => xs.filter((s) => s.novel).length / xs.length;
    const [cpu1, cpuK] = [share(score(models[1]!, 'cpu').sequences), share(withK.sequences)];
    const [conn1, connK] = [share(score(models[1]!, 'connection').sequences), share(score(models[k]!, 'connection').sequences)];
    assert.ok(cpuK > cpu1 + 0.3 && connK > conn1 + 0.3, `cpu ${cpu1} → ${cpuK}, connection ${conn1} → ${connK}`);
    assert.ok(share(v.sequences) <= 0.011);
    // watch: the same perplexity and verdict for every finished request
    const w = cli('watch', '--model', models[k]!, '--input', projectData('web-novelty', 'cpu.jsonl.gz'));
    assert.equal(w.code, 0, w.err);
    const live = new Map(w.out.trim().split('\n').map((l) => JSON.parse(l) as { type?: string; id?: string; perplexity?: number; novel?: boolean })
      .filter((r) => r.type === 'sequence').map((r) => [r.id!, r] as const));
    assert.equal(live.size, withK.sequences.length);
    for (const s of withK.sequences) {
      const r = live.get(s.id)!;
      assert.ok(Math.abs(r.perplexity! / s.perplexity - 1) < 1e-9 && r.novel === s.novel, s.id);
    }
    // explain: score's perplexity, and the request's own beside it
    const late = withK.sequences.find((s) => /\.(\d+)$/.exec(s.id)![1]! === '7')!;
    const e = cli('explain', '--model', models[k]!, projectData('web-novelty', 'cpu.jsonl.gz'), '--sequence', late.id, '--json');
    assert.equal(e.code, 0, e.err);
    const doc = JSON.parse(e.out) as { perplexity: number; history: { perplexity: number; requests: number; k: number } };
    assert.ok(Math.abs(doc.perplexity / late.perplexity - 1) < 1e-9);
    assert.deepEqual([doc.history.requests, doc.history.k], [k, k]);
    assert.ok(Math.abs(doc.history.perplexity / own.find((s) => s.id === late.id)!.perplexity - 1) < 1e-9);
    assert.match(cli('explain', '--model', models[k]!, projectData('web-novelty', 'cpu.jsonl.gz'), '--sequence', late.id).out,
      /with its connection's history: the median of the perplexities of its last 5 requests \(--history 5\); this request alone: /);
    // misuse: other segmentations have no connections
    const bad = cli('train', '--model', 'timing', '--history', '3', '--segment', 'thread', '--train', normal, '-o', join(dir, 'bad'));
    oneLineError(bad, /^syscall-anomaly: --history 3 scores the requests of a connection together: it needs --segment request, not thread$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
