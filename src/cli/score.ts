/**
 * @module cli/score
 * `syscall-anomaly score`: loads a model folder, cuts the data into sequences as the model was trained (ADFA-LD
 * subsets: one per trace), and prints one line per sequence — id, length (events), perplexity, novel yes/no at the
 * chosen threshold — as they are scored (in batches of `SCORE_BATCH` sequences; or one JSON document with `--json`),
 * then a count of novel sequences on stderr. Also the helpers the other model commands share: the threshold choice
 * and how to read data for a model.
 *
 * Several `--model` folders make an ensemble (`detect/ensemble.ts`): the models must cut data the same way (same
 * segmentation, length cap and pairing: checked on the manifests); each scores every sequence, their perplexities
 * are normalised with each model's normal validation statistics (stored at train time, or computed here from
 * `--valid` data) and averaged (`--combine z|rank`); a line then shows the ensemble score and each member's
 * perplexity.
 */
import { basename, resolve } from 'node:path';
import { openData, type DataSpec, type Reading } from '../features/dataset.js';
import type { Sequence } from '../features/sequences/sequence.js';
import { combineScores, ensembleThreshold, Normaliser, pairedScores, type Combine } from '../detect/ensemble.js';
import { NormalReference } from '../detect/p-value.js';
import { loadModelFolder, type ModelManifest } from '../models/folder.js';
import { historyOf, perplexityPass } from '../detect/history.js';
import { inBatches, scoreStream, type LanguageModel } from '../models/language-model.js';
import { normalStats, type NormalScoreStats } from '../models/normal-scores.js';
import { progress, UsageError } from './run.js';

/** Which threshold decides "novel": the label-free quantile, the best-F1 one (when the model has it), or a value. */
export type ThresholdChoice = 'quantile' | 'best-f1' | number;

export function parseThresholdChoice(text: string): ThresholdChoice {
  if (text === 'quantile' || text === 'best-f1') return text;
  const v = Number(text);
  if (text.trim() === '' || Number.isNaN(v)) throw new UsageError(`--threshold must be 'quantile', 'best-f1' or a perplexity, got '${text}'`);
  return v;
}

export interface ChosenThreshold {
  name: string;
  value: number;
}

export function chooseThreshold(manifest: ModelManifest, choice: ThresholdChoice, dir: string): ChosenThreshold {
  if (typeof choice === 'number') return { name: 'given', value: choice };
  if (choice === 'best-f1') {
    const b = manifest.thresholds.bestF1;
    if (!b) throw new UsageError(`${dir}: the model has no best-F1 threshold (train it with --valid-novel)`);
    return { name: 'best-f1', value: b.value };
  }
  const q = manifest.thresholds.labelFree;
  return { name: `quantile ${q.q} of ${q.on} perplexity`, value: q.value };
}

/** How to read data for a model: its segmentation, length cap and pairing. */
export function readingFor(manifest: ModelManifest, lenient: boolean): Reading {
  return { segmentation: manifest.segmentation.kind, maxLength: manifest.segmentation.maxLength, pairing: manifest.input.pairing, lenient };
}

export interface ScoredSequence {
  id: string;
  length: number;
  truncated: boolean;
  perplexity: number;
  novel: boolean;
  /** Conformal p-value against the normal validation scores (`detect/p-value.ts`); absent without them. */
  pValue?: number;
}

/** The normal reference p-values are taken against: the folder's stored normal scores (older folders: none). */
export function referenceOf(manifest: ModelManifest): NormalReference | undefined {
  return manifest.normalScores ? NormalReference.ofModel(manifest.normalScores) : undefined;
}

/** An ensemble's normal reference: its own scores on the members' paired validation sequences (unpaired: none). */
export function ensembleReference(normalisers: readonly Normaliser[]): NormalReference | undefined {
  const scores = pairedScores(normalisers);
  const first = normalisers[0]!.stats;
  return scores ? new NormalReference(scores, `${scores.length} normal ${first.on} sequences, by ensemble score`) : undefined;
}

