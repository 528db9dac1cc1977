/**
 * @module cli/classify
 * `syscall-anomaly classify`: supervised classification of labelled window sets (`.saws`, made by `windows`).
 * - Several sets are merged on one column space: the union of their syscall vocabularies (training sets), in order of
 *   first appearance; test sets are mapped onto the training columns, their unseen syscalls go to `<unk>` and are
 *   counted.
 * - Without `--test`: cross-validation grouped by recording run (each set's group; no run is split between train and
 *   test) and stratified by class. With `--test`: fit on the training sets, evaluate on the test sets.
 * - Preparation (fitted on training rows only): `--normalize`, `--balance`, `--fisher K` (Fisher-score top-k).
 * - `--compare`: models × {raw, prepared, prepared + Fisher top-k} on the same folds, as one table.
 * - One-class mode is in `cli/one-class.ts`.
 */
import { existsSync } from 'node:fs';
import { matrix, type Matrix } from '../features/preprocess/matrix.js';
import { ClassBalancer, type BalanceMode } from '../features/preprocess/balance.js';
import { FisherSelector } from '../features/preprocess/fisher.js';
import { Pipeline } from '../features/preprocess/pipeline.js';
import { L2RowNormalizer, Log1pTransform, MinMaxScaler, StandardScaler } from '../features/preprocess/scale.js';
import type { Stage } from '../features/preprocess/stage.js';
import { columnsPerSlot, featureNames, SyscallVocabulary, WindowSet, type WindowConfig } from '../features/windows/index.js';
import {
  classificationReport, compare, crossValidate, fitPredict, groupedStratifiedFolds, type ClassificationReport, type CrossValidationResult,
  type ModelSpec,
} from '../detect/classification.js';
import {
  DecisionTree, GaussianNB, KnnClassifier, LogisticRegression, RandomForest, SvmClassifier,
} from '../models/classifiers/index.js';
import { UsageError } from './run.js';

// ---------------------------------------------------------------------------------------------------------------
// data

/** Labelled window sets merged into one dense matrix. */
export interface WindowData {
  /** // [rows, featureNames.length] */
  X: Matrix;
  /** // [rows] class id per row (index into classNames) */
  y: Int32Array;
  /** // [rows] group id per row (index into groupNames) */
  groups: Int32Array;
  classNames: string[];
  groupNames: string[];
  featureNames: string[];
  config: WindowConfig;
  /** Window-set files and their row counts. */
  files: { path: string; rows: number }[];
  /** Test data only: summed values (events, for count features) of syscalls the training vocabulary lacks. */
  unknownMass: number;
  unknownNames: string[];
}

/** Shared class and group ids across the train and test sides. */
export class IdSpace {
  readonly classes = new Map<string, number>();
  readonly groups = new Map<string, number>();
  id(map: Map<string, number>, name: string): number {
    let v = map.get(name);
    if (v === undefined) map.set(name, (v = map.size));
    return v;
  }
}

/**
 * Loads `paths` onto one column space. `vocab` undefined: the union of the sets' vocabularies (returned frozen in
 * `vocab`); given (frozen): the sets are mapped onto it.
 */
