/**
 * @module detect/classification
 * Evaluating window classifiers: cross-validation grouped by recording run (or trace) and stratified by class,
 * accuracy / per-class precision, recall, F1 / macro-F1 / confusion matrix, ROC AUC for one-class scores, and
 * `compare()`: models × {raw, prepared, prepared + Fisher top-k} (before data preparation / after / after feature
 * selection, as in Kohyarnejadfard, Aloise & Dagenais).
 */
import { rng, shuffle, takeLabels, takeRows, type Matrix } from '../features/preprocess/matrix.js';
import { FisherSelector } from '../features/preprocess/fisher.js';
import { Pipeline } from '../features/preprocess/pipeline.js';
import type { Stage } from '../features/preprocess/stage.js';
import type { Classifier } from '../models/classifiers/classifier.js';

/**
 * Fold id (0..k−1) per row. Whole groups go to one fold (no recording run is split between train and test); groups
 * are placed largest first (seeded order among equals) into the fold whose class mix stays closest to the overall
 * mix, as scikit-learn's StratifiedGroupKFold does.
 */
export function groupedStratifiedFolds(y: Int32Array, groups: Int32Array, k: number, seed: number): Int32Array {
  if (y.length !== groups.length) throw new RangeError(`folds: ${y.length} labels but ${groups.length} groups`);
  if (!Number.isInteger(k) || k < 2) throw new RangeError(`folds: k must be an integer ≥ 2, got ${k}`);
  const classes = [...new Set(y)].sort((a, b) => a - b);
  const ci = new Map(classes.map((c, i) => [c, i]));
  const K = classes.length;
  const perGroup = new Map<number, Float64Array>();
  for (let i = 0; i < y.length; i++) {
    let h = perGroup.get(groups[i]);
    if (!h) perGroup.set(groups[i], (h = new Float64Array(K)));
    h[ci.get(y[i])!]++;
  }
  if (perGroup.size < k) throw new RangeError(`folds: ${perGroup.size} groups cannot fill ${k} folds`);
  const totals = new Float64Array(K);
  for (const h of perGroup.values()) for (let c = 0; c < K; c++) totals[c] += h[c];
  const ids = [...perGroup.keys()];
  shuffle(ids, rng(seed));
  // groups with most rows of their rarest-present class relative to that class's total go first
  const weight = (g: number) => { const h = perGroup.get(g)!; let m = 0; for (let c = 0; c < K; c++) m = Math.max(m, h[c] / totals[c]); return m; };
  ids.sort((a, b) => weight(b) - weight(a));
  const foldCounts = Array.from({ length: k }, () => new Float64Array(K));
  const foldOf = new Map<number, number>();
  for (const g of ids) {
    const h = perGroup.get(g)!;
    let best = 0, bestCost = Infinity;
    for (let f = 0; f < k; f++) {
      // cost: spread (std over folds) of each class's share after adding g to fold f, summed over classes
      let cost = 0;
      for (let c = 0; c < K; c++) {
        let s = 0, s2 = 0;
        for (let q = 0; q < k; q++) { const v = (foldCounts[q][c] + (q === f ? h[c] : 0)) / totals[c]; s += v; s2 += v * v; }
        cost += s2 / k - (s / k) ** 2;
      }
      let size = 0;
      for (let c = 0; c < K; c++) size += foldCounts[f][c];
      cost += 1e-12 * size; // ties: the smaller fold
      if (cost < bestCost) { bestCost = cost; best = f; }
    }
    for (let c = 0; c < K; c++) foldCounts[best][c] += h[c];
    foldOf.set(g, best);
  }
  return Int32Array.from(groups, (g) => foldOf.get(g)!);
}

export interface ClassMetrics {
  label: number;
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

export interface ClassificationReport {
  accuracy: number;
  macroF1: number;
  perClass: ClassMetrics[];
  /** Class ids, the order of the confusion matrix rows (true) and columns (predicted). */
  labels: number[];
  /** confusion[t][p] = rows of true class labels[t] predicted labels[p]. */
  confusion: number[][];
}

/** Accuracy, per-class precision/recall/F1 (0 when undefined, as scikit-learn's zero_division=0), macro-F1, confusion. */
export function classificationReport(yTrue: Int32Array, yPred: Int32Array): ClassificationReport {
  if (yTrue.length !== yPred.length) throw new RangeError('report: different lengths');
  const labels = [...new Set([...yTrue, ...yPred])].sort((a, b) => a - b);
  const pos = new Map(labels.map((c, i) => [c, i]));
  const L = labels.length;
  const confusion = Array.from({ length: L }, () => new Array<number>(L).fill(0));
  let correct = 0;
  for (let i = 0; i < yTrue.length; i++) {
    confusion[pos.get(yTrue[i])!][pos.get(yPred[i])!]++;
    if (yTrue[i] === yPred[i]) correct++;
  }
  const perClass: ClassMetrics[] = labels.map((label, i) => {
    const tp = confusion[i][i];
    const support = confusion[i].reduce((a, b) => a + b, 0);
    const predicted = confusion.reduce((a, r) => a + r[i], 0);
    const precision = predicted ? tp / predicted : 0;
    const recall = support ? tp / support : 0;
    const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
    return { label, precision, recall, f1, support };
  });
  // over every label in y_true ∪ y_pred, as scikit-learn's f1_score(average='macro')
  const macroF1 = perClass.reduce((a, m) => a + m.f1, 0) / Math.max(1, perClass.length);
  return { accuracy: yTrue.length ? correct / yTrue.length : 0, macroF1, perClass, labels, confusion };
}

/** Area under the ROC curve of `scores` (higher = positive) for `positive` flags; ties count half (Mann–Whitney). */
export function rocAuc(scores: ArrayLike<number>, positive: ArrayLike<boolean>): number {
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a] - scores[b]);
  let nPos = 0, rankSum = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1]] === scores[order[i]]) j++;
    const avg = (i + j) / 2 + 1;
    for (let t = i; t <= j; t++) if (positive[order[t]]) { nPos++; rankSum += avg; }
    i = j + 1;
  }
  const nNeg = n - nPos;
  if (!nPos || !nNeg) throw new RangeError('rocAuc: needs both positive and negative rows');
  return (rankSum - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}

