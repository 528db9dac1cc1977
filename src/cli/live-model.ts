/**
 * @module cli/live-model
 * The model `watch` and `serve` score with: one folder's, or an ensemble of several (`detect/ensemble-stream.ts`: a
 * z ensemble's "perplexity" is exp(ensemble score + C), and so are its thresholds; prefix thresholds come from the
 * members' stored prefix scores when they were taken on the same normal sequences, else from `--calibrate` or the
 * first member's validation data; a rank ensemble's is exp(ensemble score), for whole sequences only); `--combine`;
 * and their live baseline options (`--warm-up`, `--warm-up-skip`, `--warm-up-quantile`).
 */
import type { ExplainingModel, WarmUp } from '../detect/live.js';
import type { PerplexityReference } from '../detect/p-value.js';
import type { ModelManifest } from '../models/folder.js';
import { COMBINES, type Combine } from '../detect/ensemble.js';
import { UsageError } from './run.js';

/** What `--combine` says for `watch` and `serve`. */
export const LIVE_COMBINE = "ensembles: 'z' (mean of z-scores of ln perplexity; alerts on running sequences too) or 'rank' " +
  '(mean of normal-validation ranks; judges whole sequences, which alert when they end); default z';

/**
 * `--combine` of `watch` and `serve`: z (default) or rank, for ensembles only. A rank ensemble judges whole sequences,
 * so the options that set running sequences' alerts (`given`: flag → whether it was given) are refused with it.
 */
export function parseLiveCombine(models: readonly string[], text: string | undefined, given: RunningOptions): Combine {
  if (text === undefined) return 'z';
  if (models.length < 2) throw new UsageError('--combine applies to ensembles (give --model more than once)');
  if (!COMBINES.includes(text as Combine)) throw new UsageError(`--combine must be ${COMBINES.join(' or ')}, got '${text}'`);
  if (text === 'rank') refuseRunningOptions('a rank ensemble', given);
  return text as Combine;
}

/** The options that set the alerts of running sequences, each with whether it was given: `[flag, given]`. */
export type RunningOptions = readonly (readonly [string, boolean])[];

/**
 * Refuses the options that set running sequences' alerts (`given`) for `what`, a model that judges whole sequences
 * only (a rank ensemble; a timing or profile model, or an ensemble of them: `sequenceLevel`), whose running
 * sequences never alert: given, they would be ignored.
 */
export function refuseRunningOptions(what: string, given: RunningOptions): void {
  const clash = given.find(([, g]) => g);
  if (clash) throw new UsageError(`${clash[0]} sets the alerts of running sequences: ${what} judges whole sequences, which alert when they end`);
}

export interface OpenedModel {
  /** The model folder's manifest (an ensemble: the first member's, with the members' prefix scores combined). */
  manifest: ModelManifest;
  model: ExplainingModel;
  /** A threshold on the model's perplexity (an ensemble: exp(ensemble-score threshold + C)). */
  threshold: { name: string; value: number };
  /** The ensemble's members' labels (empty for one model). */
  members: string[];
  /** p-values of (model or ensemble) perplexities against the normal validation sequences, when they are stored. */
  reference: PerplexityReference | undefined;
}

/**
 * Opens `dirs` for `command`: one model folder, or an ensemble of several. `incremental`: one model must score event
 * by event (an ensemble's members always must: it is scored as one sum over events). `running`: the command's options
 * that set running sequences' alerts, refused for a model that judges whole sequences only (`sequenceLevel`).
 */
