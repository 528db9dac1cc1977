/**
 * @module cli/explain
 * `syscall-anomaly explain`: finds one sequence (by the id `score` prints) in the data, and shows why the model finds
 * it surprising: its perplexity against the threshold, the most surprising events (−ln P, nats), and the surprise
 * per syscall name and per token field; `--json` prints the whole explanation (per-event surprise included),
 * `--html` writes a self-contained page with every event coloured by surprise. For attention models (a model with
 * `attentionMany`: the Transformer, the Longformer) each of the most surprising events also shows the earlier events
 * it attended to most (`ATTENTION_TOP_K` of them, with weights), in the text, the JSON and the HTML view. Several
 * `--model` folders explain an ensemble's verdict: its score, each member's, and the events all members together
 * found surprising, with each member's share.
 */
import { writeFile } from 'node:fs/promises';
import { openData, type DataSpec } from '../features/dataset.js';
import { combineScores, memberWeights, type Combine } from '../detect/ensemble.js';
import { attachAttention, ENSEMBLE_UNIT, ensembleSurprise, explain, explanationHtml, factsAgainst, memberFacts, noEventSurprise, type Explanation } from '../detect/explain.js';
import { factNumber } from '../detect/alert.js';
import type { Sequence } from '../features/sequences/sequence.js';
import { loadModelFolder } from '../models/folder.js';
import { connectionOf, withHistory } from '../detect/history.js';
import { perplexityMany, type LanguageModel, type SequenceFact } from '../models/language-model.js';
import { progress, UsageError } from './run.js';
import { chooseThreshold, memberLabels, openEnsemble, readingFor, referenceOf, releaseMembers, type ThresholdChoice } from './score.js';

/** How many attended events are shown per flagged event. */
export const ATTENTION_TOP_K = 5;

/** How many ids an error message lists when the wanted sequence is not in the data. */
const LIST_IDS = 5;

export interface ExplainRequest {
  modelDir: string;
  data: DataSpec;
  id: string;
  top: number;
  html: string | undefined;
  json: boolean;
  threshold: ThresholdChoice;
  lenient: boolean;
}

/**
 * The sequence `id` of a stream, and the requests of its connection that came before it (the last `history` − 1;
 * none for history 1), the median of whose perplexities and its own is its score (`detect/history.ts`).
 */
async function findSequence(src: AsyncIterable<Sequence>, id: string, arg: string, history = 1): Promise<{ seq: Sequence; before: Sequence[] }> {
  const seen: string[] = [];
  const conn = history > 1 ? connectionOf(id) : undefined;
  const before: Sequence[] = [];
  let n = 0;
  const p = progress('explain: looking through sequences');
  try {
    for await (const s of src) {
      if (s.id === id) return { seq: s, before };
      if (conn !== undefined && connectionOf(s.id) === conn) {
        before.push(s);
        if (before.length >= history) before.shift();
      }
      if (seen.length < LIST_IDS) seen.push(s.id);
      p.tick(++n);
    }
  } finally {
    p.done();
  }
  throw new UsageError(`${arg}: no sequence '${id}' among its ${n} sequences${n ? ` (the first: ${seen.join(', ')})` : ''}`);
}

/** A sequence's perplexity as `score` gives it: with its connection's history (`before`) for models that keep one. */
async function perplexityWithHistory(model: LanguageModel, before: readonly Sequence[], seq: Sequence): Promise<{ perplexity: number; alone?: HistoryNote }> {
  const k = model.history ?? 1;
  const seqs = [...before.slice(before.length - Math.min(before.length, k - 1)), seq];
  const own = Float64Array.from(await perplexityMany(model, seqs));
  if (k <= 1) return { perplexity: own[0]! };
  const last = seqs.length - 1;
  return { perplexity: withHistory(model, seqs, own)[last]!, alone: { perplexity: own[last]!, requests: seqs.length, k } };
}

/** What a perplexity with history is made of: this request's own, and how many of its connection's requests (at most k). */
interface HistoryNote {
  perplexity: number;
  requests: number;
  k: number;
}

const historyLine = (h: HistoryNote) => `with its connection's history: the median of the perplexities of its last ${h.requests} request` +
  `${h.requests === 1 ? '' : 's'} (--history ${h.k}); this request alone: ${h.perplexity.toPrecision(6)}`;

const f2 = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(2));

/** A sequence-level model's measurements (`LanguageModel.sequenceFacts`), one line each. */
function factLines(label: string, facts: readonly SequenceFact[]): string[] {
  const width = Math.max(...facts.map((f) => `${f.name} (${f.what})`.length));
  return [
    `${label}:`,
    ...facts.map((f) => `  ${`${f.name} (${f.what})`.padEnd(width)}  ${factNumber(f.value).padStart(8)} ${f.unit}  normal ~${factNumber(f.normal)} ${f.unit}  ` +
      `z ${f.z >= 0 ? '+' : ''}${f.z.toFixed(2)}  ${f2(f.surprise)} nats`),
    ...factsAgainst(facts).map((a) => `  normal: ${a}`),
    '',
  ];
}

