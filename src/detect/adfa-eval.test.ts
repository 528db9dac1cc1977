/**
 * @module detect/adfa-eval.test
 * The ADFA-LD evaluation end to end on the real dataset (skipped when `../shared/data/adfa-ld/ADFA-LD.zip` is
 * absent): the n-gram separates attacks from normal validation traces far better than chance, on every attack kind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { sharedData } from '../testing/paths.js';
import { listAdfaTraces, openAdfa } from '../trace/adfa/adfa.js';
import { segment } from '../features/sequences/index.js';
import { evaluateNgramOnAdfa, maxWindowMean } from './adfa-eval.js';

test('maxWindowMean', () => {
  assert.equal(maxWindowMean([1, 5, 3, 0, 0], 2), 4);
  assert.equal(maxWindowMean([1, 2], 5), 1.5);
  assert.equal(maxWindowMean([], 3), 0);
});

const zip = sharedData('adfa-ld', 'ADFA-LD.zip');
test('n-gram on ADFA-LD: AUC well above chance overall and per attack kind', { skip: existsSync(zip) ? undefined : `${zip} not found` }, async () => {
  const r = await evaluateNgramOnAdfa(zip, 3, 1, 20, 0.01);
  assert.equal(r.trainTraces, 833);
  assert.equal(r.validationTraces, 4372);
  assert.equal(r.attackTraces, 746);
  assert.deepEqual(Object.keys(r.aucByKind), ['Adduser', 'Hydra_FTP', 'Hydra_SSH', 'Java_Meterpreter', 'Meterpreter', 'Web_Shell']);
  assert.ok(r.auc > 0.78, `AUC ${r.auc}`);
  for (const [k, auc] of Object.entries(r.aucByKind)) assert.ok(auc > 0.7, `${k}: AUC ${auc}`);
  // the label-free threshold keeps the false-alarm rate on held-out normal traces near the 1 % it was set for
  assert.ok(r.operatingPoint.falseAlarmRate < 0.03, `FAR ${r.operatingPoint.falseAlarmRate}`);
  assert.ok(r.operatingPoint.detectionRate > r.operatingPoint.falseAlarmRate);
});

test('ADFA-LD through the trace segmenter: one sequence per trace file', { skip: existsSync(zip) ? undefined : `${zip} not found` }, async () => {
  const traces = await listAdfaTraces(zip);
  const stream = segment(openAdfa(zip), 'trace', 1_000_000);
  let n = 0;
  for await (const s of stream) {
    const t = traces[s.events[0].tid - 1];
    assert.equal(s.events[0].proc, t.path);
    assert.ok(s.events.every((e) => e.tid === s.events[0].tid));
    n++;
  }
  assert.equal(n, traces.length);
  assert.equal(n, 833 + 4372 + 746);
  assert.equal(stream.counts.truncated, 0);
});
