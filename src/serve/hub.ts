/**
 * @module serve/hub
 * What the dashboard shows, kept in memory, and pushed to every open event stream (server-sent events).
 *
 * - A **run** is one source of sequences: the live input (`--input`, `--strace`, `--perf`…), or a trace file scored
 *   on request (picked under the data folder, or uploaded).
 * - A **point** is one scored sequence: its time (the last event's timestamp, seconds) or, for sources without a
 *   clock (ADFA-LD), its position; its perplexity (and score, for an ensemble); whether it is above the threshold.
 * - An **alert** is a novel sequence in the Falco JSON shape (`time`, `priority`, `rule`, `output`, `output_fields`),
 *   with the syscalls that carry most of its surprise.
 *
 * Memory is bounded: at most `maxPoints` points and `maxAlerts` alerts (the oldest go first), and the events of at
 * most `maxKeptSequences` sequences for the click-through (the most recent, novel ones preferred); what was let go
 * is counted and shown. Stream messages are batched (every `FLUSH_MS`) so a fast replay does not flood the page;
 * a client that cannot keep up (over `MAX_BUFFERED` bytes unsent) is disconnected and reconnects to a fresh
 * snapshot.
 */
import type { ServerResponse } from 'node:http';
import type { Sequence } from '../features/sequences/sequence.js';
import type { DataSummary } from '../features/dataset.js';
import type { FalcoAlert } from '../detect/alert.js';

export type RunKind = 'live' | 'file' | 'upload';
export type RunStatus = 'running' | 'done' | 'failed';

export interface RunInfo {
  id: number;
  kind: RunKind;
  /** What was read: the input, the file's path under the data folder, the uploaded file's name. */
  label: string;
  status: RunStatus;
  error?: string;
  started: string;
  finished?: string;
  sequences: number;
  novel: number;
  events: number;
  /** Whether points are placed by time (seconds since the epoch) or by position. */
  timeAxis: boolean;
  summary?: DataSummary;
  /**
   * The live input's own threshold once its baseline is complete (`serve --warm-up`): on the model's perplexity and
   * as shown (an ensemble's score), with its name; until then, and for other runs, the model's.
   */
  threshold?: { perplexity: number; value: number; name: string };
}

export interface Point {
  /** `<run>:<n>`: the handle the page asks explanations by. */
  key: string;
  run: number;
  /** Sequence id from the segmenter (`req:…`, `tid:…`). */
  id: string;
  x: number;
  /** The model's perplexity (an ensemble's: exp(ensemble score + C), `detect/ensemble-stream.ts`). */
  perplexity: number;
  /** What the chart shows: the perplexity, or an ensemble's score (`Scorer.shown`). */
  score: number;
  novel: boolean;
  events: number;
  /** Its p-value against the model's normal validation sequences (`detect/p-value.ts`), when they are stored. */
  pValue?: number;
  /** Part of the live baseline (`serve --warm-up`): taken as normal. */
  warmUp?: true;
}

/**
 * A syscall blamed for an alert: its share of the sequence's surprise (once the whole sequence is explained), or,
 * for an alert on a running sequence, the surprise (nats) of its most surprising events so far.
 */
export interface Culprit {
  name: string;
  count: number;
  share?: number;
  nats?: number;
}

export interface Alert {
  key: string;
  run: number;
  id: string;
  perplexity: number;
  threshold: number;
  /** `perplexity` and `threshold` as shown: the same, or an ensemble's scores. */
  score: number;
  scoreThreshold: number;
  culprits: Culprit[];
  falco: FalcoAlert;
}

export interface KeptSequence {
  seq: Sequence;
  point: Point;
}

export interface HubLimits {
  maxPoints: number;
  maxAlerts: number;
  maxKeptSequences: number;
}

export const DEFAULT_LIMITS: HubLimits = { maxPoints: 100_000, maxAlerts: 2_000, maxKeptSequences: 5_000 };
const FLUSH_MS = 100;
const HEARTBEAT_MS = 15_000;
const MAX_BUFFERED = 8 << 20;

interface Client {
  res: ServerResponse;
}

export class Hub {
  readonly runs: RunInfo[] = [];
  private points: Point[] = [];
  private alerts: Alert[] = [];
  private readonly kept = new Map<string, KeptSequence>();
  private readonly clients = new Set<Client>();
  private pending: { points: Point[]; alerts: Alert[]; runs: Map<number, RunInfo> } = { points: [], alerts: [], runs: new Map() };
  private flushTimer: NodeJS.Timeout | undefined;
  private readonly heartbeat: NodeJS.Timeout;
  /** What the bounds let go. */
  readonly dropped = { points: 0, alerts: 0, sequences: 0 };

