/**
 * @module serve/scoring
 * Scores sequences into the hub: perplexity per finished sequence (in batches), novel above the threshold, and for
 * each novel one an alert with the syscalls that carry most of its surprise (`detect/explain`). Also the
 * click-through: the explanation of one kept sequence, its events with their surprise (rows around the most
 * surprising ones for long sequences), and attention weights when the model offers them.
 *
 * Live input (`watchInto`) runs the watch pipeline (`detect/live`: incremental scoring with the model's own
 * incremental scorer, alerts on running sequences); the batch segmenter cuts the same events beside it, so that the
 * events of each scored sequence are at hand for the click-through. Other model calls (a file scored on request,
 * explanations) go through one queue (`Scorer.run`), so they never run the model at the same time.
 */
import { historyOf } from '../detect/history.js';
import { explain, noEventSurprise, type Explanation } from '../detect/explain.js';
import { sequenceAlert, type AlertFact, type FalcoAlert } from '../detect/alert.js';
import { watchEvents, type WatchOptions, type WatchSummary } from '../detect/live.js';
import { createSegmenter, type Sequence } from '../features/sequences/index.js';
import { inBatches, perplexityOf, SCORE_BATCH, type LanguageModel } from '../models/language-model.js';
import { aboveThreshold, type ExplainingModel } from '../detect/live.js';
import type { PerplexityReference } from '../detect/p-value.js';
import type { ModelManifest } from '../models/folder.js';
import type { SyscallEvent } from '../trace/event.js';
import type { Alert, Culprit, Hub, KeptSequence, Point, RunInfo } from './hub.js';

export interface Threshold {
  name: string;
  value: number;
}

/** Timestamps above this (ns) are taken as wall-clock time (after 1970-01-12); below, as positions or offsets. */
const EPOCH_NS = 1_000_000_000_000_000n;
/** Above this many events, the click-through shows the neighbourhoods of the most surprising events only. */
export const MAX_ROWS = 2000;
const CONTEXT_ROWS = 20;
const TOP_EVENTS = 20;

/** The attention of one predicted event over the events before it, heaviest first (`LanguageModel.attentionMany`). */
export type AttentionRow = Awaited<ReturnType<NonNullable<LanguageModel['attentionMany']>>>[number][number];

/** Attended events listed per predicted event in the click-through. */
const ATTENTION_TOP = 12;
/** Finished sequences of a live run waiting for their score (bounded: sequences the pipeline dropped never come). */
const MAX_WAITING = 20_000;

/** A model of whole sequences blames what it measured (`SequenceFact`s, most surprising first): the top `k`, in nats. */
function factCulprits(facts: readonly { name: string; surprise: number }[], k: number): Culprit[] {
  return [...facts].sort((a, b) => b.surprise - a.surprise).slice(0, k).map((f) => ({ name: f.name, count: 1, nats: f.surprise }));
}

/**
 * The measurements a live alert blames, when it blames them: a model of whole sequences names no event (none carries
 * surprise), and its `seq.facts` say why. Undefined for alerts that name events.
 */
function blamedFacts(f: FalcoAlert['output_fields']): AlertFact[] | undefined {
  const top = f['seq.top_events'];
  const facts = f['seq.facts'];
  return (!Array.isArray(top) || top.length === 0) && Array.isArray(facts) ? (facts as AlertFact[]) : undefined;
}

function culpritsOf(exp: Explanation, k: number): Culprit[] {
  const total = exp.totalNll - (exp.endNll ?? 0);
  return exp.bySyscall.slice(0, k).map((s) => ({ name: s.name, count: s.count, share: total > 0 ? s.totalNll / total : 0 }));
}

function shortArgs(ev: SyscallEvent): string {
  const a = ev.args;
  if (typeof a.raw === 'string') return a.raw.length > 120 ? a.raw.slice(0, 120) + '…' : a.raw;
  const parts: string[] = [];
  for (const [k, v] of Object.entries(a)) {
    if (parts.length >= 5) break;
    const s = typeof v === 'bigint' ? v.toString() : JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x));
    parts.push(`${k}=${s.length > 48 ? s.slice(0, 48) + '…' : s}`);
  }
  return parts.join(', ');
}

/** Event indexes to show: all, or around the most surprising ones. */
function rowsToShow(exp: Explanation): number[] {
  const n = exp.events;
  if (n <= MAX_ROWS) return Array.from({ length: n }, (_, i) => i);
  const keep = new Set<number>();
  for (const t of exp.top) {
    for (let i = Math.max(0, t.index - CONTEXT_ROWS); i <= Math.min(n - 1, t.index + CONTEXT_ROWS); i++) keep.add(i);
    if (keep.size >= MAX_ROWS) break;
  }
  return [...keep].sort((a, b) => a - b);
}