/** A reader that stops early (`score … | head`) ends the command quietly instead of with an EPIPE error. */
function stopOnClosedStdout(): void {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Ensembles

export interface Member {
  dir: string;
  manifest: ModelManifest;
  model: LanguageModel;
}

/** Throws a UsageError unless every manifest cuts data the same way as the first. */
export function checkSameSegmentation(dirs: readonly string[], manifests: readonly ModelManifest[]): void {
  const key = (m: ModelManifest) => `${m.segmentation.kind}, at most ${m.segmentation.maxLength} events, ${m.input.pairing} events`;
  for (let i = 1; i < manifests.length; i++) {
    if (key(manifests[i]) !== key(manifests[0])) {
      throw new UsageError(`the models of an ensemble must share a segmentation: ${dirs[0]} has ${key(manifests[0])}, ` +
        `${dirs[i]} has ${key(manifests[i])}`);
    }
  }
}

/** Loads the model folders of an ensemble (releasing what was loaded when one fails) and checks their segmentation. */
export async function loadMembers(dirs: readonly string[]): Promise<Member[]> {
  const dup = dirs.find((d, i) => dirs.indexOf(d) !== i);
  if (dup !== undefined) throw new UsageError(`--model ${dup} is given twice`);
  const out: Member[] = [];
  try {
    for (const dir of dirs) {
      const { manifest, model } = await loadModelFolder(dir);
      out.push({ dir, manifest, model });
      checkSameSegmentation(out.map((m) => m.dir), out.map((m) => m.manifest));
    }
  } catch (e) {
    await releaseMembers(out);
    throw e;
  }
  return out;
}

/** A member's label: its folder's last path part, or the whole path where two would share one. */
export function memberLabels(dirs: readonly string[]): string[] {
  const base = dirs.map((d) => basename(resolve(d)));
  return dirs.map((d, i) => (base.filter((b) => b === base[i]).length > 1 ? d : base[i]!));
}

export async function releaseMembers(members: readonly Member[]): Promise<void> {
  for (const m of members) await m.model.release();
}

/** Each member's perplexity of each sequence of a stream (with its connection's history where the member keeps one), batch by batch (`SCORE_BATCH`). */
export async function* scoreStreamMany(models: readonly LanguageModel[], seqs: AsyncIterable<Sequence>): AsyncGenerator<{ seq: Sequence; perplexities: number[] }> {
  const pass = perplexityPass(models);
  for await (const batch of inBatches(seqs)) {
    const per = await pass(batch);
    for (let i = 0; i < batch.length; i++) yield { seq: batch[i], perplexities: per[i] };
  }
}

/** Every member's perplexities of a stream: `[member][sequence]`, and the sequence ids. */
export async function perplexitiesMany(models: readonly LanguageModel[], seqs: AsyncIterable<Sequence>, label: string): Promise<{ ids: string[]; ppl: Float64Array[] }> {
  const p = progress(label);
  const ids: string[] = [];
  const ppl: number[][] = models.map(() => []);
  for await (const r of scoreStreamMany(models, seqs)) {
    ids.push(r.seq.id);
    r.perplexities.forEach((x, m) => ppl[m].push(x));
    p.tick(ids.length);
  }
  p.done();
  return { ids, ppl: ppl.map((a) => Float64Array.from(a)) };
}

/**
 * Each member's normal score statistics: computed on `valid` (normal data) when given, else the ones stored in its
 * folder (a clear error for a folder written before ensembles).
 */
export async function memberStats(members: readonly Member[], valid: DataSpec | undefined, lenient: boolean): Promise<NormalScoreStats[]> {
  if (valid !== undefined) {
    const src = openData(valid, readingFor(members[0].manifest, lenient));
    const { ids, ppl } = await perplexitiesMany(members.map((m) => m.model), src, 'validation: sequences');
    if (ids.length === 0) throw new UsageError(`${valid.arg}: no validation sequences`);
    return ppl.map((p) => normalStats(ids, p, 'validation'));
  }
  return members.map((m) => {
    if (!m.manifest.normalScores) {
      throw new UsageError(`${m.dir}: the model folder has no normal validation scores (written before ensembles): ` +
        'retrain it, or give --valid <normal data> to compute them');
    }
    return m.manifest.normalScores;
  });
}

export interface Ensemble {
  members: Member[];
  combine: Combine;
  normalisers: Normaliser[];
  threshold: ChosenThreshold & { paired?: boolean };
  /** For p-values: the ensemble's scores on paired normal validation sequences (undefined when unpaired). */
  reference: NormalReference | undefined;
}

/** Loads an ensemble and its normalisation, and picks its threshold (label-free, or a given ensemble score). */
export async function openEnsemble(dirs: readonly string[], combine: Combine, valid: DataSpec | undefined, choice: ThresholdChoice,
  lenient: boolean): Promise<Ensemble> {
  if (choice === 'best-f1') throw new UsageError("--threshold best-f1 applies to one model; an ensemble takes 'quantile' or a score");
  const members = await loadMembers(dirs);
  try {
    const stats = await memberStats(members, valid, lenient);
    const normalisers = stats.map((s) => new Normaliser(s, combine));
    const q = members[0].manifest.thresholds.labelFree.q;
    const threshold = typeof choice === 'number'
      ? { name: 'given', value: choice }
      : ensembleThreshold(normalisers, q, members.map((m) => m.manifest.thresholds.labelFree.value));
    return { members, combine, normalisers, threshold, reference: ensembleReference(normalisers) };
  } catch (e) {
    await releaseMembers(members);
    throw e;
  }
}

async function scoreEnsembleCommand(dirs: readonly string[], data: DataSpec, json: boolean, choice: ThresholdChoice, lenient: boolean,
  combine: Combine, valid: DataSpec | undefined): Promise<void> {
  const ens = await openEnsemble(dirs, combine, valid, choice, lenient);
  const th = ens.threshold;
  stopOnClosedStdout();
  const src = openData(data, readingFor(ens.members[0].manifest, lenient));
  const kept: (ScoredSequence & { score: number; perplexities: number[] })[] = [];
  const p = progress('score: sequences');
  let n = 0;
  let novel = 0;
  try {
    for await (const { seq: s, perplexities } of scoreStreamMany(ens.members.map((m) => m.model), src)) {
      const score = combineScores(ens.normalisers, perplexities.map((x) => [x]))[0];
      const isNovel = score > th.value;
      n++;
      if (isNovel) novel++;
      p.tick(n);
      if (json) {
        kept.push({
          id: s.id, length: s.events.length, truncated: s.truncated === true, perplexity: Number.NaN, score, perplexities, novel: isNovel,
          ...(ens.reference ? { pValue: ens.reference.pValue(score) } : {}),
        });
      } else {
        process.stdout.write(`${s.id}\t${s.events.length}${s.truncated ? '+' : ''}\t${score.toPrecision(6)}\t${isNovel ? 'yes' : 'no'}\t` +
          `${perplexities.map((x) => x.toPrecision(6)).join(',')}\n`);
      }
    }
  } finally {
    p.done();
    await releaseMembers(ens.members);
  }
  if (json) {
    const doc = {
      ensemble: {
        combine, members: ens.members.map((m) => ({ dir: m.dir, kind: m.manifest.kind, settings: m.manifest.settings })),
        normalisation: valid !== undefined ? `computed on ${valid.arg}` : 'stored in the model folders',
      },
      data: src.summary(),
      threshold: th,
      pValues: ens.reference ? `against ${ens.reference.what}` : null,
      sequences: kept.map(({ perplexity: _p, ...rest }) => rest),
      novel,
    };
    process.stdout.write(JSON.stringify(doc, null, 1) + '\n');
  } else {
    const pct = n ? ` (${((100 * novel) / n).toFixed(1)} %)` : '';
    process.stderr.write(`${n} sequences from ${data.arg}: ${novel} novel${pct} at ensemble score (${combine}) > ${th.value.toPrecision(6)} (${th.name})\n`);
  }
}

export interface ScoreRequest {
  models: readonly string[];
  data: DataSpec;
  json: boolean;
  threshold: ThresholdChoice;
  lenient: boolean;
  combine: Combine;
  /** Normal data to compute ensemble normalisation on (instead of the stored statistics). */
  valid: DataSpec | undefined;
}

export async function scoreCommandMany(req: ScoreRequest): Promise<void> {
  if (req.models.length === 1) {
    if (req.valid !== undefined) throw new UsageError('--valid applies to ensembles (several --model)');
    return scoreCommand(req.models[0], req.data, req.json, req.threshold, req.lenient);
  }
  return scoreEnsembleCommand(req.models, req.data, req.json, req.threshold, req.lenient, req.combine, req.valid);
}

export async function scoreCommand(modelDir: string, data: DataSpec, json: boolean, choice: ThresholdChoice, lenient: boolean): Promise<void> {
  const { manifest, model } = await loadModelFolder(modelDir);
  const th = chooseThreshold(manifest, choice, modelDir);
  stopOnClosedStdout();
  const src = openData(data, readingFor(manifest, lenient));
  const reference = referenceOf(manifest);
  const kept: ScoredSequence[] = [];
  const p = progress('score: sequences');
  let n = 0;
  let novel = 0;
  const history = historyOf(model);
  for await (const { seq: s, perplexity: own } of scoreStream(model, src)) {
    const ppl = history.perplexity(s.id, own);
    const r: ScoredSequence = {
      id: s.id, length: s.events.length, truncated: s.truncated === true, perplexity: ppl, novel: ppl > th.value,
      ...(reference ? { pValue: reference.pValueOfPerplexity(ppl) } : {}),
    };
    n++;
    if (r.novel) novel++;
    p.tick(n);
    if (json) kept.push(r);
    else process.stdout.write(`${r.id}\t${r.length}${r.truncated ? '+' : ''}\t${ppl.toPrecision(6)}\t${r.novel ? 'yes' : 'no'}\n`);
  }
  p.done();
  await model.release();
  const summary = src.summary();
  if (json) {
    const doc = {
      model: { dir: modelDir, kind: manifest.kind, settings: manifest.settings },
      data: summary,
      threshold: th,
      pValues: reference ? `against ${reference.what}` : null,
      sequences: kept,
      novel,
    };
    process.stdout.write(JSON.stringify(doc, null, 1) + '\n');
  } else {
    const pct = n ? ` (${((100 * novel) / n).toFixed(1)} %)` : '';
    process.stderr.write(`${n} sequences from ${data.arg}: ${novel} novel${pct} at perplexity > ${th.value.toPrecision(6)} (${th.name})\n`);
  }
}
