/**
 * @module cli/evaluate
 * `syscall-anomaly evaluate`: scores normal data and one or more named sets of novel data (attacks, new behaviour)
 * with a model folder and reports, per novel set against the normal data: accuracy, precision, recall and F1 at the
 * model's label-free threshold, the best-F1 threshold with its F1, ROC AUC, and the detection rate at a 1 % false-alarm
 * rate (on these normal sequences). Perplexity is the score everywhere; alarms are `perplexity > threshold`. Sequences
 * are scored in batches (`SCORE_BATCH`).
 */
import { openData, type DataSpec } from '../features/dataset.js';
import { bestF1, confusionAt, detectionAtFalseAlarmRate, rocAuc } from '../detect/metrics.js';
import { loadModelFolder, type DataSummary, type ModelManifest } from '../models/folder.js';
import type { LanguageModel, ModelSettings } from '../models/language-model.js';
import { perplexities } from './train.js';
import { readingFor } from './score.js';
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
  let fa = 0;
  for (const s of normalScores) if (s > th.value) fa++;
  const sets: Record<string, SetResult> = {};
  for (const set of novel) {
    const d = openData(set.data, reading);
    const novelScores = await perplexities(model, d, `${set.name}: sequences`);
    const scores = Float64Array.from([...normalScores, ...novelScores]);
    const labels = Array.from(scores, (_, i) => i >= normalScores.length);
    const at = confusionAt(scores, labels, th.value);
    const best = bestF1(scores, labels);
    const dr = detectionAtFalseAlarmRate(scores, labels, FAR);
    sets[set.name] = {
      data: d.summary(),
      auc: rocAuc(scores, labels),
      accuracy: at.accuracy, precision: at.precision, recall: at.recall, f1: at.f1, falseAlarmRate: at.falseAlarmRate,
      bestF1: { threshold: best.threshold, f1: best.f1, precision: best.precision, recall: best.recall },
      detectionAtFar: { far: FAR, threshold: dr.threshold, detectionRate: dr.recall, falseAlarmRate: dr.falseAlarmRate },
    };
  }
  return {
    model: { dir: modelDir, kind: manifest.kind, settings: manifest.settings },
    threshold: { name: `quantile ${th.q} of ${th.on} perplexity`, value: th.value },
    normal: { data: normalSummary, falseAlarmRate: fa / normalScores.length },
    sets,
  };
}

const f3 = (x: number) => (Number.isNaN(x) ? '–' : x.toFixed(3));

export function evaluationTable(r: EvaluateResult): string {
  const head = ['set', 'sequences', 'AUC', 'accuracy', 'precision', 'recall', 'F1', 'best F1', '(at ppl >)', 'DR@1%FAR'];
  const rows = Object.entries(r.sets).map(([name, s]) => [
    name, String(s.data.sequences), f3(s.auc), f3(s.accuracy), f3(s.precision), f3(s.recall), f3(s.f1),
    f3(s.bestF1.f1), s.bestF1.threshold.toPrecision(4), f3(s.detectionAtFar.detectionRate),
  ]);
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(width[i]) : c.padStart(width[i]))).join('  ');
  const settings = Object.entries(r.model.settings).map(([k, v]) => `${k} ${v}`).join(', ');
  return [
    `model ${r.model.dir}: ${r.model.kind} (${settings})`,
    `normal ${r.normal.data.data}: ${r.normal.data.sequences} sequences; threshold perplexity > ${r.threshold.value.toPrecision(6)} ` +
      `(${r.threshold.name}) → ${(100 * r.normal.falseAlarmRate).toFixed(2)} % false alarms`,
    line(head),
    ...rows.map(line),
  ].join('\n') + '\n';
}

export async function evaluateCommand(modelDir: string, normal: DataSpec, novel: readonly NovelSet[], json: boolean, lenient: boolean): Promise<void> {
  const r = await evaluateModel(modelDir, normal, novel, lenient);
  process.stdout.write(json ? JSON.stringify(r, null, 1) + '\n' : evaluationTable(r));
}
