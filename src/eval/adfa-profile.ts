/**
 * @module eval/adfa-profile
 * `npm run eval -- profile`: the call-profile model (`models/profile/`) beside the LSTM on ADFA-LD, as a user gets
 * them with the commands: `train --model lstm` and `train --model profile` on Training_Data_Master (defaults: one
 * trace in ten held out), then `evaluate --model lstm/ --model profile/` (z ensemble, normalised with the held-out
 * scores stored in the folders) on Validation against all attacks and each attack kind. Prints ROC AUC and the
 * detection rate at 1 % false alarms for each model alone and for the ensemble. About two minutes.
 *
 * Run: `npm run eval -- profile`, or `node dist/eval/adfa-profile.js [SETTING=VALUE …]` with LSTM settings (e.g. the
 * ADFA settings of docs/adfa-ld.md: `hidden=256 chunk=32 batch=16 lr=0.01 dropout=0.3 epochs=20 patience=3
 * positionDim=0`).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { evaluateEnsemble, type SetResult } from '../cli/evaluate.js';
import type { ModelSettings } from '../models/language-model.js';
import { sharedData } from '../testing/paths.js';
import { ADFA_ATTACKS, adfaNovelSets, adfaSubset, parseRunArgs, trainOnAdfa } from './adfa-lstm.js';

export interface ProfileRunResult {
  /** Column label → novel set → its result (`lstm`, `profile`, `ensemble (z)`). */
  columns: Record<string, Record<string, SetResult>>;
  seconds: { train: number; evaluate: number };
}

/** Trains both models into temporary folders and evaluates them alone and together. */
export async function evaluateProfileOnAdfa(datasetPath: string, lstm: ModelSettings): Promise<ProfileRunResult> {
  const root = await mkdtemp(join(tmpdir(), 'syscall-anomaly-adfa-profile-'));
  try {
    const t0 = performance.now();
    const dirs = [join(root, 'lstm'), join(root, 'profile')];
    const profile = parseRunArgs(['kind=profile']).settings;
    for (const [kind, settings, dir] of [['lstm', lstm, dirs[0]!], ['profile', profile, dirs[1]!]] as const) {
      const { model } = await trainOnAdfa(datasetPath, kind, settings, dir);
      await model.release();
    }
    const t1 = performance.now();
    const r = await evaluateEnsemble({
      models: dirs, normal: adfaSubset(datasetPath, 'Validation_Data_Master'), novel: adfaNovelSets(datasetPath), lenient: false, combine: 'z', valid: undefined,
    });
    return {
      columns: { lstm: r.members[0]!.sets, profile: r.members[1]!.sets, 'ensemble (z)': r.ensemble.sets },
      seconds: { train: (t1 - t0) / 1000, evaluate: (performance.now() - t1) / 1000 },
    };
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

/** The table: one row per attack kind and all, AUC (detection at 1 % false alarms) per column. */
export function formatProfileRun(r: ProfileRunResult): string {
  const cols = Object.keys(r.columns);
  const cell = (c: string, set: string) => {
    const s = r.columns[c]![set]!;
    return `${s.auc.toFixed(3)} (${s.detectionAtFar.detectionRate.toFixed(3)})`.padStart(Math.max(c.length, 13));
  };
  return [
    'ADFA-LD, trained on Training_Data_Master: ROC AUC of Validation against attacks (detection at 1 % false alarms)',
    `${'attack kind'.padEnd(17)}  ${cols.map((c) => c.padStart(Math.max(c.length, 13))).join('  ')}`,
    ...[...ADFA_ATTACKS, 'attack'].map((set) => `${(set === 'attack' ? 'all' : set).padEnd(17)}  ${cols.map((c) => cell(c, set)).join('  ')}`),
    `seconds: train ${r.seconds.train.toFixed(0)}, evaluate ${r.seconds.evaluate.toFixed(0)}`,
  ].join('\n');
}

/** `npm run eval` section: the LSTM with its defaults (or `lstm` settings), the profile model, their ensemble. */
export async function evalAdfaProfile(lstm?: ModelSettings): Promise<ProfileRunResult> {
  const r = await evaluateProfileOnAdfa(sharedData('adfa-ld', 'ADFA-LD.zip'), lstm ?? parseRunArgs(['kind=lstm']).settings);
  console.log(formatProfileRun(r));
  return r;
}

if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await evalAdfaProfile(parseRunArgs(['kind=lstm', ...process.argv.slice(2)]).settings);
}
