/**
 * @module detect/ensemble-stream
 * A z ensemble as one scoring model for the live pipeline (`watch --model a/ --model b/`): every member scores each
 * event, and the ensemble's per-token value is Σ_m ln P_m(event) / (σ_m · M) — each member's log-probability divided
 * by σ_m, the spread of its ln perplexity on normal validation sequences (at least `MIN_SPREAD`), averaged over the M
 * members (the "σ-nats" of an ensemble explanation, `detect/explain.ts`). The mean of these over a sequence's tokens
 * is −(z ensemble score + C), C = Σ_m μ_m / (σ_m · M): so the ensemble's "perplexity" exp(mean surprise) is
 * exp(score + C), a monotone map of `score`'s ensemble score, and a threshold τ on that score is exp(τ + C) here.
 *
 * A rank ensemble (`--combine rank`) is no sum over events: it judges whole sequences (`sequenceLevel`: running
 * sequences do not alert; so does a z ensemble whose members all do, timing and profile models). Its events carry
 * the z ensemble's per-event values (σ-nats: what alerts name as the most surprising events, and explanations show)
 * and the end token whatever makes the mean −r, r = the mean of the members' normal-validation ranks of their
 * perplexities (`detect/ensemble.ts`): its "perplexity" is exp(r).
 *
 * Members that keep their connection's history (`--history`, `detect/history.ts`) have their own perplexity replaced
 * by it when a sequence ends (`EnsembleScorer`), and `scorePass` does the same for whole sequences: the ensemble
 * scores are then `score --model a/ --model b/`'s.
 *
 * The same object explains (`fieldSurpriseMany`: one "field" per member, in σ-nats, as `explain --model a/ --model b/`
 * gives it), so the dashboard (`serve --model a/ --model b/`) treats it as one model.
 */
import type { Sequence } from '../features/sequences/sequence.js';
import type { LanguageModel, SequenceFact } from '../models/language-model.js';
import type { PrefixScores } from '../models/normal-scores.js';
import type { IncrementalScorer, StreamHandle } from '../models/stream.js';
import type { SyscallEvent } from '../trace/event.js';
import type { ScoreScale } from './alert.js';
import { historyOf, perplexityPass, type ConnectionHistory } from './history.js';
import { memberWeights, Normaliser, type Combine, type NormalScoreStats } from './ensemble.js';
import { ENSEMBLE_UNIT, ensembleSurprise, memberFacts } from './explain.js';
import type { LiveModel } from './live.js';

/** One member: its model, its normal ln-perplexity statistics and its label in explanations (e.g. its folder's name). */
export interface EnsembleMember {
  model: LanguageModel;
  stats: NormalScoreStats;
  label: string;
}

export class EnsembleLiveModel implements LiveModel {
  readonly kind: string;
  /** 1 / (σ_m · M) per member. */
  private readonly weights: number[];
  /** Each member's normalisation (`rank`: its ranks among the normal validation perplexities). */
  private readonly normalisers: Normaliser[];
  /** C: the ensemble perplexity is exp(score + C) (0 for a rank ensemble). */
  readonly offset: number;
  /**
   * Judges whole sequences only, so its running sequences never alert (no prefix thresholds): a rank ensemble, or one
   * whose members all do (timing, profile).
   */
  readonly sequenceLevel: boolean;
  /** Alerts and sequence records show the ensemble score, surprise in σ-nats. */
  readonly scale: ScoreScale;
  /** The unit of `fieldSurpriseMany`'s values. */
  readonly unit = ENSEMBLE_UNIT;

  constructor(private readonly members: readonly EnsembleMember[], readonly combine: Combine = 'z') {
    if (members.length < 2) throw new RangeError('an ensemble needs at least two members');
    for (const m of members) {
      if (!m.model.incremental) throw new RangeError(`model kind '${m.model.kind}' cannot score incrementally`);
    }
    this.weights = memberWeights(members.map((m) => m.stats));
    this.normalisers = members.map((m) => new Normaliser(m.stats, combine));
    this.sequenceLevel = combine === 'rank' || members.every((m) => m.model.sequenceLevel === true);
    this.offset = combine === 'rank' ? 0 : members.reduce((a, m, i) => a + m.stats.mean * this.weights[i]!, 0);
    this.kind = `ensemble(${members.map((m) => m.model.kind).join('+')}${combine === 'rank' ? ', rank' : ''})`;
    this.scale = { name: 'ensemble score', unit: 'σ-nats', of: (p) => this.scoreOf(p), perplexityOf: (s) => this.perplexityThreshold(s) };
  }

