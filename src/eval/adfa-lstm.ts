/**
 * @module eval/adfa-lstm
 * A language model on ADFA-LD (Creech & Hu) exactly as a user gets it with the default settings: `train --model lstm
 * --train ADFA-LD.zip:Training_Data_Master -o m/` (one trace in ten held out for early stopping and the label-free
 * threshold), then `evaluate --model m/ --normal …:Validation_Data_Master --novel attack=…:Attack_Data_Master` and
 * one `--novel` set per attack kind — the same functions the commands run (`cli/train.ts`, `cli/evaluate.ts`), so
 * the figures are the commands' figures. Every trace is scored by its perplexity (mean surprise per predicted token).
 * Reports ROC AUC of all validation traces against all attacks and against each attack kind, the detection rate at
 * 1 % false alarms, the label-free threshold's false alarms and F1, training time and the load average.
 * Anchors: our n-gram 0.84 (`detect/adfa-eval.ts`), the published LSTM ensemble 0.928 (Kim et al., 2016).
 *
 * Run: `node dist/eval/adfa-lstm.js [kind=lstm] [SETTING=VALUE …]`, settings as the `train` options of that model
 * kind name them in the model folder (e.g. `hidden=128 epochs=6`); without any, the kind's defaults.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { realpathSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { evaluateModel, type EvaluateResult, type NovelSet } from '../cli/evaluate.js';
import { DEFAULT_MAX_LEN } from '../cli/lm-commands.js';
import { trainModel } from '../cli/train.js';
import { parseDataArg } from '../features/dataset.js';
import { findModelKind, modelKindNames, resolveSettings, type ModelSettings, type SettingValue } from '../models/language-model.js';
import { sharedData } from '../testing/paths.js';

/** The attack kinds of ADFA-LD's `Attack_Data_Master` (each a set of numbered folders). */
export const ADFA_ATTACKS = ['Adduser', 'Hydra_FTP', 'Hydra_SSH', 'Java_Meterpreter', 'Meterpreter', 'Web_Shell'] as const;

export interface AdfaRunResult {
  kind: string;
  /** Every setting, defaults filled in, as saved in the model folder. */
  settings: ModelSettings;
  /** What the model says of itself (vocabulary, parameters, epochs run, best held-out loss…). */
  model: Record<string, SettingValue>;
  fitSequences: number;
  heldOut: number;
  validationTraces: number;
  attackTraces: number;
  /** ROC AUC, score = perplexity: all validation traces vs all attacks, and vs each attack kind. */
  auc: number;
  aucByKind: Record<string, number>;
  /** Detection rate at ≤ 1 % false alarms on the validation traces (all attacks; each kind). */
  detectionAt1: number;
  detectionAt1ByKind: Record<string, number>;
  /** At the label-free threshold (0.99 quantile of the held-out training traces): false alarms on Validation, F1 on all attacks. */
  labelFree: { threshold: number; falseAlarmRate: number; detectionRate: number; f1: number };
  seconds: { train: number; evaluate: number };
  /** 1-minute load average at the start, after training and at the end. */
  load: [number, number, number];
}

/** `Subset` of the dataset at `datasetPath` (zip or folder) as a data argument, e.g. `Training_Data_Master`. */
export const adfaSubset = (datasetPath: string, subset: string) => parseDataArg(`${datasetPath}:${subset}`);

/** The novel sets every ADFA-LD evaluation scores: all attacks, then each attack kind. */
export const adfaNovelSets = (datasetPath: string): NovelSet[] => [
  { name: 'attack', data: adfaSubset(datasetPath, 'Attack_Data_Master') },
  ...ADFA_ATTACKS.map((a) => ({ name: a, data: adfaSubset(datasetPath, `Attack_Data_Master/${a}`) })),
];

/** `train --model KIND --train …:Training_Data_Master -o dir` (defaults: one trace in ten held out, quantile 0.99). */
export function trainOnAdfa(datasetPath: string, kind: string, settings: ModelSettings, dir: string): ReturnType<typeof trainModel> {
  return trainModel({
    kind, settings, train: adfaSubset(datasetPath, 'Training_Data_Master'), valid: undefined, validNovel: undefined, segmentation: 'trace',
    maxLength: DEFAULT_MAX_LEN, quantile: 0.99, lenient: false, output: dir,
  });
}