export class Scorer {
  private queue: Promise<unknown> = Promise.resolve();
  /** Runs held to thresholds of their own (a live baseline: `serve --warm-up`), by run id. */
  private readonly runThresholds = new Map<number, { perplexity: number; name: string }>();

  /**
   * `model`: one language model, or a z ensemble (`detect/ensemble-stream.ts`: its perplexity is shown as the ensemble
   * score through `model.scale`, its surprise in σ-nats per member). `manifest`: the folder's (an ensemble's first
   * member's: segmentation and reading). `threshold`: on the model's perplexity. `reference`: p-values against the
   * normal validation sequences (`detect/p-value.ts`), when the folders stored them.
   */
  constructor(readonly model: ExplainingModel, readonly manifest: ModelManifest, readonly threshold: Threshold,
    readonly reference?: PerplexityReference) {}

  /** What the dashboard shows for a perplexity (or a perplexity threshold): itself, or an ensemble's score. */
  shown(perplexity: number): number {
    return this.model.scale ? this.model.scale.of(perplexity) : perplexity;
  }

  /** The shown scale, for the page: its name, whether it is drawn on a log axis, the unit of surprise. */
  get scale(): { name: string; log: boolean; unit: string; threshold: number } {
    const s = this.model.scale;
    return s ? { name: s.name, log: false, unit: s.unit, threshold: s.of(this.threshold.value) }
      : { name: 'perplexity', log: true, unit: 'nats', threshold: this.threshold.value };
  }

  /** Runs `fn` after every model call queued before it. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.queue.then(fn, fn);
    this.queue = p.catch(() => undefined);
    return p;
  }

  /** Whether the model offers attention weights (Transformer, Longformer). */
  get attention(): boolean {
    return typeof this.model.attentionMany === 'function';
  }

  /** Whether live input is scored event by event (`detect/live`), or per finished sequence (kinds without it). */
  get incremental(): boolean {
    return typeof this.model.incremental === 'function';
  }

  /**
   * A scored sequence's point. `verdict`: the live pipeline's (its threshold and p-values, a live baseline's once it
   * has one); without it the sequence is judged here, against the model's threshold and normal sequences.
   */
  private point(run: RunInfo, key: string, seq: Sequence, perplexity: number, verdict?: Pick<Point, 'novel' | 'pValue' | 'warmUp'>): Point {
    if (run.sequences === 0 && seq.events.length > 0) run.timeAxis = seq.events[0].ts >= EPOCH_NS;
    const last = seq.events[seq.events.length - 1];
    const x = run.timeAxis && last ? Number(last.ts) / 1e9 : run.sequences;
    const p = Number.isFinite(perplexity) ? perplexity : 0;
    const v = verdict ?? { novel: aboveThreshold(perplexity, this.threshold.value), pValue: this.reference?.pValue(perplexity) };
    return {
      key, run: run.id, id: seq.id, x, perplexity: p, score: this.shown(p), novel: v.novel, events: seq.events.length,
      ...(v.pValue !== undefined ? { pValue: v.pValue } : {}), ...(v.warmUp ? { warmUp: true as const } : {}),
    };
  }

  /**
   * Scores every finished sequence of `seqs` into `run` (a batch at a time, with the connection's history where the
   * model keeps one); an alert for each novel one. Rejects with the reader's error.
   */
  async scoreInto(hub: Hub, run: RunInfo, seqs: AsyncIterable<Sequence>): Promise<void> {
    // an ensemble scores a pass itself (its members' histories); one model's history is kept here
    const pass = this.model.scorePass?.();
    const history = historyOf(this.model);
    for await (const batch of inBatches(seqs, SCORE_BATCH)) {
      const ppl = pass ? await this.run(() => pass(batch)) : (await this.run(() => this.model.logProbsMany(batch))).map((lp) => perplexityOf(lp));
      const novel: { seq: Sequence; point: Point }[] = [];
      for (let i = 0; i < batch.length; i++) {
        const point = this.point(run, `${run.id}:${run.sequences}`, batch[i], history.perplexity(batch[i].id, ppl[i]!));
        hub.addPoint(run, batch[i], point);
        if (point.novel) novel.push({ seq: batch[i], point });
      }
      if (novel.length > 0) {
        const surprise = await this.run(() => this.model.fieldSurpriseMany(novel.map((n) => n.seq)));
        novel.forEach((n, i) => hub.addAlert(this.alert(run, n.seq, n.point, explain(n.seq, surprise[i], 5))));
      }
    }
  }

