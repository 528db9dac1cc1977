/**
 * @module cli/score
 * `syscall-anomaly score`: loads a model folder, cuts the data into sequences as the model was trained (ADFA-LD
 * subsets: one per trace), and prints one line per sequence — id, length (events), perplexity, novel yes/no at the
 * chosen threshold — as they are scored (in batches of `SCORE_BATCH` sequences; or one JSON document with `--json`),
 * then a count of novel sequences on stderr. Also the helpers the other model commands share: the threshold choice
 * and how to read data for a model.
 */
import { openData, type DataSpec, type Reading } from '../features/dataset.js';
import { loadModelFolder, type ModelManifest } from '../models/folder.js';
import { scoreStream } from '../models/language-model.js';
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
}

/** A reader that stops early (`score … | head`) ends the command quietly instead of with an EPIPE error. */
function stopOnClosedStdout(): void {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
}

export async function scoreCommand(modelDir: string, data: DataSpec, json: boolean, choice: ThresholdChoice, lenient: boolean): Promise<void> {
  const { manifest, model } = await loadModelFolder(modelDir);
  const th = chooseThreshold(manifest, choice, modelDir);
  stopOnClosedStdout();
  const src = openData(data, readingFor(manifest, lenient));
  const kept: ScoredSequence[] = [];
  const p = progress('score: sequences');
  let n = 0;
  let novel = 0;
  for await (const { seq: s, perplexity: ppl } of scoreStream(model, src)) {
    const r: ScoredSequence = { id: s.id, length: s.events.length, truncated: s.truncated === true, perplexity: ppl, novel: ppl > th.value };
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
      sequences: kept,
      novel,
    };
    process.stdout.write(JSON.stringify(doc, null, 1) + '\n');
  } else {
    const pct = n ? ` (${((100 * novel) / n).toFixed(1)} %)` : '';
    process.stderr.write(`${n} sequences from ${data.arg}: ${novel} novel${pct} at perplexity > ${th.value.toPrecision(6)} (${th.name})\n`);
  }
}
