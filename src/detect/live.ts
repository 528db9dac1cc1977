/**
 * @module detect/live
 * Live scoring of an event stream (`watch`, `serve`): events are cut into sequences as the model was trained
 * (`live-segment.ts`), each open sequence is advanced by the model's incremental scorer (`models/stream.ts`) as its
 * events arrive, and the run yields one `SequenceResult` per finished sequence (perplexity, novel or not) and an
 * `AlertRecord` (Falco conventions, `alert.ts`) as soon as a running sequence passes the threshold for its length.
 *
 * Batching: events are queued per sequence; a scoring round pushes one event of every sequence with queued events
 * in one model call (≤ `maxBatch` sequences a call), rounds repeat until the queues are empty, then the sequences
 * that ended are closed, together. Rounds run when `batchEvents` events are queued, at end of input, and — with
 * `latencyMs` > 0, for live sources — at most that long after the first queued event arrived.
 *
 * Alerts on prefixes: a running sequence is tested when its scored length reaches a checkpoint — `minEvents`,
 * 2·`minEvents`, 4·`minEvents`, … — against the prefix threshold calibrated for that length
 * (`live-thresholds.ts`), or the model's sequence threshold where none was calibrated; at most one alert per
 * sequence. A finished sequence that is novel and has not alerted yet alerts when it ends. A few early events
 * therefore never alert, and a normal prefix passes a calibrated checkpoint with probability about 1 − q.
 *
 * A live baseline (`warmUp`): after the first k sequences to finish (left out: a server's start-up is no steady
 * state), the next n are taken as normal — none of these k + n is novel and nothing alerts meanwhile — and the
 * thresholds are then fitted on the n: the sequence threshold, the prefix thresholds (from the prefixes that reached
 * a checkpoint meanwhile) and the p-values, so that the model is held to the traffic it watches rather than to its
 * training data (another run of the same server differs a little in timing). A `WarmUpRecord` marks the switch.
 * Sequences open across it were not checked before it.
 *
 * Bounded memory: at most `maxOpen` sequences are open; a sequence that would open beyond that is not scored and
 * its events are counted as dropped (`summary().dropped`), never silently. Queued events are at most `batchEvents`
 * (plus one finished request for the `request` segmentation); the caller's source is not read meanwhile, so a pipe
 * pushes back on its writer. Per sequence only its running sums and its `topK` most surprising events are kept.
 */
import { historyOf, type ConnectionHistory } from './history.js';
import type { SyscallEvent } from '../trace/event.js';
import type { Sequence } from '../features/sequences/sequence.js';
import type { Segmentation } from '../features/sequences/index.js';
import type { LanguageModel, SequenceFact } from '../models/language-model.js';
import type { IncrementalScorer, StreamHandle } from '../models/stream.js';
import { sequenceAlert, type FalcoAlert, type ScoreScale } from './alert.js';
import { createLiveSegmenter, type LiveSegmenter, type LiveSink } from './live-segment.js';
import { checkpoints, prefixThresholdAt, prefixThresholdsOf, type PrefixThresholds } from './live-thresholds.js';
import { NormalReference } from './p-value.js';
import { quantileValue } from './threshold.js';

/**
 * Whether a live (prefix or sequence) perplexity is above a threshold: by more than a relative 1e-9. Incremental
 * scoring sums a sequence's log-probabilities in another order than full scoring, and thresholds are quantiles of
 * fully scored normal sequences; the n-gram scores many normal requests exactly alike, so a request equal to the
 * quantile's own sequence came out above it by 4e-16 and alerted.
 */
export function aboveThreshold(perplexity: number, threshold: number): boolean {
  return perplexity > threshold * (1 + 1e-9);
}

/**
 * What the live pipeline needs of a model (a language model, or an ensemble: `ensemble-stream.ts`, whose `scale`
 * turns its "perplexity" into the ensemble score for alerts and sequence records).
 */
export type LiveModel = Pick<LanguageModel, 'kind' | 'logProbsMany' | 'incremental' | 'history'> & {
  readonly scale?: ScoreScale;
  /**
   * Judges whole sequences only (a rank ensemble; a timing or profile model, or an ensemble of them): running sequences
   * never alert, and have no prefix thresholds.
   */
  readonly sequenceLevel?: boolean;
};

/**
 * A live model that also explains (per-event surprise per field) and can be released: one language model, or a z
 * ensemble (`ensemble-stream.ts`, whose surprise is in `unit`, σ-nats, one field per member). The dashboard takes it.
 */