  /** A Falco alert (`detect/alert`) for a novel finished sequence, with the syscalls that carry its surprise. */
  private alert(run: RunInfo, seq: Sequence, point: Point, exp: Explanation): Alert {
    const first = seq.events[0];
    const last = seq.events[seq.events.length - 1];
    const facts = noEventSurprise(exp) ? this.model.sequenceFacts?.(seq) : undefined; // a model of whole sequences
    const falco = sequenceAlert({
      ts: last?.ts ?? 0n, seqId: seq.id, proc: first?.proc ?? '', pid: first?.pid ?? -1, tid: first?.tid ?? -1,
      length: seq.events.length, final: true, score: point.perplexity, threshold: this.threshold.value,
      thresholdName: this.threshold.name, top: exp.top.filter((t) => t.nll > 0).map((t) => ({ name: t.name, surprise: Number(t.nll.toFixed(4)) })),
      lost: 0, model: this.model.kind, ...(this.model.scale ? { scale: this.model.scale } : {}),
      ...(point.pValue !== undefined ? { pValue: point.pValue } : {}), ...(facts ? { facts } : {}),
    });
    falco.output_fields['source'] = run.label;
    return {
      key: point.key, run: run.id, id: seq.id, perplexity: point.perplexity, threshold: this.threshold.value,
      score: point.score, scoreThreshold: this.shown(this.threshold.value), culprits: facts ? factCulprits(facts, 3) : culpritsOf(exp, 3), falco,
    };
  }

  /**
   * Live input: scores `events` event by event with the watch pipeline (`detect/live`: incremental scoring,
   * segmentation, alerts on running sequences) into `run`. The events are also cut by the batch segmenter (same
   * sequence ids), so that each scored sequence can be explained when clicked. Resolves to the pipeline's summary.
   */
  async watchInto(hub: Hub, run: RunInfo, events: AsyncIterable<SyscallEvent>,
    options: Pick<WatchOptions, 'latencyMs' | 'lost' | 'prefix' | 'minEvents' | 'warmUp'>): Promise<WatchSummary> {
    const m = this.manifest;
    const seg = createSegmenter(m.segmentation.kind, m.segmentation.maxLength);
    const waiting = new Map<string, Sequence>();
    const keys = new Map<string, string>();
    const alerts = new Map<string, Alert>();
    let next = 0;
    const keyOf = (id: string): string => {
      let k = keys.get(id);
      if (k === undefined) keys.set(id, (k = `${run.id}:${next++}`));
      return k;
    };
    const finished: Sequence[] = [];
    const park = () => {
      for (const s of finished) {
        waiting.set(s.id, s);
        if (waiting.size > MAX_WAITING) waiting.delete(waiting.keys().next().value as string);
      }
      finished.length = 0;
    };
    async function* tee(): AsyncGenerator<SyscallEvent> {
      for await (const ev of events) {
        seg.push(ev, finished);
        if (finished.length) park();
        yield ev;
      }
      seg.flush(finished);
      park();
    }
    const watch = watchEvents(this.model, tee(), {
      segmentation: m.segmentation, threshold: this.threshold.value, thresholdName: this.threshold.name, ...options,
      pValue: this.reference?.pValue,
    });
    for await (const r of watch) {
      if (r.type === 'alert') {
        const f = r.alert.output_fields;
        const id = String(f['seq.id']);
        const top = Array.isArray(f['seq.top_events']) ? f['seq.top_events'] : [];
        const byName = new Map<string, Culprit>();
        for (const t of top) {
          const c = byName.get(t.name) ?? { name: t.name, count: 0, nats: 0 };
          c.count++;
          c.nats! += t.surprise;
          byName.set(t.name, c);
        }
        // The pipeline's alert speaks in shown scores (an ensemble's: `scale`); the hub keeps both.
        const score = Number(f['seq.score']);
        const scoreThreshold = Number(f['seq.threshold']);
        const scale = this.model.scale;
        const facts = blamedFacts(f);
        const alert: Alert = {
          key: keyOf(id), run: run.id, id, perplexity: scale ? scale.perplexityOf(score) : score,
          threshold: scale ? scale.perplexityOf(scoreThreshold) : scoreThreshold, score, scoreThreshold,
          // a model of whole sequences names no event: what it measured against normal is to blame (`seq.facts`)
          culprits: facts ? factCulprits(facts, 3) : [...byName.values()].sort((a, b) => b.nats! - a.nats!).slice(0, 3),
          falco: r.alert,
        };
        r.alert.output_fields['source'] = run.label;
        alerts.set(id, alert);
        hub.addAlert(alert);
        continue;
      }
      if (r.type === 'warm-up') {
        // the live baseline is complete: from here on this run is held to its own thresholds (and p-values)
        const t = { perplexity: r.threshold, value: this.shown(r.threshold), name: `quantile ${r.q} of the first ${r.sequences} live sequences` +
          (r.skipped > 0 ? ` after ${r.skipped} left out` : '') };
        run.threshold = t;
        this.runThresholds.set(run.id, t);
        hub.touch(run);
        continue;
      }
      const seq = waiting.get(r.id) ?? { id: r.id, events: [] };
      waiting.delete(r.id);
      const key = keyOf(r.id);
      keys.delete(r.id);
      const point = this.point(run, key, seq, r.perplexity, { novel: r.novel, pValue: r.pValue, warmUp: r.warmUp });
      hub.addPoint(run, seq, point);
      const alert = alerts.get(r.id);
      alerts.delete(r.id);
      // The whole sequence is known now: blame syscalls by their share of its surprise — unless the alert blames a
      // model of whole sequences' measurements, whose events carry none (no model pass for that).
      if (alert && seq.events.length > 0 && !blamedFacts(alert.falco.output_fields)) {
        const [surprise] = await this.run(() => this.model.fieldSurpriseMany([seq]));
        alert.culprits = culpritsOf(explain(seq, surprise, 0), 3);
        hub.updateAlert(alert);
      }
    }
    return watch.summary();
  }

