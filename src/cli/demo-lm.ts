/**
 * @module cli/demo-lm
 * `syscall-anomaly demo` (language models): trains and scores on the committed web-server sample
 * (`data/web-novelty/*.jsonl.gz`: Apache 2.4 prefork + mod_php 8.2 with OPcache + MariaDB over HTTPS, driven by a
 * paced wrk and recorded by the project's own `record` (perf `syscalls:*`) by `experiments/web-novelty/run.sh`;
 * see `data/web-novelty/README.md`).
 *
 * Each set is cut into one sequence per HTTP request on a connection (`request` segmentation: keep-alive aware; on
 * HTTPS the TLS handshake is part of the connection's first request). The normal set is split by time (sequences
 * ordered by their first event): the first 60 % train the model, the next 20 % validate, the last 20 % test. Each
 * novel set (`connection`: MaxRequestWorkers 25, `cpu`: stress-ng --matrix on every core beside the server, `io`:
 * mod_dumpio at trace7, `opcache`: OPcache off, `socket`: KeepAlive Off, `ssl`: plain HTTP) is split by time in
 * halves: validation, test. Two thresholds come from
 * validation data only: the label-free one (quantile 0.99 of normal validation perplexity) and, per novelty, the
 * best-F1 one on the validation mix of normal validation + that novelty's validation half (the model folder keeps the
 * best-F1 threshold of normal validation vs every novel validation half). The table is on test data only:
 * per novelty (normal test vs that novelty's test half), F1 at each threshold, ROC AUC and the detection rate at a
 * 1 % false-alarm rate. The fitted model is saved in a temporary model folder so that the printed `explain` command
 * line for the most novel test request works as is. The control set (`normal2`: a second run of the normal server)
 * is scored like a novelty and reported under the table, outside its mean: a model that tells it from normal is
 * telling server runs apart.
 *
 * The models (`DEMO_MODELS`): the n-gram over syscall names; the n-gram predicting the joint token of the name and
 * the returned byte count's bucket (`--predict name,size`: sizes tell plain HTTP from TLS records); the LSTM
 * predicting the name and the call's latency bucket (`--predict name,lat`: a CPU hog or a smaller worker pool
 * changes timing, not which calls are made), reading every field but pid and tid (which name one server run's
 * workers); the Transformer over names (fields `auto`: pid and tid left out); the timing model (`models/timing`:
 * where a request's time goes — between calls, in calls, in all — one score per request; one Gaussian for every
 * request, `--shape-min 0`; each request scored with its connection's last 5, `--history 5`). Each is reported under its
 * label (`ngram`, `ngram-size`, `lstm-lat`, `transformer`, `timing`), and then their ensemble (`DEMO_ENSEMBLE`:
 * z-scored log perplexities, averaged; `ensemble`).
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openData, type Reading } from '../features/dataset.js';
import { bestF1, confusionAt, detectionAtFalseAlarmRate, rocAuc } from '../detect/metrics.js';
import { fitQuantileThreshold } from '../detect/threshold.js';
import { combineScores, Normaliser } from '../detect/ensemble.js';
import { normalStats } from '../models/normal-scores.js';
import { PrefixCollector, storedLengths } from '../detect/live-thresholds.js';
import type { Sequence } from '../features/sequences/sequence.js';
import { saveModelFolder, type DataSummary } from '../models/folder.js';
import { withHistory } from '../detect/history.js';
import { findModelKind, formatSettings, passesOver, perplexityAll, resolveSettings, type LogProbsSink, type ModelSettings } from '../models/language-model.js';
import { projectData } from '../testing/paths.js';

export const DEMO_LM_DIR = 'web-novelty';
export const NOVELTIES = ['connection', 'cpu', 'io', 'opcache', 'socket', 'ssl'] as const;
export type Novelty = (typeof NOVELTIES)[number];
/**
 * The control set: a second run of the normal server, recorded after the novelties. Not novel: a model that tells
 * it from the normal test requests is telling server runs apart (e.g. by worker pids), not behaviour, and its
 * figures on the novelties deserve the same suspicion. Reported beside the table, never in its mean.
 */
export const CONTROL = 'normal2';
/** A scored set besides normal: a novelty or the control. */
export type ScoredSet = Novelty | typeof CONTROL;
const SCORED: readonly ScoredSet[] = [...NOVELTIES, CONTROL];
/** A model the demo trains: its label (table title, JSON key), its kind and settings beyond the defaults. */
export interface DemoModel {
  label: string;
  kind: string;
  /** Setting key → text, as `train` options. */
  settings?: ReadonlyMap<string, string>;
}

