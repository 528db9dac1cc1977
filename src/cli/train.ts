/**
 * @module cli/train
 * `syscall-anomaly train`: fits the tokenizer and a language model of the chosen kind on normal training data, sets
 * the label-free threshold at a quantile (default 0.99) of the perplexities of normal validation data (`--valid`) or,
 * without it, of every tenth training sequence held out from fitting, adds the best-F1 threshold when labelled novel
 * data is given (`--valid-novel`), stores the prefix perplexities of the same normal sequences for `watch` (models that
 * score incrementally), writes the model folder and prints a summary. With `--teacher model/` (LSTM
 * students only) the student learns from the teacher's next-token distributions (`models/lstm/distill.ts`).
 * `syscall-anomaly update` (`updateCommand`) runs the same steps on a loaded model that learns more normal data.
 */
import type { Segmentation } from '../features/sequences/index.js';
import type { Sequence } from '../features/sequences/sequence.js';
import { filterByPosition, openData, type DataSpec, type Reading } from '../features/dataset.js';
import { bestF1 } from '../detect/metrics.js';
import { fitQuantileThreshold } from '../detect/threshold.js';
import { normalStats } from '../models/normal-scores.js';
import { PrefixCollector, storedLengths } from '../detect/live-thresholds.js';
import { loadModelFolder, saveModelFolder, type BestF1Threshold, type DataSummary, type LabelFreeThreshold, type ModelManifest } from '../models/folder.js';
import { historyOf } from '../detect/history.js';
import { findModelKind, formatSettings, scoreStream, type LanguageModel, type LogProbsSink, type ModelSettings } from '../models/language-model.js';
import { progress, UsageError } from './run.js';
import { enableEpochLog } from '../models/training.js';

export interface TrainRequest {
  kind: string;
  settings: ModelSettings;
  train: DataSpec;
  valid: DataSpec | undefined;
  validNovel: DataSpec | undefined;
  segmentation: Segmentation;
  maxLength: number;
  /** Quantile of normal perplexities for the label-free threshold. */
  quantile: number;
  lenient: boolean;
  output: string;
  /** Distillation: the teacher's model folder and the weight α of its soft targets. */
  teacher?: { dir: string; alpha: number };
  /**
   * A lifelong update (`syscall-anomaly update`): the loaded model folder whose model learns `train` on top of what it
   * knows (`LanguageModel.updated`); kind, settings and segmentation above are its own.
   */
  base?: { dir: string; model: LanguageModel; manifest: ModelManifest };
}

/** Every HOLD_OUT-th training sequence (positions HOLD_OUT−1, 2·HOLD_OUT−1…) is held out when there is no --valid. */
export const HOLD_OUT = 10;
const heldOut = (i: number) => i % HOLD_OUT === HOLD_OUT - 1;

/** Counts the sequences of a stream (`count.n`) and ticks a progress line. */
async function* counted(seqs: AsyncIterable<Sequence>, label: string, count: { n: number }): AsyncGenerator<Sequence> {
  const p = progress(label);
  count.n = 0;
  try {
    for await (const s of seqs) {
      count.n++;
      p.tick(count.n);
      yield s;
    }
  } finally {
    p.done();
  }
}

/** Perplexity of every sequence of a stream, scored in batches (`SCORE_BATCH`). */
export async function perplexities(model: LanguageModel, seqs: AsyncIterable<Sequence>, label: string): Promise<Float64Array> {
  return (await perplexitiesWithIds(model, seqs, label)).ppl;
}

/**
 * Perplexity and id of every sequence of a stream, in stream order (the log-probabilities also to `each`); with the
 * connection's history for models that keep one (`detect/history.ts`).
 */
