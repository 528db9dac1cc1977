/**
 * @module eval/adfa-ceiling
 * How far normal-only scores get on ADFA-LD when only `Training_Data_Master` (833 traces) is normal data, and how
 * far the same n-gram gets with more normal data. Every score here is trained on normal traces only and rates each
 * Validation / Attack trace; the table is ROC AUC of Validation (normal) against all attacks. Rows:
 *   - the n-gram language model (interpolated modified Kneser-Ney) of orders 1–7, score = mean surprise per event;
 *   - a likelihood ratio, order 7 less α × order 2 (a background model: Ren et al., 2019, for out-of-distribution
 *     detection), α 0.25–1;
 *   - the nearest training trace by cosine similarity of 3-gram counts (score = 1 − the best similarity);
 *   - the fraction of a trace's n-grams (n = 6, 10) that no training trace contains (STIDE's mismatch rate);
 *   - the order-5 n-gram trained on Training plus every other Validation trace, scored on the Validation traces left
 *     out against all attacks: what more normal data gives.
 * Hand-written scores (nearest neighbour, mismatch rate): a few lines each over plain arrays, cheaper to read here
 * than a dependency. Run: `npm run eval -- ceiling` (about 30 s).
 */
import { iterateAdfaTraces } from '../trace/adfa/adfa.js';
import { NgramScorer } from '../models/ngram/scorer.js';
import { traceSequence } from '../detect/adfa-eval.js';
import { rocAuc } from '../detect/metrics.js';

/** Counts of each run of `n` consecutive names (joined by a space). */
export function ngramCounts(names: readonly string[], n: number): Map<string, number> {
  const m = new Map<string, number>();
  for (let i = 0; i + n <= names.length; i++) {
    const k = names.slice(i, i + n).join(' ');
    m.set(k, (m.get(k) ?? 0) + 1);
  }
  return m;
}

/** Cosine similarity of two count vectors. */
export function cosine(a: ReadonlyMap<string, number>, b: ReadonlyMap<string, number>): number {
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  let dot = 0;
  for (const [k, x] of small) dot += x * (large.get(k) ?? 0);
  const norm = (m: ReadonlyMap<string, number>): number => Math.sqrt([...m.values()].reduce((s, v) => s + v * v, 0));
  const d = norm(a) * norm(b);
  return d === 0 ? 0 : dot / d;
}

/** 1 − the highest cosine similarity of `x` to any of `train` (0 when it equals a training vector's direction). */
export function nearestDistance(x: ReadonlyMap<string, number>, train: readonly ReadonlyMap<string, number>[]): number {
  let best = 0;
  for (const t of train) best = Math.max(best, cosine(x, t));
  return 1 - best;
}

/** Share of the `n`-grams of `names` (counted with repeats) that are not in `seen`; 0 for a trace shorter than n. */
export function unseenFraction(names: readonly string[], n: number, seen: ReadonlySet<string>): number {
  let total = 0;
  let unseen = 0;
  for (let i = 0; i + n <= names.length; i++) {
    total++;
    if (!seen.has(names.slice(i, i + n).join(' '))) unseen++;
  }
  return total === 0 ? 0 : unseen / total;
}

export interface CeilingRow { score: string; auc: number }

/** Computes the rows named in the module header from the dataset at `path` (zip or folder). */
export async function adfaCeiling(path: string): Promise<CeilingRow[]> {
  const train: string[][] = [];
  const rest: { names: string[]; attack: boolean }[] = [];
  for await (const t of iterateAdfaTraces(path)) {
    if (t.trace.set === 'training') train.push(t.names);
    else rest.push({ names: t.names, attack: t.trace.set === 'attack' });
  }
  const labels = rest.map((r) => r.attack);
  const rows: CeilingRow[] = [];
  // mean surprise per predicted token (end token included), as `detect/adfa-eval.ts` scores a trace
  const meanNll = (scorer: NgramScorer, names: readonly string[], i: number): number => scorer.score(traceSequence(`t${i}`, i, names));
  const trainSeqs = train.map((names, i) => traceSequence(`train${i}`, i, names));
  const scorers = new Map<number, NgramScorer>();
  const byOrder = new Map<number, number[]>();
  for (const order of [1, 2, 3, 5, 7]) {
    const scorer = NgramScorer.fit(trainSeqs, order, 1);
    const s = rest.map((r, i) => meanNll(scorer, r.names, i));
    scorers.set(order, scorer);
    byOrder.set(order, s);
    rows.push({ score: `n-gram order ${order}, mean surprise`, auc: rocAuc(s, labels) });
  }
  const hi = byOrder.get(7)!;
  const lo = byOrder.get(2)!;
  for (const a of [0.25, 0.5, 1]) {
    rows.push({ score: `likelihood ratio: order 7 − ${a} × order 2`, auc: rocAuc(hi.map((v, i) => v - a * lo[i]!), labels) });
  }
  const trainGrams = train.map((x) => ngramCounts(x, 3));
  rows.push({
    score: 'nearest training trace, cosine of 3-gram counts',
    auc: rocAuc(rest.map((r) => nearestDistance(ngramCounts(r.names, 3), trainGrams)), labels),
  });
  for (const n of [6, 10]) {
    const seen = new Set<string>();
    for (const x of train) for (const k of ngramCounts(x, n).keys()) seen.add(k);
    rows.push({ score: `unseen ${n}-gram fraction (STIDE mismatch rate)`, auc: rocAuc(rest.map((r) => unseenFraction(r.names, n, seen)), labels) });
  }
  // More normal data: Training plus the even-numbered Validation traces; scored on the odd ones and the attacks.
  const validation = rest.filter((r) => !r.attack);
  const added = validation.filter((_, i) => i % 2 === 0).map((r, i) => traceSequence(`valid${i}`, train.length + i, r.names));
  const heldOut = [...validation.filter((_, i) => i % 2 === 1), ...rest.filter((r) => r.attack)];
  const more = NgramScorer.fit([...trainSeqs, ...added], 5, 1);
  const same = scorers.get(5)!;
  const heldLabels = heldOut.map((r) => r.attack);
  rows.push({ score: 'n-gram order 5, Training only, on half of Validation', auc: rocAuc(heldOut.map((r, i) => meanNll(same, r.names, i)), heldLabels) });
  rows.push({ score: 'n-gram order 5, Training + the other half of Validation', auc: rocAuc(heldOut.map((r, i) => meanNll(more, r.names, i)), heldLabels) });
  return rows;
}

/** The table as text. */
export function formatCeiling(rows: readonly CeilingRow[]): string {
  const w = Math.max(...rows.map((r) => r.score.length));
  return [
    'ADFA-LD, normal-only scores trained on Training_Data_Master; ROC AUC of Validation against all attacks',
    `${'score'.padEnd(w)}  AUC`,
    ...rows.map((r) => `${r.score.padEnd(w)}  ${r.auc.toFixed(3)}`),
  ].join('\n');
}