/** The models the demo trains, in order (the LSTM trains in about a minute here; the n-grams in seconds). */
export const DEMO_MODELS: readonly DemoModel[] = [
  { label: 'ngram', kind: 'ngram' },
  { label: 'ngram-size', kind: 'ngram', settings: new Map([['predict', 'name,size']]) },
  { label: 'lstm-lat', kind: 'lstm', settings: new Map([['predict', 'name,lat'], ['fields', 'name,phase,dt,proc,ret']]) },
  { label: 'transformer', kind: 'transformer' },
  // One Gaussian for all requests (`--shape-min 0`, not the kind's default) and each request scored with its
  // connection's last 5 (`--history 5`, `detect/history.ts`): on this sample the ensemble's connection F1 is 0.989
  // (0.904 without the history; per shape with it 0.903). On the full recording per shape does better label-free
  // (see `models/timing/timing.ts` and experiments/web-novelty/RESULTS.md).
  { label: 'timing', kind: 'timing', settings: new Map([['shapeMin', '0'], ['history', '5']]) },
];
/**
 * The demo models whose ensemble the demo reports (when it ran them all): one sees which calls a request makes and the
 * sizes they return, the other where its time goes. The best pair of the five on this sample (ngram-size + lstm-lat
 * before the timing model: mean F1 0.904; the three together 0.965; this pair 0.971).
 */
export const DEMO_ENSEMBLE: readonly string[] = ['ngram-size', 'timing'];
/** Model kinds the demo trains. */
export const DEMO_MODEL_KINDS: readonly string[] = [...new Set(DEMO_MODELS.map((m) => m.kind))];

/** Labels of the demo models whose kind is registered. */
export function demoModelKinds(): string[] {
  return DEMO_MODELS.filter((m) => findModelKind(m.kind) !== undefined).map((m) => m.label);
}

/** The demo model of a label; a label that is no demo model's is taken as a kind with its defaults. */
export function demoModel(label: string): DemoModel {
  return DEMO_MODELS.find((m) => m.label === label) ?? { label, kind: label };
}
/** Longest request sequence kept (the sample's requests have a few dozen events). */
export const DEMO_MAX_LEN = 10_000;
/** Time split of the normal requests: train, validation (the rest is test). */
export const TRAIN_FRACTION = 0.6;
export const VALID_FRACTION = 0.2;
export const QUANTILE = 0.99;
export const FAR = 0.01;

const READING: Reading = { segmentation: 'request', maxLength: DEMO_MAX_LEN, pairing: 'paired', lenient: false };

/** Path of a committed set (`normal` or a novelty). */
export function demoSetPath(name: 'normal' | ScoredSet): string {
  return projectData(join(DEMO_LM_DIR, `${name}.jsonl.gz`));
}

export interface DemoSet {
  name: string;
  path: string;
  /** Request sequences, ordered by their first event's timestamp. */
  sequences: Sequence[];
  summary: DataSummary;
}

const firstTs = (s: Sequence) => (s.events.length ? s.events[0].ts : 0n);

/** Reads one committed set as request sequences, in time order. */
export async function loadDemoSet(name: 'normal' | ScoredSet): Promise<DemoSet> {
  const path = demoSetPath(name);
  const data = openData({ kind: 'trace', arg: path, path }, READING);
  const sequences: Sequence[] = [];
  for await (const s of data) sequences.push(s);
  sequences.sort((a, b) => (firstTs(a) < firstTs(b) ? -1 : firstTs(a) > firstTs(b) ? 1 : 0));
  return { name, path, sequences, summary: data.summary() };
}

export interface DemoSplit {
  train: Sequence[];
  valid: Sequence[];
  test: Sequence[];
  /** Each novelty and the control, split in halves by time. */
  novel: Record<ScoredSet, { path: string; valid: Sequence[]; test: Sequence[] }>;
  summaries: Record<string, DataSummary>;
}

