import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cosine, nearestDistance, ngramCounts, unseenFraction } from './adfa-ceiling.js';

test('ngramCounts counts each run of n names with repeats', () => {
  const m = ngramCounts(['a', 'b', 'a', 'b', 'a'], 2);
  assert.deepEqual([...m].sort(), [['a b', 2], ['b a', 2]]);
  assert.equal(ngramCounts(['a'], 2).size, 0);
});

test('cosine and nearestDistance by hand', () => {
  const x = new Map([['p', 1], ['q', 1]]);
  const y = new Map([['p', 2]]);
  assert.ok(Math.abs(cosine(x, y) - 1 / Math.SQRT2) < 1e-12);
  assert.equal(cosine(x, new Map()), 0);
  // the nearer of two training vectors decides: x itself scaled is at distance 0
  assert.ok(Math.abs(nearestDistance(x, [y, new Map([['p', 3], ['q', 3]])])) < 1e-12);
  assert.ok(Math.abs(nearestDistance(x, [y]) - (1 - 1 / Math.SQRT2)) < 1e-12);
});

test('unseenFraction counts n-grams missing from the seen set', () => {
  const seen = new Set(['a b', 'b c']);
  assert.equal(unseenFraction(['a', 'b', 'c', 'd'], 2, seen), 1 / 3);
  assert.equal(unseenFraction(['a'], 2, seen), 0);
});