export type ExplainingModel = LiveModel & Pick<LanguageModel, 'fieldSurpriseMany' | 'release'> & Partial<Pick<LanguageModel, 'attentionMany' | 'sequenceFacts'>> & {
  readonly unit?: { name: string; short: string; legend: string };
  /** An ensemble: one pass's perplexities of whole sequences, its members' histories kept (`ensemble-stream.ts`). */
  scorePass?(): (seqs: readonly Sequence[]) => Promise<number[]>;
};

export interface WatchOptions {
  /** How the model cuts sequences (the model folder's `segmentation`). */
  segmentation: { kind: Segmentation; maxLength: number };
  /** Perplexity above which a finished sequence is novel (e.g. the model's label-free threshold). */
  threshold: number;
  /** Name of that threshold, for alerts (default `sequence`). */
  thresholdName?: string;
  /** Per-length prefix thresholds; without them the sequence threshold applies at every checkpoint. */
  prefix?: PrefixThresholds;
  /** Scored events before a running sequence may alert; first checkpoint (default 16, or `prefix.minEvents`). */
  minEvents?: number;
  /** Most sequences open at once (default 10,000). */
  maxOpen?: number;
  /** Queued events that start a scoring round (default 8,192). */
  batchEvents?: number;
  /** Most sequences in one model call (default 256). */
  maxBatch?: number;
  /** Score queued events at most this many ms after they arrive (0: only by count and at end; default 0). */
  latencyMs?: number;
  /** Most surprising events kept per sequence for alerts (default 5). */
  topK?: number;
  /** Events the tracer has lost so far (read at each sequence's open and alert). */
  lost?: () => number;
  /**
   * The p-value of a finished sequence's perplexity against normal validation sequences (`detect/p-value.ts`): its
   * sequence record and its alert, when it ends novel, carry it.
   */
  pValue?: (perplexity: number) => number;
  /**
   * A live baseline (see the module comment): after `skip` sequences left out, the next `sequences` to finish are
   * taken as normal, then the sequence threshold becomes the `q`-quantile of their perplexities (replacing
   * `threshold`), the prefix thresholds the `prefixQuantile`-quantiles of the prefixes that reached each checkpoint
   * meanwhile (replacing `prefix`; false: none, the sequence threshold at every checkpoint), and p-values are taken
   * against them.
   */
  warmUp?: WarmUp;
}

export interface WarmUp {
  /** Sequences to finish first that are left out of the baseline (a server's start-up): neither judged nor used. */
  skip: number;
  sequences: number;
  q: number;
  prefixQuantile: number | false;
}

/** One finished sequence. */
export interface SequenceResult {
  type: 'sequence';
  id: string;
  process: string;
  pid: number;
  tid: number;
  /** Events scored (the end token not counted). */
  length: number;
  truncated: boolean;
  perplexity: number;
  /** An ensemble's: its score (what `score --model a/ --model b/` prints), of which `perplexity` is a monotone map. */
  score?: number;
  novel: boolean;
  threshold: number;
  /** Its p-value against normal validation sequences (`WatchOptions.pValue`), when given. */
  pValue?: number;
  /** Whether an alert was raised for it (while running, or at its end). */
  alerted: boolean;
  /** Part of the live baseline (`WatchOptions.warmUp`): taken as normal, `threshold` NaN (null in JSON). */
  warmUp?: true;
}

/** The end of the live baseline: the thresholds fitted on it, in force from here on. */
export interface WarmUpRecord {
  type: 'warm-up';
  /** Finished sequences the sequence threshold was fitted on, after `skipped` left out. */
  sequences: number;
  skipped: number;
  /** Quantile and value of the sequence threshold (a perplexity; `score`: an ensemble's score for it). */
  q: number;
  threshold: number;
  score?: number;
  /** Prefix thresholds per checkpoint length (perplexities; `score`: an ensemble's), empty without. */
  prefix: { length: number; value: number; score?: number; fittedOn: number }[];
}

export interface AlertRecord {
  type: 'alert';
  alert: FalcoAlert;
}

export type WatchRecord = SequenceResult | AlertRecord | WarmUpRecord;