/** Loads every set and splits it by time (normal 60/20/20, novel 50/50). */
export async function loadDemoSplit(): Promise<DemoSplit> {
  const normal = await loadDemoSet('normal');
  const n = normal.sequences.length;
  const a = Math.round(TRAIN_FRACTION * n);
  const b = Math.round((TRAIN_FRACTION + VALID_FRACTION) * n);
  const novel = {} as DemoSplit['novel'];
  const summaries: Record<string, DataSummary> = { normal: normal.summary };
  for (const name of SCORED) {
    const set = await loadDemoSet(name);
    const h = Math.floor(set.sequences.length / 2);
    novel[name] = { path: set.path, valid: set.sequences.slice(0, h), test: set.sequences.slice(h) };
    summaries[name] = set.summary;
  }
  return { train: normal.sequences.slice(0, a), valid: normal.sequences.slice(a, b), test: normal.sequences.slice(b), novel, summaries };
}

export interface NoveltyRow {
  /** The novelty (the control, `normal2`, in a model's `control` row). */
  novelty: ScoredSet;
  /** Test sequences: normal, novel. */
  normal: number;
  novel: number;
  /**
   * Best-F1 threshold on validation data: normal validation vs this novelty's validation half; −∞ (`null` in JSON)
   * when flagging every request gives the best F1 there.
   */
  bestF1Threshold: number;
  /** F1 at that threshold. */
  f1: number;
  /** F1 at the label-free threshold. */
  f1LabelFree: number;
  auroc: number;
  /** Detection rate at a 1 % false-alarm rate on the normal test requests. */
  detectionAt1Far: number;
}

export interface ModelResult {
  /** The demo model's label (`ngram-size`); the kind for a kind run with its defaults. */
  label: string;
  kind: string;
  settings: ModelSettings;
  modelDir: string;
  seconds: number;
  /** Quantile `QUANTILE` of normal validation perplexity. */
  labelFreeThreshold: number;
  rows: NoveltyRow[];
  /** The control (`CONTROL`, a second normal run) scored as if it were a novelty. */
  control: NoveltyRow;
  /** The test request with the highest perplexity among the novel sets. */
  mostNovel: { novelty: Novelty; id: string; perplexity: number; path: string };
  scores: DemoScores;
}

/** A scorer's scores (perplexities, or an ensemble's combined scores) on every demo set. */
export interface DemoScores {
  validNormal: Float64Array;
  validNovel: Record<string, Float64Array>;
  testNormal: Float64Array;
  testNovel: Record<string, Float64Array>;
}

function summaryOf(arg: string, format: string, seqs: readonly Sequence[]): DataSummary {
  const events = seqs.reduce((a, s) => a + s.events.length, 0);
  return { data: arg, format, sequences: seqs.length, events, truncated: seqs.filter((s) => s.truncated).length, droppedByCap: 0, lost: 0, skipped: 0, unassigned: 0 };
}

/**
 * Settings the demo gives a model kind beyond its defaults (as `train` options would: setting key → text); the
 * tests pass smaller ones.
 */
export type DemoSettings = Readonly<Record<string, ReadonlyMap<string, string>>>;

