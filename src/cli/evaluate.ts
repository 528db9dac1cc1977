/**
 * @module cli/evaluate
 * `syscall-anomaly evaluate`: scores normal data and one or more named sets of novel data (attacks, new behaviour)
 * with a model folder and reports, per novel set against the normal data: accuracy, precision, recall and F1 at the
 * model's label-free threshold, the best-F1 threshold with its F1, ROC AUC, and the detection rate at a 1 % false-alarm
 * rate (on these normal sequences). Perplexity is the score everywhere; alarms are `perplexity > threshold`. Sequences
 * are scored in batches (`SCORE_BATCH`).
 *
 * With several `--model` folders (an ensemble, `detect/ensemble.ts`), every member and the ensemble are evaluated on
 * the same sequences (each read once), side by side, and each novel set says whether the ensemble's ROC AUC beats the
 * best single member's.
 */
import { openData, type DataSpec } from '../features/dataset.js';
import { bestF1, confusionAt, detectionAtFalseAlarmRate, rocAuc } from '../detect/metrics.js';
import { loadModelFolder, type DataSummary, type ModelManifest } from '../models/folder.js';
import { formatSettings, type LanguageModel, type ModelSettings } from '../models/language-model.js';
import { combineScores, type Combine } from '../detect/ensemble.js';
import { perplexities } from './train.js';
import { openEnsemble, perplexitiesMany, readingFor, releaseMembers } from './score.js';
import { UsageError } from './run.js';

export interface NovelSet {
  name: string;
  data: DataSpec;
}

/** False-alarm rate of the reported detection rate. */
export const FAR = 0.01;

export interface SetResult {
  data: DataSummary;
  auc: number;
  /** At the label-free threshold. */
  accuracy: number;
  precision: number;
  recall: number;
  f1: number;
  falseAlarmRate: number;
  bestF1: { threshold: number; f1: number; precision: number; recall: number };
  /** Detection rate (recall) at the lowest threshold whose false-alarm rate on the normal data is ≤ 1 %. */
  detectionAtFar: { far: number; threshold: number; detectionRate: number; falseAlarmRate: number };
}

export interface EvaluateResult {
  model: { dir: string; kind: string; settings: ModelSettings };
  threshold: { name: string; value: number };
  normal: { data: DataSummary; falseAlarmRate: number };
  sets: Record<string, SetResult>;
}

export async function evaluateModel(modelDir: string, normal: DataSpec, novel: readonly NovelSet[], lenient: boolean): Promise<EvaluateResult> {
  const { manifest, model } = await loadModelFolder(modelDir);
  try {
    return await evaluateLoaded(modelDir, manifest, model, normal, novel, lenient);
  } finally {
    await model.release();
  }
}

async function evaluateLoaded(modelDir: string, manifest: ModelManifest, model: LanguageModel, normal: DataSpec,
  novel: readonly NovelSet[], lenient: boolean): Promise<EvaluateResult> {
  const reading = readingFor(manifest, lenient);
  const th = manifest.thresholds.labelFree;
  const normalData = openData(normal, reading);
  const normalScores = await perplexities(model, normalData, 'normal: sequences');
  const normalSummary = normalData.summary();
  if (normalScores.length === 0) throw new UsageError(`${normal.arg}: no normal sequences`);
  const sets: Record<string, SetResult> = {};
  for (const set of novel) {
    const d = openData(set.data, reading);
    const novelScores = await perplexities(model, d, `${set.name}: sequences`);
    sets[set.name] = setResult(d.summary(), normalScores, novelScores, th.value);
  }
  return {
    model: { dir: modelDir, kind: manifest.kind, settings: manifest.settings },
    threshold: { name: `quantile ${th.q} of ${th.on} perplexity`, value: th.value },
    normal: { data: normalSummary, falseAlarmRate: falseAlarmRate(normalScores, th.value) },
    sets,
  };
}

function falseAlarmRate(normalScores: ArrayLike<number>, threshold: number): number {
  let fa = 0;
  for (let i = 0; i < normalScores.length; i++) if (normalScores[i] > threshold) fa++;
  return fa / normalScores.length;
}