export interface WatchSummary {
  /** Events read from the source. */
  events: number;
  /** Sequences finished and scored. */
  sequences: number;
  /** Sequences still open (0 once the run has ended). */
  open: number;
  alerts: number;
  novel: number;
  dropped: {
    /** Sequences not scored because `maxOpen` were open, and their events. */
    sequences: number;
    events: number;
    /** Events past a sequence's length cap (the sequence ends with the truncate token). */
    byCap: number;
    /** Events that belong to no sequence (connection / request segmentations). */
    unassigned: number;
  };
  /** Events the tracer lost (from `options.lost`). */
  lost: number;
  /** Model calls (scoring rounds' pushes and closes) and the events they scored. */
  modelCalls: number;
  seconds: number;
  /** With a live baseline: sequences it has taken of those it needs (`done` once the thresholds were fitted). */
  warmUp?: { sequences: number; of: number; done: boolean };
}

/** A running watch: records as they come, a summary at any time, and `stop()` to end at the next event. */
export interface WatchRun extends AsyncIterable<WatchRecord> {
  summary(): WatchSummary;
  /** Ends the run: what is queued is scored, open sequences are ended (as at end of input), the summary is final. */
  stop(): void;
}

/** Per open sequence. */
class LiveSeq {
  readonly pending: SyscallEvent[] = [];
  queued = false;
  ending = false;
  endTruncated = false;
  truncated = false;
  length = 0;
  n = 0;
  sum = 0;
  nextCheck: number;
  alerted = false;
  proc: string;
  readonly pid: number;
  readonly tid: number;
  readonly topName: string[] = [];
  readonly topSurprise: number[] = [];
  lastTs: bigint;

  constructor(readonly id: string, readonly handle: StreamHandle, first: SyscallEvent, readonly lost0: number, minEvents: number) {
    this.proc = first.proc;
    this.pid = first.pid;
    this.tid = first.tid;
    this.lastTs = first.ts;
    this.nextCheck = minEvents;
  }

  /**
   * Keeps the `k` most surprising events (unordered; sorted when reported). Events of no surprise are not kept: the
   * models of whole sequences (timing, profile) give every event 0, and an alert naming them as "most surprising"
   * would mislead.
   */
  keepTop(name: string, s: number, k: number): void {
    if (!(s > 0)) return;
    const top = this.topSurprise;
    if (top.length < k) {
      top.push(s);
      this.topName.push(name);
      return;
    }
    let m = 0;
    for (let i = 1; i < top.length; i++) if (top[i]! < top[m]!) m = i;
    if (s > top[m]!) {
      top[m] = s;
      this.topName[m] = name;
    }
  }

  top(): { name: string; surprise: number }[] {
    return this.topSurprise.map((s, i) => ({ name: this.topName[i]!, surprise: Number(s.toFixed(4)) }))
      .sort((a, b) => b.surprise - a.surprise);
  }
}

/** The shared state of sequences that could not be opened (over `maxOpen`). */
const DROPPED = Symbol('dropped');
type Slot = LiveSeq | typeof DROPPED;

/** The live pipeline, push-style: `push` events, `score` to run the queued rounds; results collect in `out`. */
export class LivePipeline implements LiveSink<Slot> {
  readonly out: WatchRecord[] = [];
  private readonly seg: LiveSegmenter<Slot>;
  private readonly queue: LiveSeq[] = [];
  private queued = 0;
  private openNow = 0;
  private readonly o: Required<Omit<WatchOptions, 'threshold' | 'thresholdName' | 'prefix' | 'lost' | 'pValue' | 'warmUp'>> & Pick<WatchOptions, 'lost' | 'warmUp'>;
  // What finished and running sequences are held to: the options' until a live baseline replaces them.
  private threshold: number;
  private thresholdName: string;
  private prefix: PrefixThresholds | undefined;
  private pValue: ((perplexity: number) => number) | undefined;
  /** While the live baseline lasts: its finished perplexities, and its prefix perplexities per checkpoint. */
  private warming: { skip: number; finished: number[]; lengths: number[]; prefixes: number[][] } | undefined;
  /** Models scored with their connection's history: a finished request's verdict is on that (`detect/history.ts`). */
  private readonly history: ConnectionHistory;
  private readonly t0 = performance.now();
  private readonly s = {
    sequences: 0, alerts: 0, novel: 0, droppedSequences: 0, droppedEvents: 0, byCap: 0, modelCalls: 0,
  };
  // Reused per model call.
  private readonly hs: StreamHandle[] = [];
  private readonly evs: SyscallEvent[] = [];
  private readonly seqs: LiveSeq[] = [];