  /** The explanation of a sequence from its per-field surprise, in the model's unit (an ensemble's: σ-nats, by member). */
  explanation(seq: Sequence, surprise: Record<string, Float64Array>, top: number): Explanation {
    const exp = explain(seq, surprise, top);
    if (this.model.unit) exp.unit = this.model.unit;
    // a model that scores the sequence as a whole (timing) says what it measured, against normal
    const facts = this.model.sequenceFacts?.(seq);
    if (facts && facts.length > 0) exp.facts = facts;
    return exp;
  }

  /** The click-through for one kept sequence. */
  async details(k: KeptSequence): Promise<Record<string, unknown>> {
    const { seq, point } = k;
    const [surprise] = await this.run(() => this.model.fieldSurpriseMany([seq]));
    const exp = this.explanation(seq, surprise, TOP_EVENTS);
    const shown = rowsToShow(exp);
    let attention: AttentionRow[] | undefined;
    const attend = this.model.attentionMany?.bind(this.model);
    if (attend !== undefined && seq.events.length > 0) {
      const want = new Set(shown);
      attention = (await this.run(() => attend([seq], ATTENTION_TOP)))[0]?.filter((r) => want.has(r.from));
    }
    const t0 = seq.events[0]?.ts ?? 0n;
    const fields = exp.perField ? exp.byField.map((f) => f.field) : [];
    const rows = shown.map((i) => {
      const ev = seq.events[i];
      const row: Record<string, unknown> = {
        i, us: Number(ev.ts - t0) / 1000, proc: ev.proc, pid: ev.pid, tid: ev.tid, name: ev.name, args: shortArgs(ev),
        ret: ev.ret === undefined ? '' : String(ev.ret), nll: exp.perEvent[i],
      };
      if (exp.perField) row.fields = fields.map((f) => exp.perField![f][i]);
      return row;
    });
    const { perEvent: _perEvent, perField: _perField, facts, ...summary } = exp;
    const own = this.runThresholds.get(point.run);
    const threshold = own ? { method: 'quantile', name: own.name, value: own.perplexity } : this.threshold;
    return {
      key: point.key, run: point.run, id: seq.id, perplexity: point.perplexity, score: point.score, novel: point.novel, threshold,
      ...(point.pValue !== undefined && this.reference && !own && !point.warmUp ? { pValue: point.pValue, sure: this.reference.describe(point.pValue) } : {}),
      ...(point.pValue !== undefined && own ? { pValue: point.pValue } : {}),
      ...(point.warmUp ? { warmUp: true } : {}),
      model: this.model.kind, explanation: summary, culprits: culpritsOf(exp, 12), fields, rows,
      shownRows: rows.length, maxNll: exp.perEvent.reduce((a, b) => Math.max(a, b), 0), attention,
      ...(facts && facts.length > 0 ? { facts } : {}),
    };
  }
}