/** Fits one model kind on the split, sets both thresholds on validation data and evaluates on test data. */
export async function runDemoModel(kind: string, split: DemoSplit, given: ReadonlyMap<string, string> = new Map(), label = kind): Promise<ModelResult> {
  const t0 = performance.now();
  const entry = findModelKind(kind);
  if (!entry) throw new Error(`model kind '${kind}' is not registered`);
  const settings = resolveSettings(entry, new Map(given));
  const model = await (await entry.implementation()).fit({ train: passesOver(split.train), valid: passesOver(split.valid) }, settings);

  // The same pass gathers the prefix perplexities the saved folder stores for `watch` (as `train` does).
  const prefixes = model.incremental === undefined ? undefined : new PrefixCollector(storedLengths(READING.maxLength));
  // every set scored as `score` would: with the connection's history for a model that keeps one (timing --history)
  const scoresOf = async (seqs: readonly Sequence[], each?: LogProbsSink) => withHistory(model, seqs, await perplexityAll(model, seqs, each));
  const validNormal = await scoresOf(split.valid, prefixes?.add);
  const labelFree = fitQuantileThreshold(validNormal, QUANTILE);
  const validNovel: Record<string, Float64Array> = {};
  for (const nv of SCORED) validNovel[nv] = await scoresOf(split.novel[nv].valid);
  const bestOn = (novel: readonly number[]) => {
    const mix = Float64Array.from([...validNormal, ...novel]);
    return bestF1(mix, Array.from(mix, (_, i) => i >= validNormal.length));
  };
  /** Saved in the model folder: best F1 on normal validation vs every novel validation half (as `train --valid-novel`). */
  const pooled = bestOn(NOVELTIES.flatMap((nv) => [...validNovel[nv]]));

  const testNormal = await scoresOf(split.test);
  const testNovel: Record<string, Float64Array> = {};
  for (const nv of SCORED) testNovel[nv] = await scoresOf(split.novel[nv].test);
  const scores: DemoScores = { validNormal, validNovel, testNormal, testNovel };
  const top = mostNovelTest(scores, split);
  const rows = noveltyRows(scores, labelFree.value);
  const [control] = noveltyRows(scores, labelFree.value, [CONTROL]);
  const seconds = (performance.now() - t0) / 1000;
  const modelDir = await mkdtemp(join(tmpdir(), `syscall-anomaly-demo-${kind}-`));
  const trainSummary = summaryOf(demoSetPath('normal'), 'jsonl', split.train);
  await saveModelFolder(modelDir, model, {
    segmentation: { kind: READING.segmentation, maxLength: READING.maxLength },
    thresholds: {
      labelFree: { method: 'quantile', q: QUANTILE, value: labelFree.value, fittedOn: labelFree.fittedOn, on: 'validation' },
      bestF1: { value: pooled.threshold, f1: pooled.f1, precision: pooled.precision, recall: pooled.recall, normal: validNormal.length, novel: NOVELTIES.reduce((a, nv) => a + validNovel[nv].length, 0) },
    },
    training: {
      date: new Date().toISOString(), seconds: Math.round(seconds * 100) / 100, train: trainSummary, fitSequences: split.train.length, heldOut: 0,
      valid: summaryOf(demoSetPath('normal'), 'jsonl', split.valid),
      validNovel: summaryOf(NOVELTIES.map((nv) => demoSetPath(nv)).join(','), 'jsonl', NOVELTIES.flatMap((nv) => split.novel[nv].valid)),
    },
    input: { pairing: READING.pairing, formats: ['jsonl'] },
    // what `train` stores too: so that `evaluate`/`explain` take the folders as an ensemble and `watch` needs no data
    normalScores: normalStats(split.valid.map((x) => x.id), validNormal, 'validation'),
    ...(prefixes ? { prefixScores: prefixes.stored('validation') } : {}),
  });
  await model.release();
  return {
    label, kind, settings, modelDir, seconds,
    labelFreeThreshold: labelFree.value,
    rows, control: control!, mostNovel: { novelty: top.novelty, id: top.id, perplexity: top.score, path: top.path }, scores,
  };
}

/** The novel test request (control left out) with the highest score. */
function mostNovelTest(scores: DemoScores, split: DemoSplit): { novelty: Novelty; id: string; score: number; path: string } {
  let best: { novelty: Novelty; id: string; score: number; path: string } | undefined;
  for (const nv of NOVELTIES) {
    const seqs = split.novel[nv].test;
    scores.testNovel[nv]!.forEach((x, i) => {
      if (!best || x > best.score) best = { novelty: nv, id: seqs[i]!.id, score: x, path: split.novel[nv].path };
    });
  }
  if (best === undefined) throw new Error('no novel test requests');
  return best;
}

/** The per-novelty table of one scorer (a model or an ensemble): thresholds from validation, figures on test. */
export function noveltyRows(s: DemoScores, labelFree: number, sets: readonly ScoredSet[] = NOVELTIES): NoveltyRow[] {
  return sets.map((nv) => {
    const mix = Float64Array.from([...s.validNormal, ...s.validNovel[nv]!]);
    const best = bestF1(mix, Array.from(mix, (_, i) => i >= s.validNormal.length));
    const scores = Float64Array.from([...s.testNormal, ...s.testNovel[nv]!]);
    const labels = Array.from(scores, (_, i) => i >= s.testNormal.length);
    return {
      novelty: nv, normal: s.testNormal.length, novel: s.testNovel[nv]!.length,
      bestF1Threshold: best.threshold,
      f1: confusionAt(scores, labels, best.threshold).f1,
      f1LabelFree: confusionAt(scores, labels, labelFree).f1,
      auroc: rocAuc(scores, labels),
      detectionAt1Far: detectionAtFalseAlarmRate(scores, labels, FAR).recall,
    };
  });
}

export interface EnsembleResult {
  label: 'ensemble';
  members: string[];
  /** The members' model folders, in `members` order. */
  modelDirs: string[];
  /** The test request with the highest ensemble score among the novel sets. */
  mostNovel: { novelty: Novelty; id: string; score: number; path: string };
  /** Quantile `QUANTILE` of the ensemble's scores on normal validation. */
  labelFreeThreshold: number;
  rows: NoveltyRow[];
  control: NoveltyRow;
}

