/**
 * @module detect/alert
 * Alerts in Falco's JSON output conventions (`json_output: true`): `time` (RFC 3339, UTC, nanoseconds when the
 * event clock has them), `priority` (Falco's levels), `rule`, `output` (one readable sentence), `output_fields`
 * (dotted field names, as Falco's `proc.name`, `proc.pid`, `thread.tid`, `evt.time`), `source`, `tags` and
 * `hostname`. A consumer of Falco alerts (falcosidekick, a SIEM rule) reads them unchanged.
 */
import { hostname } from 'node:os';
import type { SequenceFact } from '../models/language-model.js';

/** Falco's priorities, most severe first. */
export type FalcoPriority = 'Emergency' | 'Alert' | 'Critical' | 'Error' | 'Warning' | 'Notice' | 'Informational' | 'Debug';

export interface FalcoAlert {
  time: string;
  priority: FalcoPriority;
  rule: string;
  output: string;
  source: string;
  tags: string[];
  hostname: string;
  output_fields: Record<string, string | number | boolean | null | { name: string; surprise: number }[] | AlertFact[]>;
}

/** One measurement of a whole-sequence model in an alert (`seq.facts`): a `SequenceFact` less its wording. */
export type AlertFact = Pick<SequenceFact, 'name' | 'value' | 'normal' | 'unit' | 'z' | 'surprise'>;

/** A fact's value or normal value for people: whole numbers with separators from 100 up, else 3 significant digits. */
export const factNumber = (x: number): string => (x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toPrecision(3));

/** The rule of every language-model alert. */
export const NOVEL_SEQUENCE_RULE = 'Novel syscall sequence';
export const ALERT_SOURCE = 'syscall-anomaly';

/** What an alert says about one running or finished sequence. */
export interface SequenceAlertFacts {
  /** Event time (ns since the epoch, or since trace start when the source has no absolute clock). */
  ts: bigint;
  seqId: string;
  proc: string;
  pid: number;
  tid: number;
  /** Events scored so far (the prefix length), and whether the sequence has ended. */
  length: number;
  final: boolean;
  /** Perplexity of the prefix (of the whole sequence, end token included, when final). */
  score: number;
  threshold: number;
  /** Where the threshold came from, e.g. `prefix q=0.99 @64` or `labelFree q=0.99`. */
  thresholdName: string;
  /** The most surprising events so far, most surprising first: name and −ln P in nats. */
  top: { name: string; surprise: number }[];
  /** Events the tracer lost while the sequence was open (its scores may be off by what is missing). */
  lost: number;
  /**
   * How sure: the conformal p-value of the sequence (finished) or prefix (running) against the normal ones of the same
   * length (`detect/p-value.ts`).
   */
  pValue?: number;
  model: string;
  /** How `score` and `threshold` are shown when they are not one model's perplexities (an ensemble's). */
  scale?: ScoreScale;
  /**
   * A model of whole sequences (timing, profile): what it measured of the sequence against normal, most surprising
   * first (`LanguageModel.sequenceFacts`); its events carry no surprise of their own, so these say why.
   */
  facts?: SequenceFact[];
}

/** A display scale for a model whose "perplexity" is a monotone map of another score (`detect/ensemble-stream.ts`). */
export interface ScoreScale {
  /** What the shown score is called, e.g. `ensemble score`. */
  name: string;
  /** The unit of per-event surprise, e.g. `σ-nats`. */
  unit: string;
  /** The shown score of a perplexity (or of a perplexity threshold). */
  of(perplexity: number): number;
  /** The perplexity of a shown score (the inverse of `of`). */
  perplexityOf(score: number): number;
}

/** ns timestamps before 2001 are not wall-clock times (the source had no absolute clock). */
const EPOCH_FLOOR_NS = 978_307_200_000_000_000n;

/** RFC 3339 UTC with nanoseconds, e.g. `2026-11-22T23:40:51.123456789Z`. */
export function rfc3339Ns(ns: bigint): string {
  const ms = ns / 1_000_000n;
  const iso = new Date(Number(ms)).toISOString(); // …T23:40:51.123Z
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0');
  return `${iso.slice(0, 19)}.${frac}Z`;
}

let host: string | undefined;

/** A Falco-style alert for a sequence whose (prefix) perplexity passed its threshold. */
export function sequenceAlert(f: SequenceAlertFacts, now: () => Date = () => new Date()): FalcoAlert {
  const wall = f.ts >= EPOCH_FLOOR_NS;
  const time = wall ? rfc3339Ns(f.ts) : now().toISOString();
  const ratio = f.score / f.threshold;
  const priority: FalcoPriority = ratio >= 2 ? 'Error' : 'Warning';
  const unit = f.scale?.unit ?? 'nats';
  const top = f.top.slice(0, 3).map((t) => `${t.name} (${t.surprise.toFixed(1)} ${unit})`).join(', ');
  const byWeight = [...(f.facts ?? [])].sort((a, b) => b.surprise - a.surprise);
  const facts = byWeight.slice(0, 3).map((x) => `${x.name} ${factNumber(x.value)} ${x.unit} (normal ~${factNumber(x.normal)} ${x.unit})`).join(', ');
  const proc = f.proc === '' ? '?' : f.proc;
  const score = f.scale ? f.scale.of(f.score) : f.score;
  const threshold = f.scale ? f.scale.of(f.threshold) : f.threshold;
  const output = `${f.final ? 'Novel' : 'Running'} syscall sequence ${f.seqId} of ${proc} (pid ${f.pid}, tid ${f.tid}): ${f.scale?.name ?? 'perplexity'} ` +
    `${score.toPrecision(4)} ${f.final ? 'over all' : 'after'} ${f.length} events exceeds ${threshold.toPrecision(4)}` +
    (f.pValue !== undefined ? ` (p = ${f.pValue.toPrecision(2)} against normal ${f.final ? 'sequences' : 'prefixes'})` : '') +
    (top ? `; most surprising: ${top}` : '') + (facts ? `; against normal: ${facts}` : '') + (f.lost > 0 ? `; ${f.lost} events lost meanwhile` : '');
  host ??= hostname();
  return {
    time, priority, rule: NOVEL_SEQUENCE_RULE, output, source: ALERT_SOURCE, tags: ['syscall', 'anomaly', f.model],
    hostname: host,
    output_fields: {
      'evt.time': f.ts.toString(), 'evt.time.wall': wall, 'seq.id': f.seqId, 'proc.name': f.proc, 'proc.pid': f.pid,
      'thread.tid': f.tid, 'seq.length': f.length, 'seq.final': f.final, 'seq.score': score, 'seq.threshold': threshold,
      'seq.threshold_name': f.thresholdName, 'seq.top_events': f.top, 'evt.lost': f.lost, 'model.kind': f.model,
      ...(f.pValue !== undefined ? { 'seq.p_value': f.pValue } : {}),
      ...(f.facts ? { 'seq.facts': byWeight.map(({ name, value, normal, unit, z, surprise }) => ({ name, value, normal, unit, z, surprise })) } : {}),
    },
  };
}
