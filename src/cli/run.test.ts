/**
 * @module cli/run.test
 * Progress lines: redrawn on a terminal, whole lines at an interval in a log, nothing for quick work.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { progressLine } from './run.js';

/** A progress line driven by a clock the test moves. */
function driven(redraw: boolean, everyMs: number) {
  let t = 1_000_000;
  const out: string[] = [];
  const p = progressLine('score: sequences', redraw, everyMs, (s) => out.push(s), () => t);
  return { p, out, advance: (ms: number) => { t += ms; } };
}

test('progress in a log: a whole line per interval with count, rate and elapsed time, then the total', () => {
  const { p, out, advance } = driven(false, 10_000);
  advance(4_000); p.tick(400);
  assert.equal(out.length, 0, 'nothing before the interval');
  advance(6_000); p.tick(1_000);
  advance(5_000); p.tick(1_500);
  advance(5_000); p.tick(2_000);
  advance(1_000); p.tick(2_100);
  p.done();
  assert.deepEqual(out, [
    'score: sequences: 1,000 (100/s), 10 s\n',
    'score: sequences: 2,000 (100/s), 20 s\n',
    'score: sequences: 2,100 in 21.0 s (100/s)\n',
  ]);
  assert.ok(out.every((l) => !l.includes('\r')), 'no carriage return in a log');
});

test('progress in a log: work shorter than the interval writes nothing at all, not even the total', () => {
  const { p, out, advance } = driven(false, 10_000);
  for (let i = 1; i <= 50; i++) { advance(100); p.tick(i * 10); }
  p.done();
  assert.deepEqual(out, []);
});

test('progress on a terminal: one line redrawn in place, wiped at the end', () => {
  const { p, out, advance } = driven(true, 1_000);
  advance(1_000); p.tick(50);
  advance(500); p.tick(70);
  advance(500); p.tick(100);
  p.done();
  assert.deepEqual(out, ['\rscore: sequences: 50 (50/s)   ', '\rscore: sequences: 100 (50/s)   ', '\r\x1b[K']);
});
