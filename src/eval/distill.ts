/**
 * @module eval/distill
 * `npm run eval -- distill`: knowledge distillation (`models/lstm/distill.ts`) and ensembles (`detect/ensemble.ts`)
 * on the committed web-server sample the demo uses (`cli/demo-lm.ts`: `data/web-novelty`, split by time as the demo
 * does: normal 60 / 20 / 20 %, novelties half validation, half test) and on ADFA-LD (`Training_Data_Master` to train, one trace in ten held out
 * for early stopping and the normalisation; `Validation_Data_Master` normal vs `Attack_Data_Master`).
 *
 * Per data set: a teacher LSTM (the project's defaults; on ADFA-LD the `eval/adfa-lstm.ts` settings: hidden 256, up
 * to 12 epochs), a
 * narrow student LSTM (hidden 32, embed 32) distilled from it (α = 0.7), the same narrow LSTM trained on hard labels
 * only (what distillation adds), and an n-gram; each with ROC AUC, best F1, F1 at the label-free threshold (quantile
 * 0.99 of normal validation perplexity) and detection at 1 % false alarms per novel set, and its scoring speed
 * (sequences/s and tokens/s: the best of 3 passes over the first 1,500 test sequences, batches of `SCORE_BATCH`);
 * then the ensembles teacher + n-gram and student + n-gram (z and rank), normalised on the validation sequences.
 * Load averages are printed with the times (the machine is shared).
 */
import { loadavg } from 'node:os';
import { bestF1, confusionAt, detectionAtFalseAlarmRate, rocAuc } from '../detect/metrics.js';
import { fitQuantileThreshold } from '../detect/threshold.js';
import { combineScores, Normaliser, type Combine } from '../detect/ensemble.js';
import type { Sequence } from '../features/sequences/sequence.js';
import { findModelKind, passesOver, perplexityAll, resolveSettings, type LanguageModel, type ModelSettings } from '../models/language-model.js';
import { normalStats } from '../models/normal-scores.js';
import { sharedData } from '../testing/paths.js';
import { iterateAdfaTraces } from '../trace/adfa/adfa.js';
import type { SyscallEvent } from '../trace/event.js';

export const DISTILL_ALPHA = 0.7;
/** Scoring speed: the best of this many passes over at most this many test sequences. */
export const SPEED_RUNS = 3;
export const SPEED_SEQUENCES = 1500;
/** The student: a narrow LSTM. */
export const STUDENT: Record<string, string> = { hidden: '32', embed: '32' };

export interface EvalData {
  name: string;
  train: Sequence[];
  valid: Sequence[];
  normalTest: Sequence[];
  novel: Record<string, Sequence[]>;
  /** LSTM settings (command-line texts) of the teacher; the student overrides `STUDENT`. */
  teacher: Record<string, string>;
}

export interface SetFigures { auc: number; bestF1: number; f1LabelFree: number; detectionAt1Far: number }

export interface ModelFigures {
  name: string;
  parameters: number | string;
  trainSeconds: number;
  sets: Record<string, SetFigures>;
  speed: { sequences: number; tokens: number; seconds: number; sequencesPerS: number; tokensPerS: number; load: number };
}

function figures(normal: Float64Array, novel: Float64Array, threshold: number): SetFigures {
  const scores = Float64Array.from([...normal, ...novel]);
  const labels = Array.from(scores, (_, i) => i >= normal.length);
  return {
    auc: rocAuc(scores, labels), bestF1: bestF1(scores, labels).f1, f1LabelFree: confusionAt(scores, labels, threshold).f1,
    detectionAt1Far: detectionAtFalseAlarmRate(scores, labels, 0.01).recall,
  };
}

interface Scored { valid: Float64Array; normal: Float64Array; novel: Record<string, Float64Array> }