/** The metrics of one novel set against the normal scores, alarms at `score > threshold`. */
function setResult(data: DataSummary, normalScores: ArrayLike<number>, novelScores: ArrayLike<number>, threshold: number): SetResult {
  const scores = Float64Array.from([...Array.from(normalScores), ...Array.from(novelScores)]);
  const labels = Array.from(scores, (_, i) => i >= normalScores.length);
  const at = confusionAt(scores, labels, threshold);
  const best = bestF1(scores, labels);
  const dr = detectionAtFalseAlarmRate(scores, labels, FAR);
  return {
    data,
    auc: rocAuc(scores, labels),
    accuracy: at.accuracy, precision: at.precision, recall: at.recall, f1: at.f1, falseAlarmRate: at.falseAlarmRate,
    bestF1: { threshold: best.threshold, f1: best.f1, precision: best.precision, recall: best.recall },
    detectionAtFar: { far: FAR, threshold: dr.threshold, detectionRate: dr.recall, falseAlarmRate: dr.falseAlarmRate },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Ensembles

export interface EnsembleEvaluateResult {
  ensemble: {
    combine: Combine;
    normalisation: string;
    threshold: { name: string; value: number; paired?: boolean };
    normal: { data: DataSummary; falseAlarmRate: number };
    sets: Record<string, SetResult>;
  };
  /** Each member alone on the same sequences, at its own label-free threshold. */
  members: EvaluateResult[];
  /** Per novel set: the best single member by ROC AUC, and whether the ensemble's AUC is higher. */
  comparison: Record<string, { bestMember: string; bestMemberAuc: number; ensembleAuc: number; beatsBestMember: boolean }>;
}

export interface EvaluateRequest {
  models: readonly string[];
  normal: DataSpec;
  novel: readonly NovelSet[];
  lenient: boolean;
  combine: Combine;
  /** Normal data for the ensemble's normalisation (instead of the statistics stored in the folders). */
  valid: DataSpec | undefined;
}

/** Scores the data once per member, then evaluates every member and the ensemble on the same sequences. */
export async function evaluateEnsemble(req: EvaluateRequest): Promise<EnsembleEvaluateResult> {
  const ens = await openEnsemble(req.models, req.combine, req.valid, 'quantile', req.lenient);
  try {
    const models = ens.members.map((m) => m.model);
    const reading = readingFor(ens.members[0].manifest, req.lenient);
    const normalData = openData(req.normal, reading);
    const normal = await perplexitiesMany(models, normalData, 'normal: sequences');
    if (normal.ids.length === 0) throw new UsageError(`${req.normal.arg}: no normal sequences`);
    const normalSummary = normalData.summary();
    const normalEns = combineScores(ens.normalisers, normal.ppl);
    const memberSets: Record<string, SetResult>[] = ens.members.map(() => ({}));
    const sets: Record<string, SetResult> = {};
    const comparison: EnsembleEvaluateResult['comparison'] = {};
    for (const set of req.novel) {
      const d = openData(set.data, reading);
      const nov = await perplexitiesMany(models, d, `${set.name}: sequences`);
      const summary = d.summary();
      ens.members.forEach((m, i) => {
        memberSets[i][set.name] = setResult(summary, normal.ppl[i], nov.ppl[i], m.manifest.thresholds.labelFree.value);
      });
      sets[set.name] = setResult(summary, normalEns, combineScores(ens.normalisers, nov.ppl), ens.threshold.value);
      let best = 0;
      memberSets.forEach((ms, i) => { if (ms[set.name].auc > memberSets[best][set.name].auc) best = i; });
      const bestAuc = memberSets[best][set.name].auc;
      comparison[set.name] = {
        bestMember: ens.members[best].dir, bestMemberAuc: bestAuc, ensembleAuc: sets[set.name].auc, beatsBestMember: sets[set.name].auc > bestAuc,
      };
    }
    return {
      ensemble: {
        combine: req.combine,
        normalisation: req.valid !== undefined ? `computed on ${req.valid.arg}` : 'stored in the model folders',
        threshold: ens.threshold,
        normal: { data: normalSummary, falseAlarmRate: falseAlarmRate(normalEns, ens.threshold.value) },
        sets,
      },
      members: ens.members.map((m, i) => {
        const th = m.manifest.thresholds.labelFree;
        return {
          model: { dir: m.dir, kind: m.manifest.kind, settings: m.manifest.settings },
          threshold: { name: `quantile ${th.q} of ${th.on} perplexity`, value: th.value },
          normal: { data: normalSummary, falseAlarmRate: falseAlarmRate(normal.ppl[i], th.value) },
          sets: memberSets[i],
        };
      }),
      comparison,
    };
  } finally {
    await releaseMembers(ens.members);
  }
}

const f3 = (x: number) => (Number.isNaN(x) ? '–' : x.toFixed(3));

export function evaluationTable(r: EvaluateResult): string {
  const head = ['set', 'sequences', 'AUC', 'accuracy', 'precision', 'recall', 'F1', 'best F1', '(at ppl >)', 'DR@1%FAR'];
  const rows = Object.entries(r.sets).map(([name, s]) => [
    name, String(s.data.sequences), f3(s.auc), f3(s.accuracy), f3(s.precision), f3(s.recall), f3(s.f1),
    // a best-F1 threshold below every score flags every sequence
    f3(s.bestF1.f1), s.bestF1.threshold === -Infinity ? 'all' : s.bestF1.threshold.toPrecision(4), f3(s.detectionAtFar.detectionRate),
  ]);
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(width[i]) : c.padStart(width[i]))).join('  ');
  const settings = formatSettings(r.model.settings);
  return [
    `model ${r.model.dir}: ${r.model.kind} (${settings})`,
    `normal ${r.normal.data.data}: ${r.normal.data.sequences} sequences; threshold perplexity > ${r.threshold.value.toPrecision(6)} ` +
      `(${r.threshold.name}) → ${(100 * r.normal.falseAlarmRate).toFixed(2)} % false alarms`,
    line(head),
    ...rows.map(line),
  ].join('\n') + '\n';
}