export async function openLiveModel(command: string, dirs: readonly string[], thresholdText: string, lenient: boolean,
  incremental: boolean, combine: Combine, running: RunningOptions): Promise<OpenedModel> {
  const score = await import('./score.js');
  const choice = score.parseThresholdChoice(thresholdText);
  if (dirs.length === 1) {
    const { manifest, model } = await (await import('../models/folder.js')).loadModelFolder(dirs[0]!);
    try {
      if (incremental && !model.incremental) throw new UsageError(`${dirs[0]}: model kind '${model.kind}' cannot score incrementally (${command} needs one that can)`);
      if (model.sequenceLevel) refuseRunningOptions(`the ${model.kind} model`, running);
    } catch (e) {
      await model.release();
      throw e;
    }
    const threshold = score.chooseThreshold(manifest, choice, dirs[0]!);
    const reference = score.referenceOf(manifest);
    return { manifest, model, threshold, members: [], reference: reference?.forPerplexity() };
  }
  const ens = await score.openEnsemble(dirs, combine, undefined, choice, lenient);
  try {
    const bad = ens.members.find((m) => !m.model.incremental);
    if (bad) throw new UsageError(`${bad.dir}: model kind '${bad.model.kind}' cannot score incrementally (an ensemble in ${command} needs members that can)`);
    const { EnsembleLiveModel } = await import('../detect/ensemble-stream.js');
    const labels = score.memberLabels(dirs);
    const model = new EnsembleLiveModel(ens.members.map((m, i) => ({ model: m.model, stats: ens.normalisers[i]!.stats, label: labels[i]! })), combine);
    if (model.sequenceLevel) refuseRunningOptions(`an ensemble of ${ens.members.map((m) => m.model.kind).join(' and ')} models`, running);
    process.stderr.write(`${command}: ensemble of ${dirs.join(' + ')} (${combine}); ` + (combine === 'rank'
      ? 'its perplexity is exp(ensemble score), of whole sequences: they alert when they end\n'
      : `its perplexity is exp(ensemble score + ${model.offset.toPrecision(6)})\n`));
    const first = ens.members[0]!.manifest;
    return {
      // the members' stored prefix scores, combined when they are paired (else the thresholds are calibrated on data)
      manifest: { ...first, prefixScores: model.prefixScores(ens.members.map((m) => m.manifest.prefixScores)) },
      model,
      threshold: { name: `ensemble: ${ens.threshold.name}`, value: model.perplexityThreshold(ens.threshold.value) },
      members: labels,
      reference: ens.reference?.forPerplexity((p) => model.scoreOf(p)),
    };
  } catch (e) {
    await score.releaseMembers(ens.members);
    throw e;
  }
}

/** What `--warm-up n`, `--warm-up-skip k` and `--warm-up-quantile q` ask for (checked by {@link parseWarmUp}). */
export interface WarmUpArgs {
  sequences: number;
  skip: number;
  /** Undefined: the model's label-free quantile. */
  q: number | undefined;
}

/**
 * The live baseline options of `watch` and `serve`, checked; undefined without `--warm-up`. The baseline sets the
 * thresholds, so it goes with `--threshold quantile` only (`sets` says what it sets, for the message) and not with
 * `--calibrate <data>` (the prefix thresholds).
 */
export function parseWarmUp(o: { warmUp?: string; warmUpSkip?: string; warmUpQuantile?: string }, threshold: string,
  calibrate: unknown, sets: string): WarmUpArgs | undefined {
  for (const [v, flag] of [[o.warmUpSkip, '--warm-up-skip'], [o.warmUpQuantile, '--warm-up-quantile']] as const) {
    if (v !== undefined && o.warmUp === undefined) throw new UsageError(`${flag} applies with --warm-up`);
  }
  if (o.warmUp === undefined) return undefined;
  if (threshold !== 'quantile') throw new UsageError(`--warm-up sets ${sets}: it does not go with --threshold ${threshold}`);
  if (typeof calibrate === 'string') throw new UsageError('--warm-up and --calibrate both set the prefix thresholds: give one');
  const count = (flag: string, text: string, min: number): number => {
    const v = Number(text);
    if (!/^\s*\d+\s*$/.test(text) || !Number.isSafeInteger(v) || v < min) throw new UsageError(`${flag} must be an integer >= ${min}, got '${text}'`);
    return v;
  };
  let q: number | undefined;
  if (o.warmUpQuantile !== undefined) {
    q = Number(o.warmUpQuantile);
    if (o.warmUpQuantile.trim() === '' || !(q > 0 && q <= 1)) throw new UsageError(`--warm-up-quantile must be a number in (0, 1], got '${o.warmUpQuantile}'`);
  }
  return { sequences: count('--warm-up', o.warmUp, 1), skip: o.warmUpSkip === undefined ? 0 : count('--warm-up-skip', o.warmUpSkip, 0), q };
}

/**
 * The live pipeline's baseline (`detect/live.ts`) for a model folder: the model's label-free quantile unless one was
 * given, prefix thresholds at `prefixQuantile` (none with `--no-calibrate`, or for a model of whole sequences).
 */
export function warmUpOf(a: WarmUpArgs | undefined, manifest: ModelManifest, calibrate: string | false | undefined,
  prefixQuantile: number, model: { sequenceLevel?: boolean }): WarmUp | undefined {
  const prefixes = calibrate !== false && model.sequenceLevel !== true; // a model of whole sequences has no prefix thresholds
  return a && { skip: a.skip, sequences: a.sequences, q: a.q ?? manifest.thresholds.labelFree.q, prefixQuantile: prefixes ? prefixQuantile : false };
}