export async function perplexitiesWithIds(model: LanguageModel, seqs: AsyncIterable<Sequence>, label: string,
  each?: LogProbsSink): Promise<{ ids: string[]; ppl: Float64Array }> {
  const out: number[] = [];
  const ids: string[] = [];
  const history = historyOf(model);
  for await (const r of scoreStream(model, counted(seqs, label, { n: 0 }))) {
    out.push(history.perplexity(r.seq.id, r.perplexity));
    ids.push(r.seq.id);
    each?.(r.seq, r.logProbs);
  }
  return { ids, ppl: Float64Array.from(out) };
}

/** Fits, sets the thresholds and saves the model folder. */
export async function trainModel(req: TrainRequest): Promise<{ model: LanguageModel; manifest: ModelManifest }> {
  const t0 = performance.now();
  enableEpochLog(); // a neural kind's progress reaches a log too: a line per epoch when stderr is no terminal
  const entry = findModelKind(req.kind);
  if (!entry) throw new UsageError(`unknown model kind '${req.kind}'`);
  const history = Number(req.settings['history'] ?? 1);
  if (history > 1 && req.segmentation !== 'request') {
    throw new UsageError(`--history ${history} scores the requests of a connection together: it needs --segment request, not ${req.segmentation}`);
  }
  const reading: Reading = { segmentation: req.segmentation, maxLength: req.maxLength, pairing: 'paired', lenient: req.lenient };
  const train = openData(req.train, reading);
  const valid = req.valid ? openData(req.valid, reading) : undefined;
  const fitCount = { n: 0 };
  const fitStream = () => counted(valid ? train : filterByPosition(train, (i) => !heldOut(i)), 'train: sequences', fitCount);
  const normalStream = () => (valid ? valid : filterByPosition(train, heldOut));
  let model: LanguageModel;
  let distilledFrom: ModelManifest['training']['distilledFrom'];
  if (req.teacher) {
    if (req.kind !== 'lstm') throw new UsageError(`--teacher trains an LSTM student: give --model lstm, not ${req.kind}`);
    const { fitDistilledLstm } = await import('../models/lstm/distill.js');
    const teacher = await loadModelFolder(req.teacher.dir);
    try {
      const r = await fitDistilledLstm({ train: fitStream, valid: normalStream }, req.settings, teacher.model, req.teacher.alpha).catch((e: unknown) => {
        throw e instanceof RangeError ? new UsageError(`--teacher ${req.teacher!.dir}: ${e.message}`) : e;
      });
      model = r.model;
      distilledFrom = { teacher: req.teacher.dir, kind: teacher.manifest.kind, ...r.info, teacherSeconds: Math.round(r.info.teacherSeconds * 100) / 100 };
    } finally {
      await teacher.model.release();
    }
  } else if (req.base) {
    const base = req.base.model;
    if (base.updated === undefined) {
      throw new UsageError(`${req.base.dir}: a ${req.kind} model cannot be updated (train it again on all the data)`);
    }
    model = await base.updated({ train: fitStream, valid: normalStream }).catch((e: unknown) => {
      throw e instanceof RangeError ? new UsageError(`update ${req.base!.dir} with ${req.train.arg}: ${e.message}`) : e;
    });
  } else {
    const kind = await entry.implementation();
    // a kind that cannot use the data says why with a RangeError (e.g. timing without latencies): a usage error
    model = await kind.fit({ train: fitStream, valid: normalStream }, req.settings).catch((e: unknown) => {
      throw e instanceof RangeError ? new UsageError(`${req.train.arg}: ${e.message}`) : e;
    });
  }
  if (fitCount.n === 0) throw new UsageError(`${req.train.arg}: no sequences to train on`);
  const trainSummary = train.summary();

  // The same pass gathers the prefix perplexities `watch` takes its per-length thresholds from.
  const prefixes = model.incremental === undefined ? undefined : new PrefixCollector(storedLengths(req.maxLength));
  const scored = await perplexitiesWithIds(model, normalStream(), valid ? 'validation: sequences' : 'held-out: sequences', prefixes?.add);
  const normal = scored.ppl;
  if (normal.length === 0) {
    throw new UsageError(valid
      ? `${req.valid!.arg}: no validation sequences`
      : `${req.train.arg}: ${fitCount.n} training sequences are too few to hold out every ${HOLD_OUT}th for the threshold: give --valid`);
  }
  const q = fitQuantileThreshold(normal, req.quantile);
  const labelFree: LabelFreeThreshold = { ...q, on: valid ? 'validation' : 'held-out' };

  let best: BestF1Threshold | undefined;
  let novelSummary: DataSummary | undefined;
  if (req.validNovel) {
    const novelData = openData(req.validNovel, reading);
    const novel = await perplexities(model, novelData, 'novel validation: sequences');
    if (novel.length === 0) throw new UsageError(`${req.validNovel.arg}: no sequences`);
    novelSummary = novelData.summary();
    const scores = [...normal, ...novel];
    const labels = scores.map((_, i) => i >= normal.length);
    const c = bestF1(scores, labels);
    best = { value: c.threshold, f1: c.f1, precision: c.precision, recall: c.recall, normal: normal.length, novel: novel.length };
  }

  const formats = [...new Set([trainSummary.format, ...(valid ? [valid.summary().format] : [])])];
  const manifest = await saveModelFolder(req.output, model, {
    segmentation: { kind: req.segmentation, maxLength: req.maxLength },
    thresholds: best ? { labelFree, bestF1: best } : { labelFree },
    training: {
      date: new Date().toISOString(),
      seconds: Math.round((performance.now() - t0) / 10) / 100,
      train: trainSummary,
      fitSequences: fitCount.n,
      heldOut: valid ? 0 : normal.length,
      ...(valid ? { valid: valid.summary() } : {}),
      ...(novelSummary ? { validNovel: novelSummary } : {}),
      ...(distilledFrom ? { distilledFrom } : {}),
      ...(req.base ? { updatedFrom: updatedFrom(req.base.dir, req.base.manifest) } : {}),
    },
    input: { pairing: reading.pairing, formats },
    normalScores: normalStats(scored.ids, normal, valid ? 'validation' : 'held-out'),
    ...(prefixes ? { prefixScores: prefixes.stored(valid ? 'validation' : 'held-out') } : {}),
  });
  return { model, manifest };
}

