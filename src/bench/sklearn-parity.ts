/**
 * @module bench/sklearn-parity
 * Same ADFA-LD per-trace count vectors (log1p), same grouped 5-fold split, same models and settings in our code and in
 * scikit-learn (Debian python3-sklearn, run with /usr/bin/python3 bench/sklearn_parity.py); prints accuracy, macro-F1
 * and fit/predict seconds side by side. Run: `node dist/bench/sklearn-parity.js [model,model,...]`.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sharedData, projectRoot } from '../testing/paths.js';
import { readAdfaZip, adfaCountSet } from '../features/windows/adfa-testdata.js';
import { writeNpy } from '../features/windows/npy.js';
import { Log1pTransform, MinMaxScaler } from '../features/preprocess/scale.js';
import { Pipeline } from '../features/preprocess/pipeline.js';
import { crossValidate, groupedStratifiedFolds, type ModelSpec } from '../detect/classification.js';
import { SvmClassifier } from '../models/classifiers/svm.js';
import { KnnClassifier } from '../models/classifiers/knn.js';
import { GaussianNB, MultinomialNB } from '../models/classifiers/naive-bayes.js';
import { DecisionTree, RandomForest, treeConfig } from '../models/classifiers/tree.js';
import { LogisticRegression } from '../models/classifiers/logistic.js';

/** Our models, named as in bench/sklearn_parity.py, with whether a per-fold MinMaxScaler precedes them. */
export const PARITY_MODELS: readonly (ModelSpec & { scaled: boolean })[] = [
  { name: 'svm-linear', scaled: true, create: () => SvmClassifier.create('linear', 1) },
  { name: 'svm-rbf', scaled: true, create: () => SvmClassifier.create('rbf', 1, 'scale') },
  { name: 'knn', scaled: true, create: () => new KnnClassifier(5) },
  { name: 'nb-multinomial', scaled: false, create: () => new MultinomialNB(1) },
  { name: 'nb-gaussian', scaled: false, create: () => new GaussianNB() },
  { name: 'tree', scaled: false, create: () => new DecisionTree(treeConfig(), 0) },
  { name: 'forest', scaled: false, create: () => new RandomForest(100, treeConfig({ maxFeatures: 'sqrt' }), 0) },
  { name: 'logistic', scaled: true, create: () => new LogisticRegression(1, 100) },
];

export async function sklearnParity(only: readonly string[]): Promise<string> {
  const traces = await readAdfaZip(sharedData('adfa-ld', 'ADFA-LD.zip'));
  const set = await adfaCountSet(traces);
  const X = new Log1pTransform().transform(set.dense());
  const folds = groupedStratifiedFolds(set.labels, set.groups, 5, 1);
  const dir = mkdtempSync(join(tmpdir(), 'sklearn-parity-'));
  writeNpy(join(dir, 'X.npy'), X.data, [X.rows, X.cols]);
  writeNpy(join(dir, 'y.npy'), set.labels, [set.rows]);
  writeNpy(join(dir, 'folds.npy'), folds, [set.rows]);
  const models = PARITY_MODELS.filter((m) => only.length === 0 || only.includes(m.name));
  const py = JSON.parse(execFileSync('/usr/bin/python3', [join(projectRoot(), 'bench', 'sklearn_parity.py'), dir, models.map((m) => m.name).join(',')],
    { encoding: 'utf8', maxBuffer: 1 << 20 })) as Record<string, { accuracy: number; macro_f1: number; fit_s: number; predict_s: number }>;
  const lines = [
    `ADFA-LD per-trace counts, log1p, ${set.rows} rows × ${X.cols} features, grouped 5-fold (attack folders whole)`,
    '| model | ours acc | sklearn acc | Δ pts | ours macro-F1 | sklearn macro-F1 | ours fit s | sklearn fit s | ours predict s | sklearn predict s |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const m of models) {
    const r = await crossValidate(X, set.labels, folds, m, m.scaled ? () => new Pipeline([new MinMaxScaler()]) : undefined, 'parity');
    const s = py[m.name];
    lines.push(`| ${m.name} | ${r.report.accuracy.toFixed(4)} | ${s.accuracy.toFixed(4)} | ${((r.report.accuracy - s.accuracy) * 100).toFixed(2)} | ${r.report.macroF1.toFixed(4)} | ${s.macro_f1.toFixed(4)} | ${r.fitSeconds.toFixed(2)} | ${s.fit_s.toFixed(2)} | ${r.predictSeconds.toFixed(2)} | ${s.predict_s.toFixed(2)} |`);
  }
  return lines.join('\n');
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const only = (process.argv[2] ?? '').split(',').filter((s) => s.length > 0);
  console.log(await sklearnParity(only));
}