  /**
   * The ensemble's prefix scores from its members' stored ones (`train` stores them per model folder), or undefined
   * unless every member has them for the same sequences (same lengths, strides and id fingerprints: trained with the
   * same normal validation data): at a prefix length L the ensemble perplexity is exp(Σ_m w_m ln PPL_m(L)).
   */
  prefixScores(stored: readonly (PrefixScores | undefined)[]): PrefixScores | undefined {
    if (this.sequenceLevel) return undefined;
    if (stored.length !== this.members.length || stored.some((x) => x === undefined)) return undefined;
    const [first, ...rest] = stored as PrefixScores[];
    const same = (a: PrefixScores['points'][number], b: PrefixScores['points'][number] | undefined): boolean =>
      b !== undefined && a.length === b.length && a.count === b.count && a.stride === b.stride && a.ids === b.ids;
    if (rest.some((r) => r.on !== first!.on || r.points.length !== first!.points.length || r.points.some((p, i) => !same(first!.points[i]!, p)))) {
      return undefined;
    }
    const points = first!.points.map((p, i) => ({
      ...p,
      perplexities: p.perplexities.map((_, j) => Math.exp((stored as PrefixScores[]).reduce((a, st, m) => a + this.weights[m]! * Math.log(st.points[i]!.perplexities[j]!), 0))),
    }));
    return { on: first!.on, sequences: first!.sequences, points };
  }

  /** The ensemble perplexity threshold of an ensemble-score threshold. */
  perplexityThreshold(score: number): number {
    return Math.exp(score + this.offset);
  }

  /** The ensemble score of an ensemble perplexity. */
  scoreOf(perplexity: number): number {
    return Math.log(perplexity) - this.offset;
  }

  async logProbsMany(seqs: readonly Sequence[]): Promise<Float64Array[]> {
    const per: Float64Array[][] = [];
    for (const m of this.members) per.push(await m.model.logProbsMany(seqs));
    return seqs.map((_, i) => this.combined(per.map((p) => p[i]!)));
  }

  /**
   * A rank ensemble's score of one sequence from its members' ln perplexities: the mean of their ranks among the
   * members' normal validation perplexities.
   */
  private rankOf(lnPerplexities: readonly number[]): number {
    return lnPerplexities.reduce((a, x, m) => a + this.normalisers[m]!.of(Math.exp(x)), 0) / lnPerplexities.length;
  }

  /**
   * One pass over a stream of whole sequences, batch by batch: each one's ensemble perplexity, exp(Σ_m w_m ln PPL_m),
   * each member's with its connection's history where the member keeps one (`--history`) — as `score --model a/
   * --model b/` combines them. (`logProbsMany` gives every member's own.)
   */
  scorePass(): (seqs: readonly Sequence[]) => Promise<number[]> {
    const pass = perplexityPass(this.members.map((m) => m.model));
    return async (seqs) => (await pass(seqs)).map((ps) => Math.exp(this.combine === 'rank'
      ? this.rankOf(ps.map((p) => Math.log(p)))
      : ps.reduce((sum, p, m) => sum + this.weights[m]! * Math.log(p), 0)));
  }

  /** Per-event surprise with one field per member (its label): member m's −ln P summed over its fields, times 1 / (σ_m · M). */
  async fieldSurpriseMany(seqs: readonly Sequence[]): Promise<Record<string, Float64Array>[]> {
    const per: Record<string, Float64Array>[][] = [];
    for (const m of this.members) per.push(await m.model.fieldSurpriseMany(seqs));
    const labels = this.members.map((m) => m.label);
    return seqs.map((_, i) => ensembleSurprise(labels, per.map((p) => p[i]!), this.weights));
  }

  /** What members that score a sequence as a whole (timing) measured of it, each fact named `label: feature`. */
  sequenceFacts(seq: Sequence): SequenceFact[] {
    return this.members.flatMap((m) => memberFacts(m.label, m.model.sequenceFacts?.(seq)));
  }

  /** Releases every member's sessions. */
  async release(): Promise<void> {
    for (const m of this.members) await m.model.release();
  }

  incremental(): IncrementalScorer {
    const histories = this.members.map((m) => historyOf(m.model));
    const scorers = this.members.map((m) => m.model.incremental!());
    const z = (xs: readonly Float64Array[]) => this.zCombined(xs);
    const labels = this.members.map((m) => m.label);
    if (this.combine === 'rank') return new EnsembleScorer(scorers, labels, z, { histories, weights: this.weights }, (ln) => this.rankOf(ln));
    return new EnsembleScorer(scorers, labels, z, histories.some((h) => h.keeps) ? { histories, weights: this.weights } : undefined);
  }

  /** Σ_m w_m · x_m, token by token: the z ensemble's per-token values (`xs`: each member's log-probabilities). */
  private zCombined(xs: readonly Float64Array[]): Float64Array {
    const n = xs[0]!.length;
    const out = new Float64Array(n);
    xs.forEach((x, m) => {
      if (x.length !== n) throw new RangeError('ensemble members scored different numbers of tokens');
      const w = this.weights[m]!;
      for (let i = 0; i < n; i++) out[i] += w * x[i]!;
    });
    return out;
  }