/** What an update's manifest says of the folder it started from (sequences learned: its own and its updates'). */
function updatedFrom(dir: string, m: ModelManifest): NonNullable<ModelManifest['training']['updatedFrom']> {
  const t = m.training;
  return { model: dir, date: t.updatedFrom?.date ?? t.date, fitSequences: t.fitSequences + (t.updatedFrom?.fitSequences ?? 0) };
}

/**
 * `syscall-anomaly update`: loads the model folder `dir`, lets its model learn the normal data `train` on top of what
 * it knows (`LanguageModel.updated`: every kind has it), fits the thresholds again on `valid` (or every tenth
 * sequence of `train`, held out) and writes the folder `output` (which may be `dir` itself). Kind, settings,
 * segmentation and maximum length are the folder's.
 */
export async function updateCommand(dir: string, req: Pick<TrainRequest, 'train' | 'valid' | 'validNovel' | 'quantile' | 'lenient' | 'output'>,
  json: boolean): Promise<void> {
  const base = await loadModelFolder(dir);
  try {
    const m = base.manifest;
    await trainCommand({
      ...req, kind: m.kind, settings: m.settings, segmentation: m.segmentation.kind, maxLength: m.segmentation.maxLength,
      base: { dir, model: base.model, manifest: m },
    }, json);
  } finally {
    await base.model.release();
  }
}

const int = (n: number) => n.toLocaleString('en-US');

export function describeData(s: DataSummary): string {
  let t = `${s.data} (${s.format}): ${int(s.sequences)} sequences, ${int(s.events)} events`;
  if (s.truncated) t += `, ${int(s.truncated)} cut at the maximum length (${int(s.droppedByCap)} events dropped)`;
  if (s.lost) t += `, ${int(s.lost)} events lost by the tracer`;
  if (s.skipped) t += `, ${int(s.skipped)} damaged records skipped`;
  if (s.unassigned) t += `, ${int(s.unassigned)} events outside any sequence`;
  return t;
}