/** A model to evaluate: a name and a factory giving a fresh, unfitted classifier. */
export interface ModelSpec {
  readonly name: string;
  readonly create: () => Classifier | Promise<Classifier>;
}

export interface CrossValidationResult {
  model: string;
  variant: string;
  report: ClassificationReport;
  /** Out-of-fold prediction per row. */
  predictions: Int32Array;
  fitSeconds: number;
  predictSeconds: number;
}

/**
 * One train/test split: `prepare()` (if given) builds a fresh pipeline fitted on the training rows only and applied
 * to the test rows; a fresh model is fitted, predicts the test rows, and is disposed of.
 */
export async function fitPredict(
  model: ModelSpec, prepare: (() => Pipeline) | undefined, Xtrain: Matrix, ytrain: Int32Array, Xtest: Matrix,
): Promise<{ predictions: Int32Array; fitSeconds: number; predictSeconds: number }> {
  let Xtr = Xtrain, ytr = ytrain, Xte = Xtest;
  const t0 = performance.now();
  if (prepare) {
    const p = prepare();
    ({ X: Xtr, y: ytr } = p.fit(Xtr, ytr));
    Xte = p.transform(Xte);
  }
  const m = await model.create();
  try {
    m.fit(Xtr, ytr);
    const t1 = performance.now();
    const predictions = m.predict(Xte);
    return { predictions, fitSeconds: (t1 - t0) / 1000, predictSeconds: (performance.now() - t1) / 1000 };
  } finally {
    m.dispose?.();
  }
}

/**
 * Cross-validates `model` over the given folds. For each fold, `prepare()` (if given) builds a fresh pipeline that
 * is fitted on the training rows only, then applied to the held-out rows.
 */
export async function crossValidate(
  X: Matrix, y: Int32Array, folds: Int32Array, model: ModelSpec, prepare: (() => Pipeline) | undefined, variant: string,
): Promise<CrossValidationResult> {
  if (folds.length !== X.rows || y.length !== X.rows) throw new RangeError('crossValidate: X, y and folds differ in length');
  const k = Math.max(...folds) + 1;
  const predictions = new Int32Array(X.rows);
  let fitSeconds = 0, predictSeconds = 0;
  for (let f = 0; f < k; f++) {
    const tr: number[] = [], te: number[] = [];
    folds.forEach((v, i) => (v === f ? te : tr).push(i));
    if (!te.length) continue;
    const r = await fitPredict(model, prepare, takeRows(X, tr), takeLabels(y, tr), takeRows(X, te));
    fitSeconds += r.fitSeconds;
    predictSeconds += r.predictSeconds;
    te.forEach((row, i) => (predictions[row] = r.predictions[i]));
  }
  return { model: model.name, variant, report: classificationReport(y, predictions), predictions, fitSeconds, predictSeconds };
}

/**
 * The paper's three settings for each model, on the same grouped folds:
 * 'raw' (no preparation), 'prepared' (`preparation()` stages), 'fisher-k' (`preparation()` + Fisher top-`fisherK`).
 */
export async function compare(
  X: Matrix, y: Int32Array, folds: Int32Array, models: readonly ModelSpec[], preparation: () => Stage[], fisherK: number,
): Promise<CrossValidationResult[]> {
  const out: CrossValidationResult[] = [];
  for (const m of models) {
    out.push(await crossValidate(X, y, folds, m, undefined, 'raw'));
    out.push(await crossValidate(X, y, folds, m, () => new Pipeline(preparation()), 'prepared'));
    out.push(await crossValidate(X, y, folds, m, () => new Pipeline([...preparation(), new FisherSelector(fisherK)]), `fisher-${fisherK}`));
  }
  return out;
}

/** A plain-text table of `compare()` results: model, variant, accuracy, macro-F1, fit and predict seconds. */
export function formatComparison(rows: readonly CrossValidationResult[]): string {
  const lines = ['model            variant      accuracy  macro-F1   fit s  predict s'];
  for (const r of rows) {
    lines.push(`${r.model.padEnd(16)} ${r.variant.padEnd(12)} ${r.report.accuracy.toFixed(4).padStart(8)}  ${r.report.macroF1.toFixed(4).padStart(8)} ${r.fitSeconds.toFixed(2).padStart(7)} ${r.predictSeconds.toFixed(2).padStart(10)}`);
  }
  return lines.join('\n');
}