/**
 * The ensemble of some demo results (`detect/ensemble.ts`, `z`): each member's ln perplexity z-scored with its mean
 * and standard deviation on the normal validation requests, then averaged — as `evaluate --model a/ --model b/`
 * does with the statistics stored in the model folders.
 */
export function demoEnsemble(members: readonly ModelResult[], split: DemoSplit): EnsembleResult {
  const ids = split.valid.map((s) => s.id);
  const normalisers = members.map((m) => new Normaliser(normalStats(ids, m.scores.validNormal, 'validation'), 'z'));
  const combine = (pick: (s: DemoScores) => Float64Array) => combineScores(normalisers, members.map((m) => pick(m.scores)));
  const scores: DemoScores = {
    validNormal: combine((s) => s.validNormal), testNormal: combine((s) => s.testNormal),
    validNovel: Object.fromEntries(SCORED.map((nv) => [nv, combine((s) => s.validNovel[nv]!)])),
    testNovel: Object.fromEntries(SCORED.map((nv) => [nv, combine((s) => s.testNovel[nv]!)])),
  };
  // combined scores are already on the common scale: the label-free threshold is their own validation quantile
  const labelFree = fitQuantileThreshold(scores.validNormal, QUANTILE).value;
  return {
    label: 'ensemble', members: members.map((m) => m.label), modelDirs: members.map((m) => m.modelDir), mostNovel: mostNovelTest(scores, split),
    labelFreeThreshold: labelFree,
    rows: noveltyRows(scores, labelFree), control: noveltyRows(scores, labelFree, [CONTROL])[0]!,
  };
}

/** The `explain` command line for the most novel test request of a model result or an ensemble (its members' folders). */
export function explainCommandLine(r: ModelResult | EnsembleResult): string {
  const dirs = 'modelDirs' in r ? r.modelDirs : [r.modelDir];
  return `syscall-anomaly explain ${dirs.map((d) => `--model ${d}`).join(' ')} ${r.mostNovel.path} --sequence '${r.mostNovel.id}'`;
}

const f3 = (x: number) => (Number.isNaN(x) ? '–' : x.toFixed(3));
/** A best-F1 threshold; below every score it flags every request: `all`. */
const thr = (x: number) => (x === -Infinity ? 'all' : x.toPrecision(4));

/**
 * The rows of a per-novelty table, aligned, with the mean F1 and then the control (marked, outside the mean);
 * `score`: what the thresholds are on.
 */
function rowLines(rows: readonly NoveltyRow[], control: NoveltyRow, score: string): string[] {
  const head = ['novelty', 'normal', 'novel', 'F1 (best-F1 thr.)', `(${score} >)`, 'F1 (label-free thr.)', 'ROC AUC', 'detection @1% FA'];
  const cells = rows.map((x) => [
    x.novelty, String(x.normal), String(x.novel), f3(x.f1), thr(x.bestF1Threshold), f3(x.f1LabelFree), f3(x.auroc), f3(x.detectionAt1Far),
  ]);
  const mean = (k: 'f1' | 'f1LabelFree' | 'auroc' | 'detectionAt1Far') => f3(rows.reduce((a, x) => a + x[k], 0) / rows.length);
  cells.push(['mean', '', '', mean('f1'), '', mean('f1LabelFree'), mean('auroc'), mean('detectionAt1Far')]);
  const c = control;
  cells.push([`${c.novelty} (control)`, String(c.normal), String(c.novel), f3(c.f1), thr(c.bestF1Threshold), f3(c.f1LabelFree), f3(c.auroc), f3(c.detectionAt1Far)]);
  const width = head.map((h, i) => Math.max(h.length, ...cells.map((row) => row[i].length)));
  const line = (c: string[]) => c.map((x, i) => (i === 0 ? x.padEnd(width[i]) : x.padStart(width[i]))).join('  ');
  return [line(head), ...cells.map(line)];
}

const THRESHOLDS_LINE = 'best-F1 threshold: per novelty, on normal validation + that novelty\'s validation half';

export function ensembleTable(e: EnsembleResult): string {
  return [
    `ensemble of ${e.members.join(' + ')} (z: ln perplexity standardised on normal validation, averaged)`,
    `label-free threshold: score > ${e.labelFreeThreshold.toPrecision(5)} (quantile ${QUANTILE} of normal validation); ${THRESHOLDS_LINE}`,
    ...rowLines(e.rows, e.control, 'score'),
    `where to look: the ensemble's most novel test request is ${e.mostNovel.novelty} ${e.mostNovel.id} (score ${e.mostNovel.score.toPrecision(5)}):`,
    `  ${explainCommandLine(e)}`,
  ].join('\n') + '\n';
}