  /** Per-token values of one whole sequence (`xs`: each member's log-probabilities, `[T + 1]`); see the module header. */
  private combined(xs: readonly Float64Array[]): Float64Array {
    const out = this.zCombined(xs);
    const n = out.length;
    if (this.combine === 'rank' && n > 0) {
      let before = 0;
      for (let i = 0; i < n - 1; i++) before += out[i]!;
      out[n - 1] = -this.rankOf(xs.map((x) => -x.reduce((a, v) => a + v, 0) / n)) * n - before;
    }
    return out;
  }
}

interface EnsembleHandle extends StreamHandle {
  readonly members: StreamHandle[];
  /** With history members: the sequence's id, each member's sum of log-probabilities so far and the tokens scored. */
  readonly seq?: { id: string; sums: Float64Array; n: number };
}

/** Members that keep their connection's history (`--history`), and every member's weight 1 / (σ_m · M). */
interface MemberHistories {
  histories: readonly ConnectionHistory[];
  weights: readonly number[];
}

/**
 * Opens, pushes and closes each sequence in every member's scorer, in step. With history members it also keeps each
 * member's running sum per sequence: at the end, member m's own ln perplexity a becomes its history's b, and the end
 * token's combined value moves by −w_m (b − a)(T + 1), so that the ensemble perplexity is exp(Σ_m w_m ln PPL_m) with
 * each member's as `score` gives it. With `sequence` (a rank ensemble) the end token's value instead makes the
 * sequence's mean value −sequence(the members' ln perplexities, histories applied).
 */
class EnsembleScorer implements IncrementalScorer {
  private next = 0;
  private open_ = 0;

  /** What its members that score whole sequences measured of a sequence (open, or ended by the latest `close`), each fact named `label: feature` (for alerts). */
  readonly facts?: (handle: StreamHandle) => SequenceFact[];

  constructor(private readonly scorers: readonly IncrementalScorer[], labels: readonly string[], private readonly combine: (xs: readonly Float64Array[]) => Float64Array,
    private readonly kept?: MemberHistories, private readonly sequence?: (lnPerplexities: readonly number[]) => number) {
    if (scorers.some((s) => s.facts)) {
      this.facts = (h) => scorers.flatMap((s, m) => memberFacts(labels[m]!, s.facts?.((h as EnsembleHandle).members[m]!)));
    }
  }

  get openCount(): number {
    return this.open_;
  }

  open(id?: string): StreamHandle {
    if (id === undefined && this.kept?.histories.some((h) => h.keeps)) throw new RangeError('an ensemble with a --history member needs each sequence\'s id');
    this.open_++;
    const h: EnsembleHandle = {
      id: this.next++, members: this.scorers.map((s) => s.open(id)),
      ...(this.kept ? { seq: { id: id ?? '', sums: new Float64Array(this.scorers.length), n: 0 } } : {}),
    };
    return h;
  }

  async push(handles: readonly StreamHandle[], events: readonly SyscallEvent[]): Promise<Float64Array> {
    const out = await this.perMember(handles, (s, hs) => s.push(hs, events));
    return this.combine(out);
  }

  async close(handles: readonly StreamHandle[], truncated?: readonly boolean[]): Promise<Float64Array> {
    const out = await this.perMember(handles, (s, hs) => s.close(hs, truncated));
    this.open_ -= handles.length;
    const combined = this.combine(out);
    if (this.kept) {
      const { histories, weights } = this.kept;
      handles.forEach((h, i) => {
        const seq = (h as EnsembleHandle).seq!;
        const ln = histories.map((history, m) => {
          const own = -seq.sums[m]! / seq.n; // the end token is in the sums already (perMember)
          return history.keeps ? Math.log(history.perplexity(seq.id, Math.exp(own))) : own;
        });
        if (this.sequence) {
          const before = weights.reduce((a, w, m) => a + w * (seq.sums[m]! - out[m]![i]!), 0); // the values pushed before the end token
          combined[i] = -this.sequence(ln) * seq.n - before;
        } else ln.forEach((kept, m) => { combined[i] -= weights[m]! * (kept + seq.sums[m]! / seq.n) * seq.n; });
      });
    }
    return combined;
  }

  /** Each member scorer's values for the handles, in member order; with history members, added to each sequence's sums. */
  private async perMember(handles: readonly StreamHandle[],
    run: (s: IncrementalScorer, hs: StreamHandle[]) => Promise<Float64Array>): Promise<Float64Array[]> {
    const out: Float64Array[] = [];
    for (let m = 0; m < this.scorers.length; m++) out.push(await run(this.scorers[m]!, handles.map((h) => (h as EnsembleHandle).members[m]!)));
    if (this.kept) {
      handles.forEach((h, i) => {
        const seq = (h as EnsembleHandle).seq!;
        out.forEach((o, m) => { seq.sums[m] += o[i]!; });
        seq.n++;
      });
    }
    return out;
  }

  drop(handle: StreamHandle): void {
    (handle as EnsembleHandle).members.forEach((h, m) => this.scorers[m]!.drop(h));
    this.open_--;
  }

  async release(): Promise<void> {
    for (const s of this.scorers) await s.release();
  }
}
