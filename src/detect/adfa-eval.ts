/**
 * @module detect/adfa-eval
 * The n-gram model on ADFA-LD (Creech & Hu): train on `Training_Data_Master` (normal only), score every
 * `Validation_Data_Master` (normal) and `Attack_Data_Master` trace by its mean surprise per token, and report ROC AUC
 * (all validation traces vs all attacks, and vs each attack kind), plus a label-free operating point: the threshold
 * is the (1 − far) quantile of the scores of half of the validation traces (even positions in sorted order), and
 * detection / false-alarm rates are measured on the other half and the attacks.
 * Also reported: the AUC of a local score, the worst (highest) mean surprise over any window of `window` events,
 * which catches short attack bursts inside otherwise normal traces.
 * Published anchor: LSTM language-model ensemble, AUC 0.928 (Kim et al., 2016).
 */
import { iterateAdfaTraces } from '../trace/adfa/adfa.js';
import type { SyscallEvent } from '../trace/event.js';
import type { Sequence } from '../features/sequences/sequence.js';
import { NgramScorer } from '../models/ngram/scorer.js';
import { confusionAt, rocAuc } from './metrics.js';
import { thresholdForFalseAlarmRate } from './threshold.js';

export interface AdfaEvalResult {
  order: number;
  minCount: number;
  trainTraces: number;
  trainEvents: number;
  validationTraces: number;
  attackTraces: number;
  /** Syscall-name vocabulary size (specials included) and trie nodes of the fitted model. */
  vocabulary: number;
  ngrams: number;
  /** AUC, score = mean surprise per token: all validation vs all attacks. */
  auc: number;
  /** Same, against each attack kind alone. */
  aucByKind: Record<string, number>;
  /** AUC of the worst window's mean surprise. */
  window: number;
  aucWindow: number;
  aucWindowByKind: Record<string, number>;
  /** Label-free threshold from half the validation traces, tested on the other half and all attacks. */
  operatingPoint: { far: number; threshold: number; detectionRate: number; falseAlarmRate: number; precision: number; f1: number };
  seconds: { read: number; fit: number; score: number };
}

/** One ADFA-LD trace as a sequence of syscall names (the reader's index as pid and tid). */
export function traceSequence(id: string, index: number, names: readonly string[]): Sequence {
  const events: SyscallEvent[] = names.map((name, i) => ({
    ts: BigInt(i), cpu: 0, pid: index, tid: index, proc: '', name, phase: 'entry', args: {},
  }));
  return { id, events };
}

/** Highest mean of `w` consecutive values (the mean of all of them when there are fewer). */
export function maxWindowMean(x: ArrayLike<number>, w: number): number {
  if (x.length === 0) return 0;
  if (x.length <= w) {
    let s = 0;
    for (let i = 0; i < x.length; i++) s += x[i];
    return s / x.length;
  }
  let s = 0;
  for (let i = 0; i < w; i++) s += x[i];
  let best = s;
  for (let i = w; i < x.length; i++) {
    s += x[i] - x[i - w];
    if (s > best) best = s;
  }
  return best / w;
}

interface Scored {
  attack: string | undefined;
  mean: number;
  window: number;
}

function aucs(items: Scored[], pick: (s: Scored) => number): { all: number; byKind: Record<string, number> } {
  const normal = items.filter((s) => s.attack === undefined);
  const kinds = [...new Set(items.map((s) => s.attack).filter((k): k is string => k !== undefined))].sort();
  const auc = (subset: Scored[]) => rocAuc(subset.map(pick), subset.map((s) => s.attack !== undefined));
  const byKind: Record<string, number> = {};
  for (const k of kinds) byKind[k] = auc([...normal, ...items.filter((s) => s.attack === k)]);
  return { all: auc(items), byKind };
}

/**
 * Runs the evaluation on the dataset at `datasetPath` (the zip, or the unpacked folder).
 * `order`: n-gram order; `minCount`: vocabulary minimum count; `window`: events per window for the local score;
 * `far`: false-alarm rate for the label-free operating point (e.g. 0.01).
 */
export async function evaluateNgramOnAdfa(datasetPath: string, order: number, minCount: number, window: number, far: number): Promise<AdfaEvalResult> {
  const t0 = performance.now();
  const train: Sequence[] = [];
  const rest: { index: number; path: string; attack: string | undefined; validation: boolean; names: string[] }[] = [];
  for await (const t of iterateAdfaTraces(datasetPath)) {
    if (t.trace.set === 'training') train.push(traceSequence(t.trace.path, t.index, t.names));
    else rest.push({ index: t.index, path: t.trace.path, attack: t.trace.attack, validation: t.trace.set === 'validation', names: t.names });
  }
  if (train.length === 0) throw new Error(`${datasetPath}: no Training_Data_Master traces`);
  const t1 = performance.now();
  const scorer = NgramScorer.fit(train, order, minCount);
  const t2 = performance.now();
  const scored: Scored[] = [];
  const validationHalf: { a: number[]; b: Scored[] } = { a: [], b: [] };
  let v = 0;
  for (const r of rest) {
    const nll = scorer.eventNll(traceSequence(r.path, r.index, r.names));
    let sum = 0;
    for (let i = 0; i < nll.length; i++) sum += nll[i];
    const s: Scored = { attack: r.validation ? undefined : r.attack ?? 'unknown', mean: sum / nll.length, window: maxWindowMean(nll, window) };
    scored.push(s);
    if (r.validation) {
      if (v++ % 2 === 0) validationHalf.a.push(s.mean);
      else validationHalf.b.push(s);
    }
  }
  const t3 = performance.now();
  const mean = aucs(scored, (s) => s.mean);
  const win = aucs(scored, (s) => s.window);
  const th = thresholdForFalseAlarmRate(validationHalf.a, far);
  const testSet = [...validationHalf.b, ...scored.filter((s) => s.attack !== undefined)];
  const c = confusionAt(testSet.map((s) => s.mean), testSet.map((s) => s.attack !== undefined), th.value);
  return {
    order, minCount,
    trainTraces: train.length,
    trainEvents: train.reduce((n, s) => n + s.events.length, 0),
    validationTraces: scored.filter((s) => s.attack === undefined).length,
    attackTraces: scored.filter((s) => s.attack !== undefined).length,
    vocabulary: scorer.model.vocabSize,
    ngrams: scorer.model.size - 1,
    auc: mean.all, aucByKind: mean.byKind,
    window, aucWindow: win.all, aucWindowByKind: win.byKind,
    operatingPoint: { far, threshold: th.value, detectionRate: c.recall, falseAlarmRate: c.falseAlarmRate, precision: c.precision, f1: c.f1 },
    seconds: { read: (t1 - t0) / 1000, fit: (t2 - t1) / 1000, score: (t3 - t2) / 1000 },
  };
}
