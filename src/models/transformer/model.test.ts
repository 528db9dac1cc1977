/**
 * @module models/transformer/model.test
 * Training the attention model: pieces of long sequences keep the start token and cover every target once; a run
 * stopped after a checkpoint resumes from the checkpoint's step and ends with the very weights of an uninterrupted
 * run; a checkpoint of another config is refused as bad input; the same seed gives the same weights. Soft targets
 * (a lifelong update's) that are one-hot on the observed names train the very weights of hard labels, over sequences
 * cut into several pieces (so each piece's soft rows are the ones of its targets), and training starts from given
 * initial parameters.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isTraceError } from '../../trace/errors.js';
import { events, fittedTokenizer, smallConfig } from './fixture.js';
import { AttentionModel, pieces } from './model.js';
import { SoftTargets } from '../training.js';

test('pieces cover every target once and keep the start token', () => {
  for (const [n, chunk] of [[2, 4], [5, 4], [6, 4], [40, 8], [41, 2]] as const) {
    const ps = pieces(0, n, chunk);
    const targets: number[] = [];
    for (const p of ps) {
      assert.ok(p.count + (p.prefix ? 1 : 0) <= chunk, `piece longer than the chunk (n ${n}, chunk ${chunk})`);
      assert.equal(p.prefix, p.from > 0);
      for (let i = 0; i < p.count; i++) targets.push(p.from + i + 1);
    }
    assert.deepEqual(targets, Array.from({ length: n - 1 }, (_, i) => i + 1), `n ${n}, chunk ${chunk}`);
  }
});

test('a stopped run resumes from its checkpoint to the weights of an uninterrupted run', async () => {
  const seqs = events(24, 1, 10, 70);
  const tokenizer = fittedTokenizer(seqs);
  const train = seqs.slice(0, 20).map((s) => tokenizer.encode(s));
  const valid = seqs.slice(20).map((s) => tokenizer.encode(s));
  const cfg = smallConfig(tokenizer, 16, true, { epochs: 2, dropout: 0.1, chunk: 32, batch: 2 });
  const dir = await mkdtemp(join(tmpdir(), 'attn-ck-'));
  try {
    const whole = await AttentionModel.fit('longformer', train, valid, cfg);
    const again = await AttentionModel.fit('longformer', train, valid, cfg);
    assert.deepEqual(again.params, whole.params, 'same seed, same weights');
    const file = join(dir, 'ck');
    let stopAt = 0;
    await assert.rejects(AttentionModel.fit('longformer', train, valid, cfg, {
      checkpoint: { file, everySteps: 3 },
      onProgress: (p) => { if (p.totalSteps === 13) { stopAt = p.totalSteps; throw new Error('stopped'); } },
    }), /stopped/);
    assert.equal(stopAt, 13);
    let resumedAt = -1;
    const resumed = await AttentionModel.fit('longformer', train, valid, cfg, { checkpoint: { file, everySteps: 3 }, onResume: (s) => { resumedAt = s; } });
    assert.ok(resumedAt > 0 && resumedAt <= 13, `resumed at ${resumedAt}`);
    assert.deepEqual(resumed.params, whole.params);
    assert.deepEqual(resumed.history.map((r) => r.validLoss), whole.history.map((r) => r.validLoss));
    await assert.rejects(AttentionModel.fit('longformer', train, valid, { ...cfg, width: 32 }, { checkpoint: { file, everySteps: 3 } }), (e) => isTraceError(e));
    await writeFile(file, 'not a checkpoint');
    await assert.rejects(AttentionModel.fit('longformer', train, valid, cfg, { checkpoint: { file, everySteps: 3 } }), /magic/);
    for (const m of [whole, again, resumed]) await m.release();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('one-hot soft targets train as hard labels, piece by piece; training starts from given parameters', async () => {
  const seqs = events(12, 2, 10, 70);
  const tokenizer = fittedTokenizer(seqs);
  const train = seqs.slice(0, 10).map((s) => tokenizer.encode(s));
  const valid = seqs.slice(10).map((s) => tokenizer.encode(s));
  const cfg = smallConfig(tokenizer, 16, true, { epochs: 2, chunk: 16, batch: 2 });
  assert.ok(train.some((s) => pieces(0, s[0]!.length, cfg.chunk).length > 2), 'some sequences train as several pieces');
  const V = cfg.fields[0]!.vocab;
  const oneHot = train.map((s) => {
    const names = s[0]!;
    const q = new Float32Array((names.length - 1) * V);
    for (let t = 0; t + 1 < names.length; t++) q[t * V + names[t + 1]!] = 1;
    return q;
  });
  const hard = await AttentionModel.fit('longformer', train, valid, cfg);
  const soft = await AttentionModel.fit('longformer', train, valid, cfg, {}, SoftTargets.of(oneHot, V));
  const spilled = new SoftTargets(V, 0); // every row read back from the temporary file
  oneHot.forEach((q) => spilled.add(q));
  assert.ok(spilled.spilled);
  const fromFile = await AttentionModel.fit('longformer', train, valid, cfg, {}, spilled);
  spilled.release();
  const from = await AttentionModel.fit('longformer', train, valid, { ...cfg, epochs: 1 }, {}, undefined, hard.params);
  const fresh = await AttentionModel.fit('longformer', train, valid, { ...cfg, epochs: 1 });
  try {
    const diff = hard.params.reduce((m, x, i) => Math.max(m, Math.abs(x - soft.params[i]!)), 0);
    assert.ok(diff < 1e-4, `largest weight difference ${diff}`);
    assert.ok(await from.perplexity(valid) < await fresh.perplexity(valid), 'a run from trained weights starts ahead');
    assert.deepEqual(fromFile.params, soft.params, 'soft targets read back from the file train the same weights');
    await assert.rejects(AttentionModel.fit('longformer', train, valid, cfg, {}, SoftTargets.of(oneHot.slice(1), V)), /9 soft-target arrays for 10 sequences/);
    await assert.rejects(AttentionModel.fit('longformer', train, valid, cfg, {}, undefined, hard.params.subarray(1)), /initial parameters for a network of/);
  } finally {
    for (const m of [hard, soft, fromFile, from, fresh]) await m.release();
  }
});
