/**
 * @module detect/metrics.test
 * Metrics and thresholds on small score lists whose values are counted by hand in the comments.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bestF1, confusionAt, detectionAtFalseAlarmRate, operatingPoints, rocAuc } from './metrics.js';
import { fitQuantileThreshold, isAlarm, quantileValue, thresholdForFalseAlarmRate, thresholdFromJSON } from './threshold.js';

const T = true, F = false;

test('AUC of perfect, reversed and known rankings', () => {
  assert.equal(rocAuc([0.1, 0.2, 0.8, 0.9], [F, F, T, T]), 1);
  assert.equal(rocAuc([0.9, 0.8, 0.2, 0.1], [F, F, T, T]), 0);
  // positives 0.5, 0.9; negatives 0.1, 0.6, 0.7: pairs won by the positive: (0.5>0.1), (0.9>all 3) = 4 of 6
  assert.equal(rocAuc([0.5, 0.9, 0.1, 0.6, 0.7], [T, T, F, F, F]), 4 / 6);
});

test('AUC counts ties as half', () => {
  assert.equal(rocAuc([1, 1, 1, 1], [T, F, T, F]), 0.5);
  // positive 0.5 vs negatives 0.5 (tie: ½) and 0.2 (win: 1) → 1.5 / 2
  assert.equal(rocAuc([0.5, 0.5, 0.2], [T, F, F]), 0.75);
  // positives {2, 3}, negatives {1, 2, 2}: 2 vs (1 win, 2 tie, 2 tie) = 2; 3 wins all = 3 → 5 / 6
  assert.equal(rocAuc([2, 3, 1, 2, 2], [T, T, F, F, F]), 5 / 6);
  assert.ok(Number.isNaN(rocAuc([1, 2], [T, T])));
});

test('confusion, precision, recall, F1, accuracy at a threshold (score > t alarms)', () => {
  const s = [0.1, 0.4, 0.35, 0.8, 0.7, 0.2];
  const l = [F, F, T, T, T, F];
  const c = confusionAt(s, l, 0.3); // alarms: 0.4(F) 0.35(T) 0.8(T) 0.7(T) → tp 3, fp 1, fn 0, tn 2
  assert.deepEqual([c.tp, c.fp, c.tn, c.fn], [3, 1, 2, 0]);
  assert.equal(c.precision, 3 / 4);
  assert.equal(c.recall, 1);
  assert.equal(c.f1, (2 * 0.75 * 1) / 1.75);
  assert.equal(c.accuracy, 5 / 6);
  assert.equal(c.falseAlarmRate, 1 / 3);
  const none = confusionAt(s, l, 0.8); // strict: 0.8 does not alarm
  assert.deepEqual([none.tp, none.fp, none.precision, none.f1], [0, 0, 0, 0]);
});

test('operating points, best F1 and detection rate at a false-alarm rate', () => {
  const s = [0.1, 0.4, 0.35, 0.8, 0.7, 0.2];
  const l = [F, F, T, T, T, F];
  const pts = operatingPoints(s, l);
  assert.equal(pts.length, 7);
  assert.deepEqual(pts.map((p) => p.tp + p.fp), [0, 1, 2, 3, 4, 5, 6]);
  // thresholds: >0.7 → {0.8}: F1 = 2·1·(1/3)/(4/3) = 0.5; >0.4 → {0.8, 0.7}: 0.8; >0.35 → +0.4(F): P=2/3 R=2/3 → 2/3;
  // >0.2 → +0.35(T): P=3/4, R=1 → 6/7 ≈ 0.857 (best); >0.1 → +0.2(F): P=3/5 → 0.75
  const b = bestF1(s, l);
  assert.equal(b.threshold, 0.2);
  assert.equal(b.f1, 6 / 7);
  // at FAR ≤ 0: lowest threshold with no false alarm is 0.4 → detects 0.8, 0.7 = 2/3
  const d0 = detectionAtFalseAlarmRate(s, l, 0);
  assert.equal(d0.threshold, 0.4);
  assert.equal(d0.recall, 2 / 3);
  // at FAR ≤ 1/3 one false alarm is allowed: threshold 0.2 → all 3 attacks
  const d1 = detectionAtFalseAlarmRate(s, l, 1 / 3);
  assert.equal(d1.threshold, 0.2);
  assert.equal(d1.recall, 1);
  assert.throws(() => confusionAt([1], [T, F], 0), RangeError);
});

test('quantile thresholds keep at most (1 − q) of normal scores above them', () => {
  const normal = Array.from({ length: 200 }, (_, i) => (i * 37) % 200); // 0..199 shuffled
  assert.equal(quantileValue(normal, 0.99), 197); // 198th smallest; only 198, 199 lie above → 1 %
  const t = thresholdForFalseAlarmRate(normal, 0.01);
  assert.equal(normal.filter((x) => isAlarm(x, t)).length, 2);
  assert.equal(quantileValue([5, 5, 5], 0.5), 5);
  assert.equal(quantileValue([3, 1, 2], 1), 3);
  assert.equal(quantileValue([3, 1, 2], 0), -Infinity);
  const back = thresholdFromJSON(JSON.parse(JSON.stringify(fitQuantileThreshold([3, 1, 2], 0))));
  assert.equal(back.value, -Infinity);
  assert.throws(() => quantileValue([], 0.5), RangeError);
});