  constructor(private readonly model: LiveModel, private readonly scorer: IncrementalScorer, options: WatchOptions) {
    const minEvents = options.minEvents ?? options.prefix?.minEvents ?? 16;
    this.o = {
      segmentation: options.segmentation, lost: options.lost, warmUp: options.warmUp, minEvents, maxOpen: options.maxOpen ?? 10_000,
      batchEvents: options.batchEvents ?? 8192, maxBatch: options.maxBatch ?? 256, latencyMs: options.latencyMs ?? 0,
      topK: options.topK ?? 5,
    };
    this.threshold = options.threshold;
    this.thresholdName = options.thresholdName ?? 'sequence';
    this.prefix = options.prefix;
    this.pValue = options.pValue;
    this.history = historyOf(model);
    for (const k of ['minEvents', 'maxOpen', 'batchEvents', 'maxBatch', 'topK'] as const) {
      const v = this.o[k];
      if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`watch: ${k} must be a positive integer, got ${v}`);
    }
    if (!(this.o.latencyMs >= 0)) throw new RangeError(`watch: latencyMs must be >= 0, got ${this.o.latencyMs}`);
    if (Number.isNaN(this.threshold)) throw new RangeError('watch: the threshold is not a number');
    const w = options.warmUp;
    if (w) {
      if (!Number.isSafeInteger(w.sequences) || w.sequences < 1) throw new RangeError(`watch: the warm-up must be a positive number of sequences, got ${w.sequences}`);
      if (!Number.isSafeInteger(w.skip) || w.skip < 0) throw new RangeError(`watch: the sequences a warm-up skips must be a number >= 0, got ${w.skip}`);
      for (const q of [w.q, w.prefixQuantile]) if (q !== false && !(q > 0 && q <= 1)) throw new RangeError(`watch: a warm-up quantile must be in (0, 1], got ${q}`);
      const lengths = checkpoints(minEvents, options.segmentation.maxLength);
      this.warming = { skip: w.skip, finished: [], lengths, prefixes: lengths.map(() => []) };
    }
    this.seg = createLiveSegmenter<Slot>(options.segmentation.kind, options.segmentation.maxLength);
  }

  /** Events queued for scoring. */
  get pendingEvents(): number {
    return this.queued;
  }

  /** Sequences ending or with events waiting for a scoring round. */
  get pendingSequences(): number {
    return this.queue.length;
  }

  // ---- LiveSink

  open(id: string, first: SyscallEvent): Slot {
    if (this.openNow >= this.o.maxOpen) {
      this.s.droppedSequences++;
      return DROPPED;
    }
    this.openNow++;
    // a model of whole sequences never checks a running one: its first checkpoint never comes
    return new LiveSeq(id, this.scorer.open(id), first, this.o.lost?.() ?? 0, this.model.sequenceLevel ? Infinity : this.o.minEvents);
  }

  add(s: Slot, ev: SyscallEvent): void {
    if (s === DROPPED) {
      this.s.droppedEvents++;
      return;
    }
    if (s.length >= this.o.segmentation.maxLength) {
      s.truncated = true;
      this.s.byCap++;
      return;
    }
    s.length++;
    s.pending.push(ev);
    if (ev.proc !== '') s.proc = ev.proc;
    if (!s.queued) {
      s.queued = true;
      this.queue.push(s);
    }
    this.queued++;
  }

  end(s: Slot, truncated: boolean): void {
    if (s === DROPPED) return;
    s.ending = true;
    s.endTruncated = truncated || s.truncated;
    if (!s.queued) {
      s.queued = true;
      this.queue.push(s);
    }
  }

  // ---- feeding

  /** Feeds one event; true when enough is queued that `score()` should run now. */
  push(ev: SyscallEvent): boolean {
    this.seg.push(ev, this);
    return this.queued >= this.o.batchEvents;
  }

  /** End of input: ends every open sequence (score afterwards). */
  flushSegments(): void {
    this.seg.flush(this);
  }

  /** Scores everything queued: rounds of pushes, then the closes; results go to `out`. */
  async score(): Promise<void> {
    const q = this.queue;
    if (q.length === 0) return;
    // Round d pushes the d-th queued event of every sequence that has one; the list shrinks as queues run out.
    let active = q.filter((s) => s.pending.length > 0);
    for (let d = 0; active.length > 0; d++) {
      for (const s of active) {
        this.hs.push(s.handle);
        this.evs.push(s.pending[d]!);
        this.seqs.push(s);
        if (this.hs.length === this.o.maxBatch) await this.runPush();
      }
      if (this.hs.length > 0) await this.runPush();
      if (active.some((s) => s.pending.length <= d + 1)) active = active.filter((s) => s.pending.length > d + 1);
    }
    const closing: LiveSeq[] = [];
    for (const s of q) {
      s.pending.length = 0;
      s.queued = false;
      if (s.ending) closing.push(s);
    }
    q.length = 0;
    this.queued = 0;
    for (let i = 0; i < closing.length; i += this.o.maxBatch) await this.runClose(closing.slice(i, i + this.o.maxBatch));
  }

  private async runPush(): Promise<void> {
    const lp = await this.scorer.push(this.hs, this.evs);
    this.s.modelCalls++;
    const k = this.o.topK;
    for (let i = 0; i < this.seqs.length; i++) {
      const s = this.seqs[i]!;
      const x = lp[i]!;
      s.sum += x;
      s.n++;
      s.lastTs = this.evs[i]!.ts;
      s.keepTop(this.evs[i]!.name, -x, k);
      if (s.n === s.nextCheck) {
        s.nextCheck *= 2;
        const w = this.warming;
        if (!w) {
          if (!s.alerted) this.check(s);
        } else if (w.skip === 0) w.prefixes[w.lengths.indexOf(s.n)]?.push(Math.exp(-s.sum / s.n));
      }
    }
    this.hs.length = 0;
    this.evs.length = 0;
    this.seqs.length = 0;
  }

  private check(s: LiveSeq): void {
    const ppl = Math.exp(-s.sum / s.n);
    const p = this.prefix ? prefixThresholdAt(this.prefix, s.n) : undefined;
    const thr = p ?? this.threshold;
    if (!aboveThreshold(ppl, thr)) return;
    // how sure: against the normal prefixes of this length the threshold was fitted on
    const pValue = p !== undefined ? this.prefix!.pValueAt?.(s.n, ppl) : undefined;
    this.alert(s, false, ppl, thr, p !== undefined ? `prefix q=${this.prefix!.q} @${s.n}` : this.thresholdName, pValue);
  }

  /** The live baseline is complete: fits the thresholds on it, from now on in force. */
  private endWarmUp(): void {
    const w = this.warming!;
    const { q, prefixQuantile } = this.o.warmUp!;
    this.warming = undefined;
    const n = w.finished.length;
    this.threshold = quantileValue(w.finished, q);
    this.thresholdName = `warm-up q=${q} of ${n}`;
    this.prefix = prefixQuantile === false ? undefined : prefixThresholdsOf(w.lengths, w.prefixes, prefixQuantile, this.o.minEvents, n);
    this.pValue = new NormalReference(w.finished.map(Math.log), `${n} warm-up sequences`).forPerplexity().pValue;
    const scale = this.model.scale;
    const shown = (v: number) => (scale ? { score: scale.of(v) } : {});
    this.out.push({
      type: 'warm-up', sequences: n, skipped: this.o.warmUp!.skip, q, threshold: this.threshold, ...shown(this.threshold),
      prefix: (this.prefix?.points ?? []).map((p) => ({ length: p.length, value: p.value, ...shown(p.value), fittedOn: p.fittedOn })),
    });
  }

  private alert(s: LiveSeq, final: boolean, score: number, threshold: number, thresholdName: string, pValue?: number, facts?: SequenceFact[]): void {
    s.alerted = true;
    this.s.alerts++;
    const alert = sequenceAlert({
      ts: s.lastTs, seqId: s.id, proc: s.proc, pid: s.pid, tid: s.tid, length: s.n - (final ? 1 : 0), final, score, threshold,
      thresholdName, top: s.top(), lost: (this.o.lost?.() ?? 0) - s.lost0, model: this.model.kind,
      ...(this.model.scale ? { scale: this.model.scale } : {}), ...(pValue !== undefined ? { pValue } : {}), ...(facts ? { facts } : {}),
    });
    this.out.push({ type: 'alert', alert });
  }

  private async runClose(seqs: LiveSeq[]): Promise<void> {
    const lp = await this.scorer.close(seqs.map((s) => s.handle), seqs.map((s) => s.endTruncated));
    this.s.modelCalls++;
    for (let i = 0; i < seqs.length; i++) {
      const s = seqs[i]!;
      s.sum += lp[i]!;
      s.n++;
      this.openNow--;
      const own = Math.exp(-s.sum / s.n);
      const ppl = this.history.perplexity(s.id, own);
      this.s.sequences++;
      const record = {
        type: 'sequence' as const, id: s.id, process: s.proc, pid: s.pid, tid: s.tid, length: s.length, truncated: s.endTruncated,
        perplexity: ppl, ...(this.model.scale ? { score: this.model.scale.of(ppl) } : {}),
      };
      if (this.warming) {
        if (this.warming.skip > 0) this.warming.skip--;
        else this.warming.finished.push(ppl);
        this.out.push({ ...record, novel: false, threshold: NaN, alerted: false, warmUp: true });
        if (this.warming.finished.length === this.o.warmUp!.sequences) this.endWarmUp();
        continue;
      }
      const novel = aboveThreshold(ppl, this.threshold);
      const pValue = this.pValue?.(ppl);
      if (novel) {
        this.s.novel++;
        // a model of whole sequences says what it measured (of a sequence this close ended: `IncrementalScorer.facts`)
        if (!s.alerted) this.alert(s, true, ppl, this.threshold, this.thresholdName, pValue, this.scorer.facts?.(s.handle));
      }
      this.out.push({ ...record, novel, threshold: this.threshold, ...(pValue !== undefined ? { pValue } : {}), alerted: s.alerted });
    }
  }

  summary(): WatchSummary {
    const c = this.seg.counts;
    return {
      events: c.events, sequences: this.s.sequences, open: this.openNow, alerts: this.s.alerts, novel: this.s.novel,
      dropped: {
        sequences: this.s.droppedSequences, events: this.s.droppedEvents, byCap: this.s.byCap + c.droppedByCap, unassigned: c.unassigned,
      },
      lost: this.o.lost?.() ?? 0, modelCalls: this.s.modelCalls, seconds: (performance.now() - this.t0) / 1000,
      ...(this.o.warmUp ? {
        warmUp: { sequences: this.warming?.finished.length ?? this.o.warmUp.sequences, of: this.o.warmUp.sequences, done: this.warming === undefined },
      } : {}),
    };
  }
}