/** Trains with `settings` into a temporary model folder, evaluates it as described in the module header. */
export async function evaluateOnAdfa(datasetPath: string, kind: string, settings: ModelSettings): Promise<AdfaRunResult> {
  const dir = await mkdtemp(join(tmpdir(), `syscall-anomaly-adfa-${kind}-`));
  try {
    const load0 = loadavg()[0]!;
    const t0 = performance.now();
    const { model, manifest } = await trainOnAdfa(datasetPath, kind, settings, dir);
    await model.release();
    const t1 = performance.now();
    const load1 = loadavg()[0]!;
    const r: EvaluateResult = await evaluateModel(dir, adfaSubset(datasetPath, 'Validation_Data_Master'), adfaNovelSets(datasetPath), false);
    const t2 = performance.now();
    const all = r.sets['attack']!;
    const byKind = (pick: (s: EvaluateResult['sets'][string]) => number) =>
      Object.fromEntries(ADFA_ATTACKS.map((a) => [a, pick(r.sets[a]!)]));
    return {
      kind, settings: manifest.settings, model: manifest.model,
      fitSequences: manifest.training.fitSequences, heldOut: manifest.training.heldOut,
      validationTraces: r.normal.data.sequences, attackTraces: all.data.sequences,
      auc: all.auc, aucByKind: byKind((s) => s.auc),
      detectionAt1: all.detectionAtFar.detectionRate, detectionAt1ByKind: byKind((s) => s.detectionAtFar.detectionRate),
      labelFree: { threshold: r.threshold.value, falseAlarmRate: r.normal.falseAlarmRate, detectionRate: all.recall, f1: all.f1 },
      seconds: { train: (t1 - t0) / 1000, evaluate: (t2 - t1) / 1000 },
      load: [load0, load1, loadavg()[0]!],
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The model kind and its settings from `key=value` arguments: `kind=` picks the model kind (default lstm), every other
 * key is a setting of that kind, parsed as its `train` option parses it. Throws RangeError naming a bad argument.
 */
export function parseRunArgs(args: readonly string[]): { kind: string; settings: ModelSettings } {
  let kind = 'lstm';
  const given = new Map<string, string>();
  for (const a of args) {
    const eq = a.indexOf('=');
    if (eq <= 0) throw new RangeError(`expected key=value, got '${a}'`);
    const [k, v] = [a.slice(0, eq), a.slice(eq + 1)];
    if (k === 'kind') kind = v;
    else given.set(k, v);
  }
  const entry = findModelKind(kind);
  if (!entry) throw new RangeError(`kind=${kind}: unknown model kind (known: ${modelKindNames().join(', ')})`);
  return { kind, settings: resolveSettings(entry, given) };
}

/** The result as text: settings, model, the AUC table by attack kind, the label-free operating point, times. */
export function formatAdfaRun(r: AdfaRunResult): string {
  const row = (name: string, auc: number, det: number) => `${name.padEnd(17)}  ${auc.toFixed(4).padStart(7)}  ${det.toFixed(3).padStart(19)}`;
  const lf = r.labelFree;
  return [
    `ADFA-LD, ${r.kind} (default settings unless given): ${r.fitSequences} training traces, ${r.heldOut} held out; ` +
      `${r.validationTraces} validation, ${r.attackTraces} attack traces`,
    `settings: ${Object.entries(r.settings).map(([k, v]) => `${k}=${v}`).join(' ')}`,
    `model: ${Object.entries(r.model).map(([k, v]) => `${k}=${v}`).join(' ')}`,
    `attack kind            AUC  detection @ 1 % FA`,
    ...ADFA_ATTACKS.map((a) => row(a, r.aucByKind[a]!, r.detectionAt1ByKind[a]!)),
    row('all', r.auc, r.detectionAt1),
    `label-free threshold (perplexity ${lf.threshold.toFixed(3)}): false alarms ${lf.falseAlarmRate.toFixed(3)} on Validation, ` +
      `detection ${lf.detectionRate.toFixed(3)}, F1 ${lf.f1.toFixed(3)}`,
    `seconds: train ${r.seconds.train.toFixed(0)}, evaluate ${r.seconds.evaluate.toFixed(0)}; ` +
      `load average ${r.load.map((x) => x.toFixed(2)).join(' -> ')}`,
  ].join('\n');
}

/** `npm run eval` section: the LSTM with its default settings (or `kind`/`settings`); prints the table. */
export async function evalAdfaLstm(kind = 'lstm', settings?: ModelSettings): Promise<AdfaRunResult> {
  const s = settings ?? parseRunArgs([`kind=${kind}`]).settings;
  const r = await evaluateOnAdfa(sharedData('adfa-ld', 'ADFA-LD.zip'), kind, s);
  console.log(formatAdfaRun(r));
  return r;
}

if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { kind, settings } = parseRunArgs(process.argv.slice(2));
  console.log(JSON.stringify(await evalAdfaLstm(kind, settings)));
}