export function demoLmTable(r: ModelResult): string {
  const settings = formatSettings(r.settings);
  return [
    `${r.label === r.kind ? r.kind : `${r.label}: ${r.kind}`} (${settings}), trained and scored in ${r.seconds.toFixed(1)} s`,
    `label-free threshold: perplexity > ${r.labelFreeThreshold.toPrecision(5)} (quantile ${QUANTILE} of normal validation); ${THRESHOLDS_LINE}`,
    ...rowLines(r.rows, r.control, 'ppl'),
    `where to look: the most novel test request is ${r.mostNovel.novelty} ${r.mostNovel.id} (perplexity ${r.mostNovel.perplexity.toPrecision(5)}):`,
    `  ${explainCommandLine(r)}`,
  ].join('\n') + '\n';
}

/**
 * Runs the given demo models (labels, or kinds with their defaults) on the committed sample; `settings[kind]` applies
 * to every model of that kind, under the demo model's own settings.
 */
export async function runDemoLanguageModels(labels: readonly string[], settings: DemoSettings = {}): Promise<{ split: DemoSplit; results: ModelResult[] }> {
  const split = await loadDemoSplit();
  const results: ModelResult[] = [];
  for (const label of labels) {
    const m = demoModel(label);
    const given = new Map([...(settings[m.kind] ?? new Map<string, string>()), ...(m.settings ?? new Map<string, string>())]);
    results.push(await runDemoModel(m.kind, split, given, m.label));
  }
  return { split, results };
}

/** The demo: every registered model of `DEMO_MODELS` (or the given labels), a table per model or `--json`. */
export async function demoLanguageModels(json: boolean, kinds: readonly string[] = demoModelKinds(), settings: DemoSettings = {}): Promise<void> {
  const { split, results } = await runDemoLanguageModels(kinds, settings);
  const members = DEMO_ENSEMBLE.map((l) => results.find((r) => r.label === l));
  const ensemble = members.every((m) => m !== undefined) ? demoEnsemble(members as ModelResult[], split) : undefined;
  if (json) {
    const out: Record<string, unknown> = {};
    const controls: Record<string, unknown> = {};
    for (const r of [...results, ...(ensemble ? [ensemble] : [])]) {
      out[r.label] = r.rows.map((x) => ({ ...x, labelFreeThreshold: r.labelFreeThreshold }));
      controls[r.label] = { ...r.control, labelFreeThreshold: r.labelFreeThreshold };
    }
    const where = [
      ...results.map((r) => ({ model: r.label, ...r.mostNovel, explain: explainCommandLine(r) })),
      ...(ensemble ? [{ model: ensemble.label, ...ensemble.mostNovel, explain: explainCommandLine(ensemble) }] : []),
    ];
    process.stdout.write(JSON.stringify({ data: `data/${DEMO_LM_DIR}`, models: out, controls, mostNovel: where }, null, 2) + '\n');
    return;
  }
  const count = (nv: ScoredSet) => split.novel[nv].valid.length + split.novel[nv].test.length;
  process.stdout.write(
    `Demo: Apache (prefork, mod_php, OPcache) + MariaDB over HTTPS, recorded by the project itself with perf syscalls:*\n`
    + `(data/${DEMO_LM_DIR}/README.md says how), one sequence per HTTP request on a connection.\n`
    + `Normal: ${split.train.length} train / ${split.valid.length} validation / ${split.test.length} test sequences (split by time);\n`
    + `novel (half validation, half test): ${NOVELTIES.map((nv) => `${nv} ${count(nv)}`).join(', ')}. Scores on test data only.\n`
    + `Control: ${CONTROL} (${count(CONTROL)} requests), a second run of the normal server scored as if it were novel: a model\n`
    + 'that finds it novel tells server runs apart (worker pids, …), not behaviour.\n\n',
  );
  for (const r of results) process.stdout.write(demoLmTable(r) + '\n');
  if (ensemble) process.stdout.write(ensembleTable(ensemble) + '\n');
  process.stdout.write(
    'Root cause: run the explain line above (add --html out.html for the events coloured by surprise); it ranks the\n'
    + 'syscalls and fields that made the request novel.\n',
  );
}