  constructor(readonly info: Record<string, unknown>, readonly limits: HubLimits = DEFAULT_LIMITS) {
    this.heartbeat = setInterval(() => this.broadcastRaw(': ping\n\n'), HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  newRun(kind: RunKind, label: string): RunInfo {
    const run: RunInfo = {
      id: this.runs.length + 1, kind, label, status: 'running', started: new Date().toISOString(),
      sequences: 0, novel: 0, events: 0, timeAxis: true,
    };
    this.runs.push(run);
    this.touch(run);
    return run;
  }

  /** Marks a run as changed (sent with the next batch). */
  touch(run: RunInfo): void {
    this.pending.runs.set(run.id, run);
    this.schedule();
  }

  finish(run: RunInfo, error?: string): void {
    run.status = error === undefined ? 'done' : 'failed';
    if (error !== undefined) run.error = error;
    run.finished = new Date().toISOString();
    this.touch(run);
  }

  addPoint(run: RunInfo, seq: Sequence, point: Point): void {
    run.sequences++;
    run.events += seq.events.length;
    if (point.novel) run.novel++;
    this.points.push(point);
    if (this.points.length > this.limits.maxPoints) {
      const cut = this.points.length - this.limits.maxPoints;
      this.points.splice(0, cut);
      this.dropped.points += cut;
    }
    this.keep({ seq, point });
    this.pending.points.push(point);
    this.touch(run);
  }

  /** Sends an alert again after its culprits were refined (same key). */
  updateAlert(alert: Alert): void {
    this.pending.alerts.push(alert);
    this.schedule();
  }

  addAlert(alert: Alert): void {
    this.alerts.push(alert);
    if (this.alerts.length > this.limits.maxAlerts) {
      this.alerts.shift();
      this.dropped.alerts++;
    }
    this.pending.alerts.push(alert);
    this.schedule();
  }

  private keep(k: KeptSequence): void {
    this.kept.set(k.point.key, k);
    if (this.kept.size <= this.limits.maxKeptSequences) return;
    // Let the oldest normal sequence go (never the one just added); when all others are novel, the oldest one.
    let victim: string | undefined;
    for (const [key, v] of this.kept) {
      if (!v.point.novel && key !== k.point.key) {
        victim = key;
        break;
      }
    }
    victim ??= this.kept.keys().next().value;
    if (victim !== undefined) {
      this.kept.delete(victim);
      this.dropped.sequences++;
    }
  }

  sequence(key: string): KeptSequence | undefined {
    return this.kept.get(key);
  }

  /** Everything the page needs to draw itself from scratch. */
  snapshot(): Record<string, unknown> {
    return { info: this.info, runs: this.runs, points: this.points, alerts: this.alerts, dropped: this.dropped, keptSequences: this.limits.maxKeptSequences };
  }

  /** Turns `res` into an event stream: a snapshot first, then batches as they come. */
  subscribe(res: ServerResponse, headers: Record<string, string>): void {
    res.writeHead(200, {
      ...headers, 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    const client: Client = { res };
    this.clients.add(client);
    res.on('close', () => this.clients.delete(client));
    res.write('retry: 2000\n\n');
    this.send(client, 'snapshot', this.snapshot());
  }

  get clientCount(): number {
    return this.clients.size;
  }

  private schedule(): void {
    if (this.flushTimer !== undefined) return;
    this.flushTimer = setTimeout(() => this.flush(), FLUSH_MS);
  }

  /** Sends what is pending now. */
  flush(): void {
    if (this.flushTimer !== undefined) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const p = this.pending;
    if (p.points.length === 0 && p.alerts.length === 0 && p.runs.size === 0) return;
    this.pending = { points: [], alerts: [], runs: new Map() };
    const batch = { points: p.points, alerts: p.alerts, runs: [...p.runs.values()], dropped: this.dropped };
    for (const c of this.clients) this.send(c, 'batch', batch);
  }

  private send(c: Client, event: string, data: unknown): void {
    if (c.res.writableLength > MAX_BUFFERED) {
      c.res.destroy(); // too slow: it reconnects and gets a fresh snapshot
      this.clients.delete(c);
      return;
    }
    c.res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  private broadcastRaw(text: string): void {
    for (const c of this.clients) c.res.write(text);
  }

  close(): void {
    clearInterval(this.heartbeat);
    if (this.flushTimer !== undefined) clearTimeout(this.flushTimer);
    for (const c of this.clients) c.res.end();
    this.clients.clear();
  }
}