/** The ensemble table: one row per (set, model), the ensemble last, then whether it beats the best member. */
export function ensembleTable(r: EnsembleEvaluateResult): string {
  const head = ['set', 'model', 'sequences', 'AUC', 'precision', 'recall', 'F1', 'best F1', 'DR@1%FAR'];
  const rows: string[][] = [];
  const row = (set: string, name: string, s: SetResult) => [set, name, String(s.data.sequences), f3(s.auc), f3(s.precision), f3(s.recall),
    f3(s.f1), f3(s.bestF1.f1), f3(s.detectionAtFar.detectionRate)];
  for (const set of Object.keys(r.ensemble.sets)) {
    r.members.forEach((m) => rows.push(row(set, `${m.model.kind} ${m.model.dir}`, m.sets[set])));
    rows.push(row(set, `ensemble (${r.ensemble.combine})`, r.ensemble.sets[set]));
  }
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((x) => x[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(width[i]) : c.padStart(width[i]))).join('  ');
  const th = r.ensemble.threshold;
  const out = [
    `ensemble of ${r.members.length} models, ${r.ensemble.combine === 'z' ? 'z-scored' : 'rank-averaged'} on normal validation scores (${r.ensemble.normalisation})`,
    ...r.members.map((m) => `  ${m.model.dir}: ${m.model.kind} (${formatSettings(m.model.settings)}); ` +
      `threshold perplexity > ${m.threshold.value.toPrecision(6)} → ${(100 * m.normal.falseAlarmRate).toFixed(2)} % false alarms`),
    `normal ${r.ensemble.normal.data.data}: ${r.ensemble.normal.data.sequences} sequences; ensemble threshold ${th.value.toPrecision(6)} ` +
      `(${th.name}) → ${(100 * r.ensemble.normal.falseAlarmRate).toFixed(2)} % false alarms`,
    line(head),
    ...rows.map(line),
  ];
  for (const [set, c] of Object.entries(r.comparison)) {
    out.push(`${set}: ensemble AUC ${f3(c.ensembleAuc)} ${c.beatsBestMember ? 'beats' : 'does not beat'} the best single model ` +
      `(${c.bestMember}, ${f3(c.bestMemberAuc)})`);
  }
  return out.join('\n') + '\n';
}

export async function evaluateCommand(modelDir: string, normal: DataSpec, novel: readonly NovelSet[], json: boolean, lenient: boolean): Promise<void> {
  const r = await evaluateModel(modelDir, normal, novel, lenient);
  process.stdout.write(json ? JSON.stringify(r, null, 1) + '\n' : evaluationTable(r));
}

export async function evaluateCommandMany(req: EvaluateRequest, json: boolean): Promise<void> {
  if (req.models.length === 1) {
    if (req.valid !== undefined) throw new UsageError('--valid applies to ensembles (several --model)');
    return evaluateCommand(req.models[0], req.normal, req.novel, json, req.lenient);
  }
  const r = await evaluateEnsemble(req);
  process.stdout.write(json ? JSON.stringify(r, null, 1) + '\n' : ensembleTable(r));
}