export async function trainCommand(req: TrainRequest, json: boolean): Promise<void> {
  const { model, manifest } = await trainModel(req);
  await model.release();
  const head = `${manifest.training.updatedFrom ? 'updated' : 'trained'} ${manifest.kind} model (${formatSettings(manifest.settings)}) → ${req.output}`;
  process.stdout.write(json ? JSON.stringify(manifest, null, 1) + '\n' : `${head}\n${describeManifest(manifest)}\n`);
}

/**
 * A model folder's manifest for people, one indented line per part: what it was trained (and updated or distilled)
 * on, its segmentation, what the model says of itself, its thresholds and the training time. `train`, `update` and
 * `info` print it under their own first line.
 */
export function describeManifest(manifest: ModelManifest): string {
  const tr = manifest.training;
  const th = manifest.thresholds;
  const lines = [
    `  train      ${describeData(tr.train)}`,
    `             fitted on ${int(tr.fitSequences)} sequences${tr.heldOut ? `, ${int(tr.heldOut)} held out for the threshold` : ''}`,
  ];
  if (tr.valid) lines.push(`  valid      ${describeData(tr.valid)}`);
  if (tr.validNovel) lines.push(`  novel      ${describeData(tr.validNovel)}`);
  if (tr.updatedFrom) {
    const u = tr.updatedFrom;
    lines.push(`  updated    from ${u.model} (trained ${u.date}, ${int(u.fitSequences)} sequences learned before): ${int(u.fitSequences + tr.fitSequences)} in all`);
  }
  if (tr.distilledFrom) {
    const d = tr.distilledFrom;
    lines.push(`  teacher    ${d.teacher} (${d.kind}): soft targets α ${d.alpha} on ${int(d.tokens)} tokens (teacher ${d.teacherSeconds.toFixed(1)} s)`);
  }
  lines.push(`  segments   ${manifest.segmentation.kind}, at most ${int(manifest.segmentation.maxLength)} events`);
  lines.push(`  model      ${Object.entries(manifest.model).map(([k, v]) => `${k} ${typeof v === 'number' ? int(v) : v}`).join(', ')}`);
  lines.push(`  threshold  perplexity > ${th.labelFree.value.toPrecision(6)} (quantile ${th.labelFree.q} of ${int(th.labelFree.fittedOn)} ${th.labelFree.on} sequences)`);
  if (th.bestF1) {
    lines.push(`  best F1    perplexity > ${th.bestF1.value.toPrecision(6)}: F1 ${th.bestF1.f1.toFixed(3)} (precision ${th.bestF1.precision.toFixed(3)}, recall ${th.bestF1.recall.toFixed(3)})`);
  }
  lines.push(`  time       ${tr.seconds.toFixed(1)} s`);
  return lines.join('\n');
}

/**
 * `syscall-anomaly info`: reads a model folder as `score` would (the manifest checked, every weight file's size and
 * SHA-256 verified, the model loaded) and prints its manifest for people, or as JSON.
 */
export async function infoCommand(dir: string, json: boolean): Promise<void> {
  const { manifest, model } = await loadModelFolder(dir);
  await model.release();
  if (json) {
    process.stdout.write(JSON.stringify(manifest, null, 1) + '\n');
    return;
  }
  const files = manifest.files.map((f) => `${f.name} (${int(f.bytes)} bytes)`).join(', ');
  const tr = manifest.training;
  process.stdout.write([
    `${dir}: ${manifest.kind} model (${formatSettings(manifest.settings)}), ${tr.updatedFrom ? 'updated' : 'trained'} ${tr.date}`,
    describeManifest(manifest),
    `  files      ${files}: sizes and SHA-256 verified`,
  ].join('\n') + '\n');
}
