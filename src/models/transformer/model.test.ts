/**
 * @module models/transformer/model.test
 * Training the attention model: pieces of long sequences keep the start token and cover every target once; a run
 * stopped after a checkpoint resumes from the checkpoint's step and ends with the very weights of an uninterrupted
 * run; a checkpoint of another config is refused as bad input; the same seed gives the same weights.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isTraceError } from '../../trace/errors.js';
import { events, fittedTokenizer, smallConfig } from './fixture.js';
import { AttentionModel, pieces } from './model.js';

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
