/**
 * @module cli/one-class
 * `syscall-anomaly classify --one-class --normal-label L`: anomaly detection without attack labels. A one-class model
 * (isolation forest, or mean distance to the k nearest normal windows) is fitted on normal training windows only;
 * the alert threshold is the `--quantile` of its scores on normal validation windows held out of the fit (whole
 * groups where there are two or more normal groups, else a seeded quarter of the rows). Reported: ROC AUC of the
 * scores (anomalous = any class but L), the false-alarm rate on normal windows and the detection rate per class.
 * Without `--test`, grouped cross-validation as in supervised mode (scores out of fold; AUC over the pooled scores).
 */
import { rng, shuffle, takeRows, type Matrix } from '../features/preprocess/matrix.js';
import { Pipeline } from '../features/preprocess/pipeline.js';
import { IsolationForest, KnnDistanceDetector, scoreThreshold, type OneClassModel } from '../models/classifiers/index.js';
import { rocAuc } from '../detect/classification.js';
import { foldsFor, IdSpace, loadWindowData, normalizerStage, type Normalizer, type WindowData } from './classify.js';
import { UsageError } from './run.js';

export const ONE_CLASS_MODELS = ['iforest', 'knn-distance'] as const;
export type OneClassName = (typeof ONE_CLASS_MODELS)[number];

/** isolation forest: 100 trees of 256 rows; knn-distance: k = 5. */
export function oneClassModel(name: OneClassName, seed: number): OneClassModel {
  return name === 'iforest' ? new IsolationForest(100, 256, seed) : new KnnDistanceDetector(5);
}

export interface OneClassRequest {
  train: string[];
  test: string[];
  cv: number;
  model: OneClassName;
  normalLabel: string;
  normalize: Normalizer | undefined;
  quantile: number;
  seed: number;
  json: boolean;
}

/** Splits normal training rows into fit and validation rows (by group where possible). */
function splitNormal(rows: number[], groups: Int32Array, seed: number): { fit: number[]; val: number[]; byGroup: boolean } {
  const gs = [...new Set(rows.map((r) => groups[r]))].sort((a, b) => a - b);
  const rand = rng(seed);
  if (gs.length >= 2) {
    shuffle(gs, rand);
    const val = new Set(gs.slice(0, Math.max(1, Math.round(gs.length / 4))));
    return { fit: rows.filter((r) => !val.has(groups[r])), val: rows.filter((r) => val.has(groups[r])), byGroup: true };
  }
  const s = [...rows];
  shuffle(s, rand);
  const nVal = Math.max(1, Math.round(s.length / 4));
  return { fit: s.slice(nVal), val: s.slice(0, nVal), byGroup: false };
}

/** Fits on normal rows `normalRows` of (X, groups); returns scores of `testX` and the threshold. */
function fitScore(req: OneClassRequest, X: Matrix, groups: Int32Array, normalRows: number[], testX: Matrix): { scores: Float64Array; threshold: number; byGroup: boolean } {
  const { fit, val, byGroup } = splitNormal(normalRows, groups, req.seed);
  if (fit.length < 5) throw new UsageError(`one-class: only ${fit.length} normal training windows to fit on; need at least 5`);
  let Xfit = takeRows(X, fit), Xval = takeRows(X, val), Xte = testX;
  if (req.normalize) {
    const p = new Pipeline([normalizerStage(req.normalize)]);
    Xfit = p.fit(Xfit, new Int32Array(Xfit.rows)).X;
    Xval = p.transform(Xval);
    Xte = p.transform(Xte);
  }
  const m = oneClassModel(req.model, req.seed);
  m.fit(Xfit);
  return { scores: m.score(Xte), threshold: scoreThreshold(m.score(Xval), req.quantile), byGroup };
}

export interface OneClassResult {
  model: string;
  normalLabel: string;
  quantile: number;
  mode: 'cv' | 'test';
  rocAuc: number | null;
  falseAlarmRate: number;
  detection: { class: string; windows: number; detected: number; rate: number }[];
  normalWindows: number;
}

