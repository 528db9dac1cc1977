/**
 * @module detect/metrics
 * Detection metrics over anomaly scores (higher = more anomalous) and labels (true = anomaly / attack).
 * The alarm rule everywhere in `detect/` is `score > threshold` (strictly above), so a threshold of −∞ alarms on
 * everything and the highest score alarms on nothing.
 */

export type Labels = ArrayLike<boolean>;

function check(scores: ArrayLike<number>, labels: Labels): void {
  if (scores.length !== labels.length) throw new RangeError(`${scores.length} scores but ${labels.length} labels`);
  for (let i = 0; i < scores.length; i++) {
    if (Number.isNaN(scores[i])) throw new RangeError(`score ${i} is NaN`);
  }
}

function countPositives(labels: Labels): number {
  let p = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i]) p++;
  return p;
}

/**
 * Area under the ROC curve = P(score of a random anomaly > score of a random normal) + ½ P(equal)
 * (Mann-Whitney U with mid-ranks for ties). NaN when either class is empty.
 */
export function rocAuc(scores: ArrayLike<number>, labels: Labels): number {
  check(scores, labels);
  const n = scores.length;
  const pos = countPositives(labels);
  const neg = n - pos;
  if (pos === 0 || neg === 0) return NaN;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a] - scores[b]);
  let rankSumPos = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1]] === scores[order[i]]) j++;
    const midRank = (i + j) / 2 + 1; // 1-based average rank of the tie group
    for (let k = i; k <= j; k++) if (labels[order[k]]) rankSumPos += midRank;
    i = j + 1;
  }
  return (rankSumPos - (pos * (pos + 1)) / 2) / (pos * neg);
}

export interface Confusion {
  threshold: number;
  tp: number;
  fp: number;
  tn: number;
  fn: number;
  /** tp / (tp + fp); 0 when nothing alarms. */
  precision: number;
  /** tp / (tp + fn) — the detection rate. */
  recall: number;
  /** Harmonic mean of precision and recall; 0 when both are 0. */
  f1: number;
  accuracy: number;
  /** fp / (fp + tn) — the false-alarm rate. */
  falseAlarmRate: number;
}

function confusionFromCounts(threshold: number, tp: number, fp: number, pos: number, neg: number): Confusion {
  const fn = pos - tp;
  const tn = neg - fp;
  const precision = tp + fp > 0 ? tp / (tp + fp) : 0;
  const recall = pos > 0 ? tp / pos : 0;
  const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
  return {
    threshold, tp, fp, tn, fn, precision, recall, f1,
    accuracy: pos + neg > 0 ? (tp + tn) / (pos + neg) : NaN,
    falseAlarmRate: neg > 0 ? fp / neg : 0,
  };
}

/** Confusion matrix and the usual rates when alarming on `score > threshold`. */
export function confusionAt(scores: ArrayLike<number>, labels: Labels, threshold: number): Confusion {
  check(scores, labels);
  let tp = 0, fp = 0;
  for (let i = 0; i < scores.length; i++) {
    if (scores[i] > threshold) {
      if (labels[i]) tp++;
      else fp++;
    }
  }
  const pos = countPositives(labels);
  return confusionFromCounts(threshold, tp, fp, pos, scores.length - pos);
}

/**
 * Every distinct operating point, from "alarm on nothing" (threshold = max score) down to "alarm on everything"
 * (threshold = −∞): each threshold is a distinct score, the alarm set is the scores strictly above it.
 */
export function operatingPoints(scores: ArrayLike<number>, labels: Labels): Confusion[] {
  check(scores, labels);
  const n = scores.length;
  const pos = countPositives(labels);
  const neg = n - pos;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[b] - scores[a]);
  const out: Confusion[] = [];
  let tp = 0, fp = 0;
  for (let i = 0; i < n; ) {
    const s = scores[order[i]];
    out.push(confusionFromCounts(s, tp, fp, pos, neg)); // alarms: everything above s
    while (i < n && scores[order[i]] === s) {
      if (labels[order[i]]) tp++;
      else fp++;
      i++;
    }
  }
  out.push(confusionFromCounts(-Infinity, tp, fp, pos, neg));
  return out;
}

/** The threshold with the highest F1 on a labelled mix (ties: the higher threshold, i.e. fewer alarms). */
export function bestF1(scores: ArrayLike<number>, labels: Labels): Confusion {
  let best: Confusion | undefined;
  for (const c of operatingPoints(scores, labels)) if (!best || c.f1 > best.f1) best = c;
  if (!best) throw new RangeError('bestF1 needs at least one score');
  return best;
}

/**
 * Detection rate at a false-alarm rate: the lowest threshold whose false-alarm rate on the labelled normals is at
 * most `far` (e.g. 0.01), and its confusion there.
 */
export function detectionAtFalseAlarmRate(scores: ArrayLike<number>, labels: Labels, far: number): Confusion {
  if (!(far >= 0 && far <= 1)) throw new RangeError(`false-alarm rate must be in [0, 1], got ${far}`);
  let best: Confusion | undefined;
  for (const c of operatingPoints(scores, labels)) {
    if (c.falseAlarmRate <= far) best = c;
    else break;
  }
  if (!best) throw new RangeError('detectionAtFalseAlarmRate needs at least one score');
  return best;
}
