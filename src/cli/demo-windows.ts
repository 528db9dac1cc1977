/**
 * @module cli/demo-windows
 * `syscall-anomaly demo --windows`: the supervised-window job on the committed MySQL sample (`data/mysql/*.saws`,
 * one window set per recorded run of MariaDB under normal, CPU-starved and memory-starved conditions; see
 * `data/mysql/README.md`). Grouped cross-validation by run (no run in both train and test), every model with
 * min-max normalisation + Fisher top-k selection, then the table and the syscalls that separate the conditions.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { crossValidate, type CrossValidationResult } from '../detect/classification.js';
import { Pipeline } from '../features/preprocess/pipeline.js';
import { projectData } from '../testing/paths.js';
import {
  comparisonJson, describePreparation, fisherRanking, foldsFor, formatComparisonTable, formatRanking, IdSpace, loadWindowData,
  MODEL_NAMES, modelSpec, preparationStages, type Preparation,
} from './classify.js';

export const DEMO_WINDOWS_DIR = 'mysql';
/** Folds of the demo's grouped cross-validation (the sample has 3 runs per condition). */
export const DEMO_FOLDS = 3;
export const DEMO_FISHER_K = 10;

/** The committed window sets, sorted by name. */
export function demoWindowSets(): string[] {
  const dir = projectData(DEMO_WINDOWS_DIR);
  return readdirSync(dir).filter((f) => f.endsWith('.saws')).sort().map((f) => join(dir, f));
}

/** Cross-validates every model with min-max + Fisher top-k on the committed sample. */
export async function runDemoWindows(): Promise<{ rows: CrossValidationResult[]; classNames: string[]; ranking: { name: string; score: number }[]; windows: number; groups: number; sets: string[] }> {
  const sets = demoWindowSets();
  const { data } = loadWindowData(sets, new IdSpace());
  const prep: Preparation = { normalize: 'minmax', balance: undefined, fisherK: DEMO_FISHER_K, seed: 0 };
  const folds = foldsFor(data, DEMO_FOLDS, prep.seed);
  const rows: CrossValidationResult[] = [];
  for (const m of MODEL_NAMES) {
    rows.push(await crossValidate(data.X, data.y, folds, modelSpec(m, prep.seed), () => new Pipeline(preparationStages(prep, true)), describePreparation(prep, true)));
  }
  return {
    rows, classNames: data.classNames, ranking: fisherRanking(data, prep, DEMO_FISHER_K), windows: data.X.rows,
    groups: new Set(data.groups).size, sets,
  };
}

export async function demoWindows(json: boolean): Promise<void> {
  const r = await runDemoWindows();
  if (json) {
    process.stdout.write(JSON.stringify({
      data: 'data/mysql', windows: r.windows, groups: r.groups, classes: r.classNames, folds: DEMO_FOLDS,
      preparation: r.rows[0]?.variant, models: comparisonJson(r.rows, r.classNames), fisher: r.ranking,
    }, null, 2) + '\n');
    return;
  }
  const best = [...r.rows].sort((a, b) => b.report.macroF1 - a.report.macroF1)[0];
  process.stdout.write(
    `Demo: MariaDB under sysbench, recorded by the project itself (data/mysql/README.md says how):\n`
    + `${r.windows} windows of mariadbd syscalls from ${r.groups} runs, classes ${r.classNames.join(', ')}.\n`
    + `Grouped ${DEMO_FOLDS}-fold cross-validation by run, preparation ${r.rows[0]?.variant}.\n\n`
    + formatComparisonTable(r.rows) + '\n\n'
    + `best: ${best.model}, macro-F1 ${best.report.macroF1.toFixed(4)}\n\n`
    + `syscalls that separate the conditions best (Fisher score, all runs):\n${formatRanking(r.ranking)}\n`
    + 'Try it on your own traces: syscall-anomaly windows <trace> --label L --group RUN -o run.saws; '
    + 'syscall-anomaly classify --train *.saws --compare\n',
  );
}