function summarise(req: OneClassRequest, data: WindowData, normalId: number, scores: Float64Array, alarms: Uint8Array, mode: 'cv' | 'test'): OneClassResult {
  const anomalous = Array.from(data.y, (c) => c !== normalId);
  const hasBoth = anomalous.some((a) => a) && anomalous.some((a) => !a);
  let normal = 0, fa = 0;
  const det = new Map<number, { windows: number; detected: number }>();
  data.y.forEach((c, i) => {
    if (c === normalId) { normal++; fa += alarms[i]; return; }
    const d = det.get(c) ?? { windows: 0, detected: 0 };
    d.windows++;
    d.detected += alarms[i];
    det.set(c, d);
  });
  return {
    model: req.model, normalLabel: req.normalLabel, quantile: req.quantile, mode,
    rocAuc: hasBoth ? rocAuc(scores, anomalous) : null,
    falseAlarmRate: normal ? fa / normal : 0,
    detection: [...det].sort((a, b) => a[0] - b[0]).map(([c, d]) => ({ class: data.classNames[c], ...d, rate: d.detected / d.windows })),
    normalWindows: normal,
  };
}

export async function oneClassCommand(req: OneClassRequest): Promise<OneClassResult> {
  const ids = new IdSpace();
  const { data, vocab } = loadWindowData(req.train, ids);
  const normalId = ids.classes.get(req.normalLabel);
  if (normalId === undefined) throw new UsageError(`--normal-label ${req.normalLabel}: no such class in the training sets (they hold ${data.classNames.join(', ')})`);
  let result: OneClassResult;
  let note: string;
  if (req.test.length) {
    const normalRows = [...data.y.keys()].filter((i) => data.y[i] === normalId);
    const { data: test } = loadWindowData(req.test, ids, vocab);
    const { scores, threshold, byGroup } = fitScore(req, data.X, data.groups, normalRows, test.X);
    result = summarise(req, test, normalId, scores, Uint8Array.from(scores, (s) => (s > threshold ? 1 : 0)), 'test');
    note = `fitted on ${normalRows.length} normal training windows (threshold from ${byGroup ? 'held-out normal groups' : 'a held-out quarter of them'}), tested on ${test.X.rows} windows`;
  } else {
    const folds = foldsFor(data, req.cv, req.seed);
    const scores = new Float64Array(data.X.rows);
    const alarms = new Uint8Array(data.X.rows);
    for (let f = 0; f < req.cv; f++) {
      const te = [...folds.keys()].filter((i) => folds[i] === f);
      if (!te.length) continue;
      const normalRows = [...folds.keys()].filter((i) => folds[i] !== f && data.y[i] === normalId);
      const r = fitScore(req, data.X, data.groups, normalRows, takeRows(data.X, te));
      te.forEach((row, i) => { scores[row] = r.scores[i]; alarms[row] = r.scores[i] > r.threshold ? 1 : 0; });
    }
    result = summarise(req, data, normalId, scores, alarms, 'cv');
    note = `grouped ${req.cv}-fold cross-validation over ${data.X.rows} windows; each fold fitted on its training runs' normal windows`;
  }
  if (req.json) {
    process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    return result;
  }
  const lines = [
    `one-class ${req.model}${req.normalize ? ` on ${req.normalize}-normalised windows` : ''}, normal = '${req.normalLabel}', threshold = ${req.quantile} quantile of normal validation scores`,
    note,
    '',
    `ROC AUC           ${result.rocAuc === null ? 'n/a (needs normal and anomalous windows)' : result.rocAuc.toFixed(4)}`,
    `false alarms      ${(100 * result.falseAlarmRate).toFixed(2)} % of ${result.normalWindows} normal windows`,
    ...result.detection.map((d) => `detected ${d.class.padEnd(8)} ${(100 * d.rate).toFixed(2).padStart(6)} % (${d.detected} of ${d.windows})`),
  ];
  process.stdout.write(lines.join('\n') + '\n');
  return result;
}
