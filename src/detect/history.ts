/**
 * @module detect/history
 * Connection history (`train --model timing --history k`): a request is scored by the median ln perplexity of the last
 * k requests of its connection, itself included (for an even count, the mean of the middle two). A starved server
 * slows every request a little; one normal request now and then is slow for reasons of its own, and the median lets
 * such a one pass where a mean would carry it into the next k − 1 scores (and, on normal validation, into the
 * label-free threshold). On the web-server recording one request's timing leaves the connection and cpu novelties at
 * F1 0.87 and 0.90; the median of a connection's last 5 gives 0.96 and 0.97, and the label-free threshold (0.99
 * quantile of normal validation) 0.96 and 0.97 too (experiments/web-novelty/RESULTS.md).
 *
 * Requests are grouped by their id (`req:<connection>.<n>`, `features/sequences/request.ts`); sequences of other
 * segmentations have no connection and keep their own score. A history lives for one pass over one stream (one
 * `score`, one set of `evaluate`, one `watch` run), whose requests come in the order they finished — on one
 * connection, the order they were made. It is bounded: at most `MAX_CONNECTIONS` connections are remembered, the
 * least recently seen forgotten first.
 */
import type { Sequence } from '../features/sequences/sequence.js';
import { perplexityMany, type LanguageModel } from '../models/language-model.js';

/** Connections remembered at once by one history (each holds at most k numbers). */
export const MAX_CONNECTIONS = 100_000;

const REQUEST_ID = /^(req:.*)\.\d+$/;

/** The connection of a request id (`req:<connection>.<n>` → `req:<connection>`); undefined for other ids. */
export function connectionOf(id: string): string | undefined {
  return REQUEST_ID.exec(id)?.[1];
}

/** The last k ln perplexities of each connection seen in one pass. */
export class ConnectionHistory {
  private readonly last = new Map<string, number[]>();

  constructor(readonly k: number, private readonly maxConnections: number = MAX_CONNECTIONS) {
    if (!Number.isInteger(k) || k < 1) throw new RangeError(`history must be an integer >= 1, got ${k}`);
  }

  /** Whether it changes anything: k > 1 (k = 1 gives every perplexity back as it is). */
  get keeps(): boolean {
    return this.k > 1;
  }

  /** The perplexity of request `id` with its history: exp(median ln perplexity of its connection's last k, itself included). */
  perplexity(id: string, perplexity: number): number {
    const conn = this.keeps ? connectionOf(id) : undefined;
    if (conn === undefined) return perplexity;
    let xs = this.last.get(conn);
    if (xs) {
      this.last.delete(conn); // re-inserted below: Map order is then least recently seen first
    } else {
      xs = [];
      if (this.last.size >= this.maxConnections) this.last.delete(this.last.keys().next().value!);
    }
    this.last.set(conn, xs);
    xs.push(Math.log(perplexity));
    if (xs.length > this.k) xs.shift();
    return Math.exp(median(xs));
  }
}

/** The median of a few numbers (the mean of the middle two for an even count). */
function median(xs: readonly number[]): number {
  const v = [...xs].sort((a, b) => a - b);
  const h = v.length >> 1;
  return v.length % 2 === 1 ? v[h]! : (v[h - 1]! + v[h]!) / 2;
}

/**
 * A fresh history for one pass of a model: its `LanguageModel.history` (absent: 1, which gives every perplexity back
 * unchanged, so callers need no case of their own for models that keep none).
 */
export function historyOf(model: { readonly history?: number }): ConnectionHistory {
  return new ConnectionHistory(model.history ?? 1);
}

/** `ppl[i]`, the own perplexity of `seqs[i]` (in stream order), with its connection's history in one fresh pass; unchanged for models that keep none. */
export function withHistory(model: { readonly history?: number }, seqs: readonly { id: string }[], ppl: Float64Array): Float64Array {
  const history = historyOf(model);
  return history.keeps ? Float64Array.from(ppl, (p, i) => history.perplexity(seqs[i]!.id, p)) : ppl;
}

/**
 * One pass over a stream of whole sequences for several models, batch by batch: the `[sequence][model]` perplexities,
 * each model's with its connection's history where it keeps one. `score` / `evaluate` with several `--model`s
 * (`cli/score.ts` scoreStreamMany) and serve's ensemble pass (`EnsembleLiveModel.scorePass`) both score through it.
 */
export function perplexityPass(models: readonly LanguageModel[]): (seqs: readonly Sequence[]) => Promise<number[][]> {
  const histories = models.map(historyOf);
  return async (seqs) => {
    const per: number[][] = [];
    for (const m of models) per.push(await perplexityMany(m, seqs));
    return seqs.map((s, i) => per.map((p, m) => histories[m]!.perplexity(s.id, p[i]!)));
  };
}
