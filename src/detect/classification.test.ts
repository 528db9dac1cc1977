/**
 * @module detect/classification.test
 * Grouped stratified folds never split a group; metrics match hand counts; ROC AUC matches pair counting; and the
 * supervised ADFA-LD result (attack vs normal, each attack folder held out whole) reaches macro-F1 ≥ 0.90.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { sharedData } from '../testing/paths.js';
import { readAdfaZip, adfaCountSet } from '../features/windows/adfa-testdata.js';
import { Log1pTransform, MinMaxScaler } from '../features/preprocess/scale.js';
import { RandomForest, treeConfig, DecisionTree } from '../models/classifiers/tree.js';
import { MultinomialNB } from '../models/classifiers/naive-bayes.js';
import { classificationReport, compare, crossValidate, groupedStratifiedFolds, rocAuc } from './classification.js';

test('grouped stratified folds: a group sits in one fold, every fold gets both classes, sizes are close', () => {
  fc.assert(fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 1 })), { minLength: 60, maxLength: 200 }), fc.integer(), (rows, seed) => {
    // a group's rows share a class (as an attack folder does)
    const groups = Int32Array.from(rows.map((r) => r[0]));
    const y = Int32Array.from(rows.map((r) => r[0] % 2));
    fc.pre(new Set(groups).size >= 10 && new Set(rows.filter((r) => r[0] % 2 === 1).map((r) => r[0])).size >= 3 && new Set(rows.filter((r) => r[0] % 2 === 0).map((r) => r[0])).size >= 3);
    const f = groupedStratifiedFolds(y, groups, 3, seed);
    const foldOfGroup = new Map<number, number>();
    groups.forEach((g, i) => { const p = foldOfGroup.get(g); if (p !== undefined) assert.equal(p, f[i]); foldOfGroup.set(g, f[i]); });
    for (let k = 0; k < 3; k++) assert.ok(new Set(y.filter((_, i) => f[i] === k)).size === 2, `fold ${k} lacks a class`);
  }));
});

test('classification report: accuracy, precision, recall, F1, macro-F1 and confusion by hand', () => {
  const r = classificationReport(Int32Array.from([0, 0, 0, 1, 1, 2]), Int32Array.from([0, 0, 1, 1, 2, 2]));
  assert.equal(r.accuracy, 4 / 6);
  assert.deepEqual(r.confusion, [[2, 1, 0], [0, 1, 1], [0, 0, 1]]);
  // class 0: P 1, R 2/3 → F1 0.8; class 1: P 1/2, R 1/2 → 0.5; class 2: P 1/2, R 1 → 2/3
  assert.ok(Math.abs(r.perClass[0].f1 - 0.8) < 1e-12);
  assert.ok(Math.abs(r.perClass[1].f1 - 0.5) < 1e-12);
  assert.ok(Math.abs(r.perClass[2].f1 - 2 / 3) < 1e-12);
  assert.ok(Math.abs(r.macroF1 - (0.8 + 0.5 + 2 / 3) / 3) < 1e-12);
});

test('ROC AUC equals the fraction of (positive, negative) pairs ranked right, ties half', () => {
  fc.assert(fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 5 }), fc.boolean()), { minLength: 2, maxLength: 40 }), (pts) => {
    const pos = pts.filter((p) => p[1]), neg = pts.filter((p) => !p[1]);
    fc.pre(pos.length > 0 && neg.length > 0);
    let s = 0;
    for (const a of pos) for (const b of neg) s += a[0] > b[0] ? 1 : a[0] === b[0] ? 0.5 : 0;
    assert.ok(Math.abs(rocAuc(pts.map((p) => p[0]), pts.map((p) => p[1])) - s / (pos.length * neg.length)) < 1e-12);
  }));
});

test('ADFA-LD attack vs normal, attack folders held out whole (5 grouped folds): forest macro-F1 ≥ 0.90; compare() gives 3 settings', async () => {
  const traces = await readAdfaZip(sharedData('adfa-ld', 'ADFA-LD.zip'));
  const set = await adfaCountSet(traces);
  const X = set.dense();
  const folds = groupedStratifiedFolds(set.labels, set.groups, 5, 1);
  // no attack folder is split across folds
  const folderFold = new Map<number, number>();
  set.groups.forEach((g, i) => { if (set.labels[i] === 1) { const p = folderFold.get(g); if (p !== undefined) assert.equal(p, folds[i]); folderFold.set(g, folds[i]); } });
  const forest = await crossValidate(X, set.labels, folds, { name: 'forest', create: () => new RandomForest(100, treeConfig({ maxFeatures: 'sqrt' }), 1) }, undefined, 'raw');
  console.log(`ADFA-LD grouped 5-fold: forest accuracy ${forest.report.accuracy.toFixed(4)}, macro-F1 ${forest.report.macroF1.toFixed(4)}, confusion ${JSON.stringify(forest.report.confusion)}`);
  assert.ok(forest.report.macroF1 >= 0.9, `macro-F1 ${forest.report.macroF1}`);
  const rows = await compare(X, set.labels, folds, [{ name: 'nb', create: () => new MultinomialNB() }, { name: 'tree', create: () => new DecisionTree(treeConfig({ maxDepth: 8 })) }],
    () => [new Log1pTransform(), new MinMaxScaler()], 20);
  assert.deepEqual(rows.map((r) => `${r.model}/${r.variant}`), ['nb/raw', 'nb/prepared', 'nb/fisher-20', 'tree/raw', 'tree/prepared', 'tree/fisher-20']);
  // a monotone per-column preparation does not change what a tree can split on
  assert.ok(Math.abs(rows[3].report.accuracy - rows[4].report.accuracy) < 0.01);
});