async function measure(name: string, model: LanguageModel, d: EvalData, trainSeconds: number): Promise<{ fig: ModelFigures; scored: Scored }> {
  const valid = await perplexityAll(model, d.valid);
  const th = fitQuantileThreshold(valid, 0.99).value;
  const normal = await perplexityAll(model, d.normalTest);
  const novel: Record<string, Float64Array> = {};
  for (const [k, seqs] of Object.entries(d.novel)) novel[k] = await perplexityAll(model, seqs);
  // speed: the best of SPEED_RUNS passes over (at most SPEED_SEQUENCES of) the test sequences, after the passes above
  const all = [...d.normalTest, ...Object.values(d.novel).flat()].slice(0, SPEED_SEQUENCES);
  const load = loadavg()[0]!;
  let seconds = Infinity;
  for (let run = 0; run < SPEED_RUNS; run++) {
    const t0 = performance.now();
    await perplexityAll(model, all);
    seconds = Math.min(seconds, (performance.now() - t0) / 1000);
  }
  const tokens = all.reduce((a, s) => a + s.events.length + 1, 0);
  const sets: Record<string, SetFigures> = {};
  for (const k of Object.keys(d.novel)) sets[k] = figures(normal, novel[k], th);
  const describe = model.describe();
  return {
    fig: {
      name, parameters: describe.parameters ?? describe.ngrams ?? '', trainSeconds, sets,
      speed: { sequences: all.length, tokens, seconds, sequencesPerS: all.length / seconds, tokensPerS: tokens / seconds, load },
    },
    scored: { valid, normal, novel },
  };
}

function settingsOf(kind: string, texts: Record<string, string>): ModelSettings {
  const entry = findModelKind(kind);
  if (!entry) throw new Error(`model kind '${kind}' is not registered`);
  return resolveSettings(entry, new Map(Object.entries(texts)));
}

export interface DistillResult {
  data: string;
  models: ModelFigures[];
  ensembles: { name: string; sets: Record<string, SetFigures> }[];
}

/** Trains teacher, student, narrow baseline and n-gram on `d`, measures each, and the ensembles. */
export async function runDistill(d: EvalData, log: (s: string) => void = () => {}): Promise<DistillResult> {
  const data = { train: passesOver(d.train), valid: passesOver(d.valid) };
  const lstm = (await findModelKind('lstm')!.implementation());
  const ngram = (await findModelKind('ngram')!.implementation());
  const { fitDistilledLstm } = await import('../models/lstm/distill.js');
  const results: ModelFigures[] = [];
  const scored: Record<string, Scored> = {};
  const timed = async (name: string, fit: () => Promise<LanguageModel>, keep = false): Promise<LanguageModel> => {
    log(`${d.name}: training ${name} (load ${loadavg()[0]!.toFixed(2)})`);
    const t0 = performance.now();
    const m = await fit();
    const r = await measure(name, m, d, (performance.now() - t0) / 1000);
    results.push(r.fig);
    scored[name] = r.scored;
    log(`${d.name}: ${name}: ${JSON.stringify(r.fig)}`);
    if (!keep) await m.release();
    return m;
  };
  const teacher = await timed('teacher LSTM', () => lstm.fit(data, settingsOf('lstm', d.teacher)), true);
  const small = { ...d.teacher, ...STUDENT };
  await timed(`student LSTM (distilled, α ${DISTILL_ALPHA})`, async () => (await fitDistilledLstm(data, settingsOf('lstm', small), teacher, DISTILL_ALPHA)).model);
  await teacher.release();
  await timed('narrow LSTM (hard labels)', () => lstm.fit(data, settingsOf('lstm', small)));
  await timed('n-gram (order 5)', () => ngram.fit(data, settingsOf('ngram', {})));

  const ensembles: DistillResult['ensembles'] = [];
  const ids = d.valid.map((s) => s.id);
  const ng = 'n-gram (order 5)';
  for (const other of [results[0]!.name, results[1]!.name]) {
    for (const combine of ['z', 'rank'] as Combine[]) {
      const members = [other, ng];
      const norm = members.map((m) => new Normaliser(normalStats(ids, scored[m]!.valid, 'validation'), combine));
      const normal = combineScores(norm, members.map((m) => scored[m]!.normal));
      const valid = combineScores(norm, members.map((m) => scored[m]!.valid));
      const th = fitQuantileThreshold(valid, 0.99).value;
      const sets: Record<string, SetFigures> = {};
      for (const k of Object.keys(d.novel)) sets[k] = figures(normal, combineScores(norm, members.map((m) => scored[m]!.novel[k]!)), th);
      ensembles.push({ name: `${other.split(' (')[0]} + n-gram (${combine})`, sets });
    }
  }
  return { data: d.name, models: results, ensembles };
}