const TIMER = Symbol('timer');
const STOP = Symbol('stop');

/**
 * Scores `events` live with `model` (which must offer `incremental()`); see the module comment. The model is not
 * released (the caller owns it); the incremental scorer is, when the run ends.
 */
export function watchEvents(model: LiveModel, events: AsyncIterable<SyscallEvent>, options: WatchOptions): WatchRun {
  if (!model.incremental) throw new RangeError(`model kind '${model.kind}' cannot score incrementally`);
  const scorer = model.incremental();
  let pipe: LivePipeline;
  try {
    pipe = new LivePipeline(model, scorer, options);
  } catch (e) {
    void scorer.release();
    throw e;
  }
  let stopped = false;
  let wake: (v: typeof STOP) => void = () => {};
  const stopP = new Promise<typeof STOP>((r) => (wake = r));
  const latency = options.latencyMs ?? 0;
  let used = false;
  return {
    summary: () => pipe.summary(),
    stop() {
      stopped = true;
      wake(STOP);
    },
    async *[Symbol.asyncIterator]() {
      if (used) throw new Error('watchEvents: a run can be iterated once');
      used = true;
      const it = events[Symbol.asyncIterator]();
      let next: Promise<IteratorResult<SyscallEvent>> | null = null;
      let timer: Promise<typeof TIMER> | null = null;
      let ended = false;
      try {
        while (!stopped) {
          next ??= it.next();
          let r: IteratorResult<SyscallEvent> | typeof TIMER | typeof STOP;
          if (latency > 0) {
            if (pipe.pendingSequences > 0) timer ??= new Promise((res) => setTimeout(res, latency, TIMER));
            r = await Promise.race(timer ? [next, timer, stopP] : [next, stopP]);
            if (r === TIMER) {
              timer = null;
              await pipe.score();
              if (pipe.out.length) yield* pipe.out.splice(0);
              continue;
            }
            if (r === STOP) break;
          } else {
            r = await next;
          }
          next = null;
          if (r.done) {
            ended = true;
            break;
          }
          if (pipe.push(r.value)) {
            timer = null;
            await pipe.score();
          }
          if (pipe.out.length) yield* pipe.out.splice(0);
        }
        if (!ended) {
          ended = true;
          void it.return?.(); // stopped: let the source clean up, without waiting on it
        }
        pipe.flushSegments();
        await pipe.score();
        if (pipe.out.length) yield* pipe.out.splice(0);
      } finally {
        if (!ended) void it.return?.(); // the consumer left early
        await scorer.release();
      }
    },
  };
}