export function loadWindowData(paths: readonly string[], ids: IdSpace, vocab?: SyscallVocabulary): { data: WindowData; vocab: SyscallVocabulary } {
  if (paths.length === 0) throw new UsageError('no window set given');
  const sets = paths.map((p) => {
    if (!existsSync(p)) throw new UsageError(`no such window set: ${p}`);
    return WindowSet.load(p);
  });
  const config = sets[0].config;
  for (let i = 1; i < sets.length; i++) {
    const c = sets[i].config;
    if (c.features !== config.features || c.size !== config.size) {
      throw new UsageError(`${paths[i]} has windows of ${c.size} events (${c.features}), ${paths[0]} of ${config.size} (${config.features}): build all sets with the same --size and --features`);
    }
  }
  const v = vocab ?? SyscallVocabulary.growing();
  if (!vocab) for (const s of sets) for (const name of s.vocabulary.list()) v.index(name);
  v.freeze();
  const per = columnsPerSlot(config.features);
  const cols = v.size * per;
  const rows = sets.reduce((a, s) => a + s.rows, 0);
  const X = matrix(rows, cols);
  const y = new Int32Array(rows);
  const groups = new Int32Array(rows);
  let r0 = 0;
  let unknownMass = 0;
  const unknownNames = new Set<string>();
  for (const s of sets) {
    // this set's slot → slot in the merged vocabulary (0 = <unk>)
    const map = s.vocabulary.list().map((name, slot) => {
      const j = slot === 0 ? 0 : v.lookup(name) ?? 0;
      if (slot !== 0 && j === 0) unknownNames.add(name);
      return j;
    });
    const cmap = s.classNames.map((c) => ids.id(ids.classes, c));
    const gmap = s.groupNames.map((g) => ids.id(ids.groups, g));
    const { indptr, indices, values } = s.X;
    for (let r = 0; r < s.rows; r++) {
      const base = (r0 + r) * cols;
      for (let k = indptr[r]; k < indptr[r + 1]; k++) {
        const c = indices[k];
        const slot = Math.floor(c / per);
        const to = map[slot] * per + (c % per);
        if (map[slot] === 0 && slot !== 0 && (per === 1 || c % per === 0)) unknownMass += values[k];
        X.data[base + to] += values[k];
      }
      y[r0 + r] = cmap[s.labels[r]];
      groups[r0 + r] = gmap[s.groups[r]];
    }
    r0 += s.rows;
  }
  return {
    vocab: v,
    data: {
      X, y, groups, classNames: [...ids.classes.keys()], groupNames: [...ids.groups.keys()],
      featureNames: featureNames(v, config.features), config, files: paths.map((p, i) => ({ path: p, rows: sets[i].rows })),
      unknownMass, unknownNames: [...unknownNames].sort(),
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// models and preparation

export const MODEL_NAMES = ['svm', 'svm-rbf', 'knn', 'nb', 'tree', 'forest', 'logistic'] as const;
export type ModelName = (typeof MODEL_NAMES)[number];
export const NORMALIZERS = ['minmax', 'zscore', 'l2', 'log1p'] as const;
export type Normalizer = (typeof NORMALIZERS)[number];

/**
 * A classifier by CLI name: svm (linear C-SVC, C = 1), svm-rbf (RBF, gamma 'scale'), knn (k = 5), nb (Gaussian naive
 * Bayes: works on any preparation, unlike multinomial), tree (CART), forest (100 trees, √d features per node),
 * logistic (softmax, C = 1, L-BFGS ≤ 200 iterations).
 */
export function modelSpec(name: ModelName, seed: number): ModelSpec {
  switch (name) {
    case 'svm': return { name, create: () => SvmClassifier.create('linear') };
    case 'svm-rbf': return { name, create: () => SvmClassifier.create('rbf') };
    case 'knn': return { name, create: () => new KnnClassifier(5) };
    case 'nb': return { name, create: () => new GaussianNB() };
    case 'tree': return { name, create: () => new DecisionTree(undefined, seed) };
    case 'forest': return { name, create: () => new RandomForest(100, undefined, seed) };
    case 'logistic': return { name, create: () => new LogisticRegression(1, 200) };
  }
}

export function parseModels(text: string, allowList: boolean): ModelName[] {
  const names = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (names.length === 0) throw new UsageError('--model: give a model name');
  if (names.length > 1 && !allowList) throw new UsageError('--model takes one model (a comma-separated list only with --compare)');
  for (const n of names) {
    if (!(MODEL_NAMES as readonly string[]).includes(n)) throw new UsageError(`--model must be one of ${MODEL_NAMES.join(', ')}, got '${n}'`);
  }
  return names as ModelName[];
}

export function normalizerStage(kind: Normalizer): Stage {
  switch (kind) {
    case 'minmax': return new MinMaxScaler();
    case 'zscore': return new StandardScaler();
    case 'l2': return new L2RowNormalizer();
    case 'log1p': return new Log1pTransform();
  }
}

/** What to do to the training rows before the model. */
export interface Preparation {
  normalize: Normalizer | undefined;
  balance: BalanceMode | undefined;
  fisherK: number | undefined;
  seed: number;
}

/** Fresh stages, in order: normaliser, balancer, Fisher selector. */
export function preparationStages(p: Preparation, withFisher: boolean): Stage[] {
  const stages: Stage[] = [];
  if (p.normalize) stages.push(normalizerStage(p.normalize));
  if (p.balance) stages.push(new ClassBalancer(p.balance, p.seed));
  if (withFisher && p.fisherK !== undefined) stages.push(new FisherSelector(p.fisherK));
  return stages;
}

export function describePreparation(p: Preparation, withFisher: boolean): string {
  const parts: string[] = [];
  if (p.normalize) parts.push(p.normalize);
  if (p.balance) parts.push(`balance(${p.balance})`);
  if (withFisher && p.fisherK !== undefined) parts.push(`fisher-${p.fisherK}`);
  return parts.length ? parts.join(' + ') : 'raw';
}

/** Fisher ranking of the (prepared) training rows, best first: the syscalls that separate the classes most. */
export function fisherRanking(data: WindowData, p: Preparation, k: number): { name: string; score: number }[] {
  const pipe = new Pipeline([...preparationStages({ ...p, fisherK: undefined }, false), new FisherSelector(k)]);
  pipe.fit(data.X, data.y);
  return pipe.fisher()!.ranking(data.featureNames).slice(0, k).map(({ name, score }) => ({ name, score }));
}

/** Grouped, stratified folds; a clear error when there are too few groups (runs). */
export function foldsFor(data: WindowData, k: number, seed: number): Int32Array {
  const nGroups = new Set(data.groups).size;
  if (nGroups < k) {
    throw new UsageError(`--cv ${k} needs at least ${k} groups (recording runs); the training sets have ${nGroups}: lower --cv or give each run its own --group`);
  }
  return groupedStratifiedFolds(data.y, data.groups, k, seed);
}

// ---------------------------------------------------------------------------------------------------------------
// reports

export interface NamedReport {
  accuracy: number;
  macroF1: number;
  perClass: { class: string; precision: number; recall: number; f1: number; support: number }[];
  classes: string[];
  confusion: number[][];
}

export function nameReport(r: ClassificationReport, classNames: readonly string[]): NamedReport {
  return {
    accuracy: r.accuracy, macroF1: r.macroF1,
    perClass: r.perClass.map((m) => ({ class: classNames[m.label], precision: m.precision, recall: m.recall, f1: m.f1, support: m.support })),
    classes: r.labels.map((l) => classNames[l]),
    confusion: r.confusion,
  };
}

export function formatReport(r: NamedReport): string {
  const w = Math.max(8, ...r.classes.map((c) => c.length));
  const out = [`accuracy  ${r.accuracy.toFixed(4)}`, `macro-F1  ${r.macroF1.toFixed(4)}`, '',
    `${'class'.padEnd(w)}  precision  recall      F1  support`];
  for (const m of r.perClass) {
    out.push(`${m.class.padEnd(w)}  ${m.precision.toFixed(4).padStart(9)}  ${m.recall.toFixed(4).padStart(6)}  ${m.f1.toFixed(4).padStart(6)}  ${String(m.support).padStart(7)}`);
  }
  out.push('', 'confusion matrix (rows: true class, columns: predicted)');
  out.push(`${''.padEnd(w)}  ${r.classes.map((c) => c.padStart(Math.max(7, c.length))).join(' ')}`);
  r.confusion.forEach((row, i) => {
    out.push(`${r.classes[i].padEnd(w)}  ${row.map((v, j) => String(v).padStart(Math.max(7, r.classes[j].length))).join(' ')}`);
  });
  return out.join('\n') + '\n';
}

export function formatRanking(rank: { name: string; score: number }[]): string {
  return rank.map((f, i) => `  ${String(i + 1).padStart(3)}. ${f.name.padEnd(24)} ${Number.isFinite(f.score) ? f.score.toPrecision(4) : 'inf'}`).join('\n') + '\n';
}

export function comparisonJson(rows: readonly CrossValidationResult[], classNames: readonly string[]) {
  return rows.map((r) => ({
    model: r.model, variant: r.variant, accuracy: r.report.accuracy, macroF1: r.report.macroF1,
    fitSeconds: r.fitSeconds, predictSeconds: r.predictSeconds, report: nameReport(r.report, classNames),
  }));
}

function describeData(d: WindowData): string {
  const n = (v: number) => v.toLocaleString('en-US');
  const perClass = d.classNames.map((c, i) => `${c} ${n(d.y.filter((v) => v === i).length)}`).join(', ');
  return `${n(d.X.rows)} windows (${perClass}) from ${d.files.length} set(s), ${new Set(d.groups).size} groups, ${n(d.featureNames.length)} features; windows of ${n(d.config.size)} events, ${d.config.features}`;
}

// ---------------------------------------------------------------------------------------------------------------
// the command

/** Everything `classify` needs (supervised modes); the CLI fills defaults and checks combinations. */
export interface ClassifyRequest {
  train: string[];
  test: string[];
  cv: number;
  prep: Preparation;
  models: ModelName[];
  compare: boolean;
  json: boolean;
}

export async function classifyCommand(req: ClassifyRequest): Promise<void> {
  const ids = new IdSpace();
  const { data, vocab } = loadWindowData(req.train, ids);
  if (new Set(data.y).size < 2) throw new UsageError(`the training sets hold one class (${data.classNames.join(', ')}): classification needs two or more (or use --one-class)`);
  if (req.prep.fisherK !== undefined && req.prep.fisherK > data.featureNames.length) {
    throw new UsageError(`--fisher ${req.prep.fisherK} is more than the ${data.featureNames.length} features`);
  }
  const out = (s: string) => process.stdout.write(s);
  const ranking = req.prep.fisherK !== undefined ? fisherRanking(data, req.prep, req.prep.fisherK) : undefined;

  if (req.compare) {
    const folds = foldsFor(data, req.cv, req.prep.seed);
    const k = req.prep.fisherK ?? 10;
    const rows = await compare(data.X, data.y, folds, req.models.map((m) => modelSpec(m, req.prep.seed)),
      () => preparationStages({ ...req.prep, fisherK: undefined }, false), Math.min(k, data.featureNames.length));
    const rank = ranking ?? fisherRanking(data, req.prep, Math.min(k, data.featureNames.length));
    if (req.json) {
      out(JSON.stringify({ mode: 'compare', data: describeData(data), cv: req.cv, prepared: describePreparation(req.prep, false), fisherK: k, results: comparisonJson(rows, data.classNames), fisher: rank }, null, 2) + '\n');
      return;
    }
    out(`${describeData(data)}\ngrouped ${req.cv}-fold cross-validation; prepared = ${describePreparation(req.prep, false)}\n\n`);
    out(formatComparisonTable(rows) + '\n');
    out(`\nFisher top ${rank.length} (prepared training rows, all folds together):\n${formatRanking(rank)}`);
    return;
  }

  const model = modelSpec(req.models[0], req.prep.seed);
  const variant = describePreparation(req.prep, true);
  const prepare = variant === 'raw' ? undefined : () => new Pipeline(preparationStages(req.prep, true));
  let report: ClassificationReport;
  let how: string;
  let unknown: { mass: number; names: string[] } | undefined;
  if (req.test.length) {
    const { data: test } = loadWindowData(req.test, ids, vocab);
    report = classificationReport(test.y, (await fitPredict(model, prepare, data.X, data.y, test.X)).predictions);
    how = `trained on ${describeData(data)}\ntested on ${describeData(test)}`;
    unknown = { mass: test.unknownMass, names: test.unknownNames };
  } else {
    const folds = foldsFor(data, req.cv, req.prep.seed);
    report = (await crossValidate(data.X, data.y, folds, model, prepare, variant)).report;
    how = `${describeData(data)}\ngrouped ${req.cv}-fold cross-validation (no run in both train and test)`;
  }
  const named = nameReport(report, [...ids.classes.keys()]); // train and test share the class ids
  if (req.json) {
    out(JSON.stringify({ mode: req.test.length ? 'test' : 'cv', model: model.name, preparation: variant, cv: req.test.length ? undefined : req.cv, ...named, unknownInTest: unknown, fisher: ranking }, null, 2) + '\n');
    return;
  }
  out(`model ${model.name}, preparation ${variant}\n${how}\n`);
  if (unknown && unknown.mass > 0) out(`unknown       ${unknown.mass.toLocaleString('en-US')} test events of syscalls unseen in training (${unknown.names.slice(0, 10).join(', ')})\n`);
  out('\n' + formatReport(named));
  if (ranking) out(`\nFisher top ${ranking.length} (prepared training rows):\n${formatRanking(ranking)}`);
}

/** models × variants as a wide table: one line per model, accuracy and macro-F1 per variant. */
export function formatComparisonTable(rows: readonly CrossValidationResult[]): string {
  const variants = [...new Set(rows.map((r) => r.variant))];
  const models = [...new Set(rows.map((r) => r.model))];
  const widths = variants.map((v) => Math.max(8, v.length + 4));
  const head = `${'model'.padEnd(10)}${variants.map((v, i) => `  ${`${v} acc`.padStart(widths[i])} ${`${v} F1`.padStart(widths[i])}`).join('')}  fit+predict s`;
  const lines = [head];
  for (const m of models) {
    let s = m.padEnd(10);
    let secs = 0;
    variants.forEach((v, i) => {
      const r = rows.find((x) => x.model === m && x.variant === v);
      s += r ? `  ${r.report.accuracy.toFixed(4).padStart(widths[i])} ${r.report.macroF1.toFixed(4).padStart(widths[i])}` : ' '.repeat(2 * widths[i] + 3);
      if (r) secs += r.fitSeconds + r.predictSeconds;
    });
    lines.push(`${s}  ${secs.toFixed(1).padStart(13)}`);
  }
  return lines.join('\n');
}