const f3 = (x: number) => (Number.isNaN(x) ? '–' : x.toFixed(3));

export function formatDistill(r: DistillResult): string {
  const sets = Object.keys(r.models[0]!.sets);
  const out = [`${r.data}: per novel set AUC / best F1 / F1 at the label-free threshold / detection at 1 % false alarms`];
  const head = ['model', 'parameters', 'train s', ...sets, 'sequences/s', 'tokens/s', '(load)'];
  const rows = r.models.map((m) => [m.name, String(m.parameters), m.trainSeconds.toFixed(0),
    ...sets.map((k) => `${f3(m.sets[k]!.auc)} / ${f3(m.sets[k]!.bestF1)} / ${f3(m.sets[k]!.f1LabelFree)} / ${f3(m.sets[k]!.detectionAt1Far)}`),
    Math.round(m.speed.sequencesPerS).toString(), Math.round(m.speed.tokensPerS).toString(), m.speed.load.toFixed(1)]);
  for (const e of r.ensembles) {
    rows.push([`ensemble ${e.name}`, '', '', ...sets.map((k) => `${f3(e.sets[k]!.auc)} / ${f3(e.sets[k]!.bestF1)} / ${f3(e.sets[k]!.f1LabelFree)} / ${f3(e.sets[k]!.detectionAt1Far)}`), '', '', '']);
  }
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((x) => x[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(width[i]!) : c.padStart(width[i]!))).join('  ');
  out.push(line(head), ...rows.map(line));
  return out.join('\n');
}

/** The web-server sample, split as the demo splits it. */
export async function webDemoData(): Promise<EvalData> {
  const { DEMO_LM_DIR, loadDemoSplit, NOVELTIES } = await import('../cli/demo-lm.js');
  const s = await loadDemoSplit();
  const novel: Record<string, Sequence[]> = {};
  for (const nv of NOVELTIES) novel[nv] = s.novel[nv].test;
  return { name: `data/${DEMO_LM_DIR} (request sequences, the demo's split)`, train: s.train, valid: s.valid, normalTest: s.test, novel, teacher: {} };
}

function adfaSequence(id: string, index: number, names: readonly string[]): Sequence {
  const events: SyscallEvent[] = names.map((name, i) => ({ ts: BigInt(i), cpu: 0, pid: index, tid: index, proc: '', name, phase: 'entry', args: {} }));
  return { id, events };
}

/** ADFA-LD: training traces (every 10th held out as validation), validation traces normal, attacks novel. */
export async function adfaData(): Promise<EvalData> {
  const train: Sequence[] = [];
  const valid: Sequence[] = [];
  const normalTest: Sequence[] = [];
  const attacks: Sequence[] = [];
  let i = 0;
  for await (const t of iterateAdfaTraces(sharedData('adfa-ld', 'ADFA-LD.zip'))) {
    const seq = adfaSequence(t.trace.path, t.index, t.names);
    if (t.trace.set === 'training') (i++ % 10 === 9 ? valid : train).push(seq);
    else if (t.trace.set === 'validation') normalTest.push(seq);
    else attacks.push(seq);
  }
  return {
    name: 'ADFA-LD (Validation_Data_Master vs Attack_Data_Master)', train, valid, normalTest, novel: { attack: attacks },
    teacher: {
      fields: 'name', embed: '64', positionDim: '0', hidden: '256', chunk: '32', batch: '16', epochs: '12', patience: '3', lr: '0.01', dropout: '0.3',
    },
  };
}

/** `npm run eval` section. */
export async function evalDistill(which: readonly ('web' | 'adfa')[] = ['web', 'adfa']): Promise<DistillResult[]> {
  const out: DistillResult[] = [];
  for (const w of which) {
    const r = await runDistill(w === 'web' ? await webDemoData() : await adfaData(), (s) => console.error(s));
    console.log(formatDistill(r));
    out.push(r);
  }
  return out;
}