/** The part of the text shared by one model and an ensemble: top events, attention, by syscall, by field (member). */
function explanationBody(exp: Explanation, sysRows: number): string[] {
  const unit = exp.unit?.name ?? 'nats';
  if (noEventSurprise(exp)) {
    // a model that scores the sequence as a whole (timing, profile): no event carries surprise, the end token all of it
    const out = ['no event carries surprise of its own: the model scores the sequence as a whole (its end token).', '', exp.unit ? 'by member:' : 'by field:'];
    const width = Math.max(8, ...exp.byField.map((f) => f.field.length));
    for (const f of exp.byField) out.push(`  ${f.field.padEnd(width)} total ${f2(f.totalNll)}, ${(100 * f.share).toFixed(1)} % of the surprise`);
    return out;
  }
  const out = [
    exp.unit ? `most surprising events (${unit}: ${exp.unit.short}):` : 'most surprising events (surprise = −ln P(event | preceding events), nats):',
    '       #  surprise  syscall               process (pid/tid)',
  ];
  for (const t of exp.top) {
    out.push(`${String(t.index).padStart(8)}  ${f2(t.nll).padStart(8)}  ${t.name.padEnd(20)}  ${t.proc} (${t.pid}/${t.tid})`);
  }
  if (exp.attention && exp.attention.length > 0) {
    out.push('', 'attention of the most surprising events (earlier events they attended to most, weight):');
    for (const a of exp.attention) {
      const to = a.to.map((t) => `${t.index < 0 ? 'start' : `#${t.index}`} ${t.name} ${t.weight.toFixed(2)}`).join(', ');
      out.push(`${String(a.index).padStart(8)}  ${(exp.top.find((t) => t.index === a.index)?.name ?? '').padEnd(20)}  ← ${to || '–'}`);
    }
  }
  out.push('', 'by syscall:', '  syscall               count     total      mean       max');
  for (const s of exp.bySyscall.slice(0, sysRows)) {
    out.push(`  ${s.name.padEnd(20)}  ${String(s.count).padStart(5)}  ${f2(s.totalNll).padStart(8)}  ${f2(s.meanNll).padStart(8)}  ${f2(s.maxNll).padStart(8)}`);
  }
  if (exp.bySyscall.length > sysRows) out.push(`  … ${exp.bySyscall.length - sysRows} more`);
  out.push('', exp.unit ? 'by member:' : 'by field:');
  const width = Math.max(8, ...exp.byField.map((f) => f.field.length));
  for (const f of exp.byField) out.push(`  ${f.field.padEnd(width)} total ${f2(f.totalNll)}, mean ${f2(f.meanNll)}, ${(100 * f.share).toFixed(1)} % of the surprise`);
  return out;
}

function explanationText(exp: Explanation, perplexity: number, threshold: { name: string; value: number }, novel: boolean, sysRows: number,
  sure: string | undefined, facts: readonly SequenceFact[] | undefined, alone: HistoryNote | undefined): string {
  return [
    `sequence ${exp.id}: ${exp.events} events${exp.truncated ? ' (cut at the maximum length)' : ''}`,
    `perplexity ${perplexity.toPrecision(6)} — ${novel ? 'NOVEL' : 'normal'} (threshold ${threshold.value.toPrecision(6)}, ${threshold.name}); ` +
      `mean surprise ${f2(exp.score)} nats per token, end of sequence ${f2(exp.endNll)} nats`,
    ...(alone ? [historyLine(alone)] : []),
    ...(sure ? [`how sure: ${sure}`] : []),
    '',
    ...(facts ? factLines('what the model measured of the sequence, against normal', facts) : []),
    ...explanationBody(exp, sysRows),
  ].join('\n') + '\n';
}

export async function explainCommand(req: ExplainRequest): Promise<void> {
  const { manifest, model } = await loadModelFolder(req.modelDir);
  const th = chooseThreshold(manifest, req.threshold, req.modelDir);
  const { seq, before } = await findSequence(openData(req.data, readingFor(manifest, req.lenient)), req.id, req.data.arg, model.history);
  const { perplexity, alone } = await perplexityWithHistory(model, before, seq);
  const [surprise] = await model.fieldSurpriseMany([seq]);
  const facts = model.sequenceFacts?.(seq);
  const rows = model.attentionMany ? (await model.attentionMany([seq], ATTENTION_TOP_K))[0] : undefined;
  await model.release();
  const exp = explain(seq, surprise, req.top);
  if (rows !== undefined) attachAttention(seq, exp, rows);
  if (facts) exp.facts = facts;
  const novel = perplexity > th.value;
  const reference = referenceOf(manifest);
  const pValue = reference?.pValueOfPerplexity(perplexity);
  if (req.html !== undefined) {
    const title = `syscall-anomaly: ${seq.id} (${manifest.kind} model, perplexity ${perplexity.toPrecision(4)}${novel ? ', novel' : ''})`;
    await writeFile(req.html, explanationHtml(seq, exp, title));
  }
  if (req.json) {
    const doc = {
      model: { dir: req.modelDir, kind: manifest.kind }, data: req.data.arg, perplexity, threshold: th, novel, ...(alone ? { history: alone } : {}),
      ...(reference ? { pValue, pValues: `against ${reference.what}` } : {}), explanation: exp,
    };
    process.stdout.write(JSON.stringify(doc, null, 1) + '\n');
  } else {
    process.stdout.write(explanationText(exp, perplexity, th, novel, 15, reference?.describe(pValue!), facts, alone));
    if (req.html !== undefined) process.stdout.write(`\nwrote ${req.html}\n`);
  }
}

export interface ExplainEnsembleRequest extends Omit<ExplainRequest, 'modelDir'> {
  modelDirs: readonly string[];
  combine: Combine;
  /** Normal data to compute the members' normalisation on (instead of the statistics stored in their folders). */
  valid: DataSpec | undefined;
}

/**
 * Explains an ensemble's verdict on one sequence: its score against the ensemble threshold, each member's perplexity
 * and normalised score, and the per-event surprise of all members together (`detect/explain.ts` `ensembleSurprise`),
 * with one "field" per member so that the shares say which member drove the verdict.
 */
export async function explainEnsembleCommand(req: ExplainEnsembleRequest): Promise<void> {
  const ens = await openEnsemble(req.modelDirs, req.combine, req.valid, req.threshold, req.lenient);
  const labels = memberLabels(req.modelDirs);
  let seq: Sequence;
  let perplexities: number[];
  let surprise: Record<string, Float64Array>[];
  let facts: (SequenceFact[] | undefined)[];
  try {
    const k = Math.max(...ens.members.map((m) => m.model.history ?? 1));
    let before: Sequence[];
    ({ seq, before } = await findSequence(openData(req.data, readingFor(ens.members[0]!.manifest, req.lenient)), req.id, req.data.arg, k));
    perplexities = [];
    surprise = [];
    for (const m of ens.members) {
      perplexities.push((await perplexityWithHistory(m.model, before, seq)).perplexity);
      surprise.push((await m.model.fieldSurpriseMany([seq]))[0]!);
    }
    facts = ens.members.map((m) => m.model.sequenceFacts?.(seq));
  } finally {
    await releaseMembers(ens.members);
  }
  const score = combineScores(ens.normalisers, perplexities.map((x) => [x]))[0]!;
  const normalised = ens.normalisers.map((n, i) => n.of(perplexities[i]!));
  const exp = explain(seq, ensembleSurprise(labels, surprise, memberWeights(ens.normalisers.map((n) => n.stats))), req.top);
  exp.unit = ENSEMBLE_UNIT;
  const named = facts.flatMap((f, i) => memberFacts(labels[i]!, f));
  if (named.length > 0) exp.facts = named;
  const th = ens.threshold;
  const novel = score > th.value;
  const pValue = ens.reference?.pValue(score);
  const members = ens.members.map((m, i) => ({
    label: labels[i]!, dir: m.dir, kind: m.manifest.kind, perplexity: perplexities[i]!, normalised: normalised[i]!,
  }));
  if (req.html !== undefined) {
    const title = `syscall-anomaly: ${seq.id} (ensemble of ${labels.join(' + ')}, score ${score.toPrecision(4)}${novel ? ', novel' : ''})`;
    await writeFile(req.html, explanationHtml(seq, exp, title));
  }
  if (req.json) {
    const doc = {
      ensemble: { combine: req.combine, members }, data: req.data.arg, score, threshold: th, novel,
      ...(ens.reference ? { pValue, pValues: `against ${ens.reference.what}` } : {}), explanation: exp,
    };
    process.stdout.write(JSON.stringify(doc, null, 1) + '\n');
    return;
  }
  const width = Math.max(6, ...labels.map((l) => l.length));
  process.stdout.write([
    `sequence ${exp.id}: ${exp.events} events${exp.truncated ? ' (cut at the maximum length)' : ''}`,
    `ensemble score ${score.toPrecision(6)} (${req.combine}) — ${novel ? 'NOVEL' : 'normal'} (threshold ${th.value.toPrecision(6)}, ${th.name})`,
    ...(ens.reference ? [`how sure: ${ens.reference.describe(pValue!)}`] : []),
    '',
    `  ${'member'.padEnd(width)}  kind          perplexity  normalised (${req.combine})`,
    ...members.map((m) => `  ${m.label.padEnd(width)}  ${m.kind.padEnd(12)}  ${m.perplexity.toPrecision(6).padStart(10)}  ${m.normalised.toFixed(3).padStart(10)}`),
    '',
    ...members.flatMap((m, i) => (facts[i] ? factLines(`what ${m.label} measured of the sequence, against normal`, facts[i]!) : [])),
    ...explanationBody(exp, 15),
  ].join('\n') + '\n');
  if (req.html !== undefined) process.stdout.write(`\nwrote ${req.html}\n`);
}
