/**
 * @module models/training.test
 * The line a training run writes per epoch when stderr is no terminal (the CLI path is tested in cli/lm.test).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { epochLine } from './training.js';

test('epochLine: losses, perplexity, speed; without validation data no valid loss; an early stop says why', () => {
  const r = { epoch: 3, trainLoss: 1.23456, validLoss: Math.log(3.5), validPerplexity: 3.5, tokensPerS: 85123.4 };
  assert.equal(epochLine(r, 10, false, 2), 'epoch 3/10: train loss 1.2346, valid loss 1.2528 (perplexity 3.500), 85,123 tokens/s\n');
  assert.equal(epochLine({ ...r, validLoss: Number.NaN, validPerplexity: Number.NaN }, 10, false, 2), 'epoch 3/10: train loss 1.2346, 85,123 tokens/s\n');
  assert.equal(epochLine(r, 10, true, 2), 'epoch 3/10: train loss 1.2346, valid loss 1.2528 (perplexity 3.500), 85,123 tokens/s; stopping: no better valid loss in 2 epochs\n');
});
