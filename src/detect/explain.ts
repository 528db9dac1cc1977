/**
 * @module detect/explain
 * Root-cause evidence for one scored sequence: the per-event surprise (negative log-likelihood, nats, summed over
 * the token fields a model predicts) aggregated per syscall name and per field, the most surprising events, as
 * JSON; and a self-contained HTML page (inline CSS, no scripts, no external assets) that shows the events coloured
 * by surprise for a person to read.
 *
 * For attention models (a model with `attentionMany`, e.g. the Transformer), the flagged events (the most surprising
 * ones) also carry what they attended to: the earlier events with the heaviest attention weights (`attention`). In
 * the HTML view, hovering over a flagged event (or clicking its number, which targets it) outlines the events it
 * attended to in blue with their weights — CSS only (`:has`, `:hover`, `:target`); a table lists the same.
 *
 * An ensemble's explanation (`ensembleSurprise`) has one field per member: each member's surprise divided by the
 * spread of its ln perplexity on normal validation sequences, averaged over the members — so the z ensemble score is
 * the mean of these per-token values less a constant, and the per-field shares say which member drove it.
 */
import type { SyscallEvent } from '../trace/event.js';
import type { Sequence } from '../features/sequences/sequence.js';
import type { SequenceFact } from '../models/language-model.js';

export interface EventSurprise {
  index: number;
  /** ns, as a decimal string (JSON has no bigint). */
  ts: string;
  pid: number;
  tid: number;
  proc: string;
  name: string;
  phase: string;
  ret?: string;
  /** Descriptor argument and its decoration (path, socket), when the source gave them. */
  fd?: number;
  path?: string;
  /** Total NLL of the event (sum over fields). */
  nll: number;
  /** NLL per field. */
  fields: Record<string, number>;
}

export interface SyscallSurprise {
  name: string;
  count: number;
  totalNll: number;
  meanNll: number;
  maxNll: number;
}

export interface FieldSurprise {
  field: string;
  totalNll: number;
  meanNll: number;
  /** Share of the sequence's total NLL. */
  share: number;
}

export interface Explanation {
  id: string;
  events: number;
  truncated: boolean;
  /** Mean NLL per predicted token, end token included (the usual sequence score). */
  score: number;
  totalNll: number;
  /** NLL of the end (or truncate) token, when the model scored it. */
  endNll: number | undefined;
  /** Sorted by total NLL, largest first. */
  bySyscall: SyscallSurprise[];
  byField: FieldSurprise[];
  /** The `topK` most surprising events, most surprising first. */
  top: EventSurprise[];
  /** Total NLL of each event, in order. */
  perEvent: number[];
  /** NLL of each event per field (only when there is more than one field). */
  perField?: Record<string, number[]>;
  /** For attention models: what each flagged (top) event attended to, in the order of `top`. */
  attention?: EventAttention[];
  /** What the surprise values are when not nats of one model (an ensemble's: see {@link ensembleSurprise}). */
  unit?: { name: string; short: string; legend: string };
  /** What a model that scores the sequence as a whole (timing, profile) measured of it, against normal. */
  facts?: SequenceFact[];
}

/** One predicted token's attention, as attention models give it (`LanguageModel.attentionMany`). */
export interface AttentionRow {
  /** The predicted token: event index (the sequence's length = the end token). */
  from: number;
  /** Attended events, heaviest first (event index; −1 = the start token). */
  to: number[];
  weight: number[];
}

/** A model that can say what each predicted token attended to (`attentionMany` of the Transformer / Longformer). */
export interface AttentionProvider {
  attentionMany(seqs: readonly Sequence[], topK: number): Promise<AttentionRow[][]>;
}

/** What one flagged event attended to. */
export interface EventAttention {
  /** The flagged event's index. */
  index: number;
  /** Attended events, heaviest first: index (−1 = the start of the sequence), syscall name, weight in (0, 1]. */
  to: { index: number; name: string; weight: number }[];
}

/**
 * The attention of the explanation's flagged events (`exp.top`), from the model's rows for this sequence; adds it to
 * `exp` and returns it. Throws RangeError when a row points outside the sequence or forward in time.
 */
export function attachAttention(seq: Sequence, exp: Explanation, rows: readonly AttentionRow[]): EventAttention[] {
  const byFrom = new Map<number, AttentionRow>();
  for (const r of rows) {
    if (r.to.length !== r.weight.length) throw new RangeError(`attention row of token ${r.from}: ${r.to.length} targets, ${r.weight.length} weights`);
    for (const j of r.to) {
      if (!Number.isInteger(j) || j < -1 || j >= seq.events.length || j > r.from) {
        throw new RangeError(`attention row of token ${r.from} points at ${j} (the sequence has ${seq.events.length} events; attention looks back)`);
      }
    }
    byFrom.set(r.from, r);
  }
  const out = exp.top.map((t) => {
    const r = byFrom.get(t.index);
    return {
      index: t.index,
      to: r ? r.to.map((j, k) => ({ index: j, name: j < 0 ? '<s>' : seq.events[j].name, weight: r.weight[k] })) : [],
    };
  });
  exp.attention = out;
  return out;
}

function describe(ev: SyscallEvent, index: number, nll: number, fields: Record<string, number>): EventSurprise {
  const e: EventSurprise = {
    index, ts: ev.ts.toString(), pid: ev.pid, tid: ev.tid, proc: ev.proc, name: ev.name, phase: ev.phase, nll, fields,
  };
  if (ev.ret !== undefined) e.ret = String(ev.ret);
  if (typeof ev.args.fd === 'number') e.fd = ev.args.fd;
  if (typeof ev.args.path === 'string') e.path = ev.args.path;
  return e;
}

/**
 * Builds the explanation of `seq` from per-field NLL arrays (`fieldNll[field]`, one value per event, optionally one
 * more for the end token — as `NgramModel.logProbs` gives, negated).
 */
export function explain(seq: Sequence, fieldNll: Record<string, ArrayLike<number>>, topK: number): Explanation {
  const n = seq.events.length;
  const fields = Object.keys(fieldNll);
  if (fields.length === 0) throw new RangeError('explain needs the NLL of at least one field');
  let withEnd: boolean | undefined;
  for (const f of fields) {
    const len = fieldNll[f].length;
    if (len !== n && len !== n + 1) throw new RangeError(`field '${f}': ${len} NLL values for ${n} events (expected ${n} or ${n + 1})`);
    if (withEnd !== undefined && withEnd !== (len === n + 1)) throw new RangeError('all fields must score the end token, or none');
    withEnd = len === n + 1;
  }
  const perEvent = new Array<number>(n).fill(0);
  const byField: FieldSurprise[] = [];
  let total = 0;
  let endNll: number | undefined;
  for (const f of fields) {
    const a = fieldNll[f];
    let ft = 0;
    for (let i = 0; i < a.length; i++) {
      ft += a[i];
      if (i < n) perEvent[i] += a[i];
    }
    if (withEnd) endNll = (endNll ?? 0) + a[n];
    total += ft;
    byField.push({ field: f, totalNll: ft, meanNll: a.length ? ft / a.length : 0, share: 0 });
  }
  for (const b of byField) b.share = total > 0 ? b.totalNll / total : 0;
  const agg = new Map<string, SyscallSurprise>();
  seq.events.forEach((ev, i) => {
    let s = agg.get(ev.name);
    if (!s) agg.set(ev.name, (s = { name: ev.name, count: 0, totalNll: 0, meanNll: 0, maxNll: -Infinity }));
    s.count++;
    s.totalNll += perEvent[i];
    s.maxNll = Math.max(s.maxNll, perEvent[i]);
  });
  const bySyscall = [...agg.values()].map((s) => ({ ...s, meanNll: s.totalNll / s.count }));
  bySyscall.sort((a, b) => b.totalNll - a.totalNll || (a.name < b.name ? -1 : 1));
  const order = perEvent.map((_, i) => i).sort((a, b) => perEvent[b] - perEvent[a] || a - b);
  const top = order.slice(0, Math.max(0, topK)).map((i) => {
    const fv: Record<string, number> = {};
    for (const f of fields) fv[f] = fieldNll[f][i];
    return describe(seq.events[i], i, perEvent[i], fv);
  });
  const predicted = n + (withEnd ? 1 : 0);
  const exp: Explanation = {
    id: seq.id, events: n, truncated: seq.truncated === true, score: predicted > 0 ? total / predicted : 0, totalNll: total,
    endNll, bySyscall, byField, top, perEvent,
  };
  if (fields.length > 1) {
    exp.perField = {};
    for (const f of fields) exp.perField[f] = Array.from({ length: n }, (_, i) => fieldNll[f][i]);
  }
  return exp;
}

/** Whether no event of an explained sequence carries surprise of its own (a model that scores it as a whole: timing, profile). */
export function noEventSurprise(exp: Explanation): boolean {
  return exp.bySyscall.every((b) => b.totalNll === 0);
}

/** The distinct `against` phrases of a sequence-level model's measurements (which normal sequences they compare with). */
export function factsAgainst(facts: readonly SequenceFact[]): string[] {
  return [...new Set(facts.flatMap((f) => (f.against ? [f.against] : [])))];
}

/** An ensemble member's measurements of a sequence in the ensemble's explanation: each named `label: feature`. */
export function memberFacts(label: string, facts: readonly SequenceFact[] | undefined): SequenceFact[] {
  return (facts ?? []).map((f) => ({ ...f, name: `${label}: ${f.name}` }));
}

/** The unit of an ensemble's per-event surprise (see {@link ensembleSurprise}). */
export const ENSEMBLE_UNIT = {
  name: 'σ-nats',
  short: "each member's −ln P over σ, its normal spread, averaged over the members",
  legend: "Surprise = each member's −ln P(event | preceding events) divided by σ, the spread of that member's ln " +
    'perplexity on normal validation sequences, averaged over the members (the z ensemble score is the mean per token, less a constant).',
};

/**
 * Per-event surprise of an ensemble, one field per member (`labels[m]`): member m's surprise summed over its fields,
 * times `weights[m]` (`memberWeights` of detect/ensemble: 1 / (σ_m · M)). Their sum over fields and tokens, over the
 * tokens predicted, is the z ensemble score plus Σ μ_m / (σ_m M). For a rank ensemble the same weights serve (rank
 * averaging is no sum over events).
 */
export function ensembleSurprise(labels: readonly string[], members: readonly Record<string, ArrayLike<number>>[],
  weights: readonly number[]): Record<string, Float64Array> {
  if (labels.length !== members.length || weights.length !== members.length) throw new RangeError('one label and one weight per member');
  const out: Record<string, Float64Array> = {};
  members.forEach((fields, m) => {
    const arrays = Object.values(fields);
    if (arrays.length === 0) throw new RangeError(`member ${labels[m]}: no field surprise`);
    const sum = new Float64Array(arrays[0]!.length);
    for (const a of arrays) {
      if (a.length !== sum.length) throw new RangeError(`member ${labels[m]}: fields of different lengths`);
      for (let i = 0; i < a.length; i++) sum[i] += a[i]!;
    }
    const w = weights[m]!;
    for (let i = 0; i < sum.length; i++) sum[i] *= w;
    out[labels[m]!] = sum;
  });
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// HTML

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESC[c]);
}

/** Above this many events, only the neighbourhoods of the most surprising ones are shown. */
export const MAX_HTML_ROWS = 4000;
const CONTEXT_ROWS = 25;

function shade(nll: number, max: number): string {
  const t = max > 0 ? Math.min(1, Math.max(0, nll / max)) : 0;
  return `background:rgba(220,38,38,${(0.08 + 0.8 * t).toFixed(3)})`;
}

function fmt(x: number | undefined): string {
  return x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(2);
}

function shortArgs(ev: SyscallEvent): string {
  const a = ev.args;
  if (typeof a.raw === 'string') return a.raw.length > 90 ? a.raw.slice(0, 90) + '…' : a.raw;
  const parts: string[] = [];
  for (const [k, v] of Object.entries(a)) {
    if (parts.length >= 4) break;
    const s = typeof v === 'bigint' ? v.toString() : JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x));
    parts.push(`${k}=${s.length > 40 ? s.slice(0, 40) + '…' : s}`);
  }
  return parts.join(', ');
}

/** Rows to show: all of them, or, for long sequences, the neighbourhoods of the most surprising events. */
function rowsToShow(exp: Explanation): number[] {
  const n = exp.events;
  if (n <= MAX_HTML_ROWS) return Array.from({ length: n }, (_, i) => i);
  const keep = new Set<number>();
  for (const t of exp.top) {
    for (let i = Math.max(0, t.index - CONTEXT_ROWS); i <= Math.min(n - 1, t.index + CONTEXT_ROWS); i++) keep.add(i);
    if (keep.size >= MAX_HTML_ROWS) break;
  }
  return [...keep].sort((a, b) => a - b);
}

/**
 * CSS that outlines, while flagged event i is hovered or targeted (`#e<i>`), the events it attended to, and shows
 * each one's weight after its surprise cell. No scripts: `:has()` carries the state from the hovered row to the others.
 */
function attentionCss(att: readonly EventAttention[]): string {
  const out: string[] = [];
  for (const a of att) {
    if (a.to.length === 0) continue;
    const on = `body:has(#e${a.index}:hover,#e${a.index}:target)`;
    out.push(`${on} #e${a.index}{outline:3px solid #1d4ed8}`);
    for (const t of a.to) {
      if (t.index < 0) continue;
      const alpha = (0.25 + 0.75 * Math.min(1, Math.max(0, t.weight))).toFixed(3);
      out.push(`${on} #e${t.index}{outline:3px solid rgba(37,99,235,${alpha})}`);
      out.push(`${on} #e${t.index} td:last-child::after{content:" ← ${t.weight.toFixed(2)}";color:#1d4ed8;font-weight:600}`);
    }
  }
  return out.length ? out.join('\n') + '\n' : '';
}

/** A self-contained HTML page showing one explained sequence. */
export function explanationHtml(seq: Sequence, exp: Explanation, title: string): string {
  const max = exp.perEvent.reduce((a, x) => (x > a ? x : a), 0); // not Math.max(...): a sequence may have millions of events
  // A sequence-level kind (timing, profile): no event carries surprise, its measurements say why — no per-event legend or table by call.
  const wholeSequence = (exp.facts?.length ?? 0) > 0 && noEventSurprise(exp);
  const unit = escapeHtml(exp.unit?.name ?? 'nats');
  const t0 = seq.events[0]?.ts ?? 0n;
  const fields = exp.perField ? exp.byField.map((f) => f.field) : [];
  const topSet = new Set(exp.top.map((t) => t.index));
  const att = exp.attention ?? [];
  const attended = new Set(att.filter((a) => a.to.length > 0).map((a) => a.index));
  const rows: string[] = [];
  let prev = -1;
  for (const i of rowsToShow(exp)) {
    if (i !== prev + 1) rows.push(`<tr class="gap"><td colspan="${7 + fields.length}">… ${i - prev - 1} events not shown …</td></tr>`);
    prev = i;
    const ev = seq.events[i];
    const fieldCells = exp.perField
      ? fields.map((f) => `<td class="num" style="${shade(exp.perField![f][i], max)}">${fmt(exp.perField![f][i])}</td>`).join('')
      : '';
    const dt = Number(ev.ts - t0) / 1000;
    const num = attended.has(i) ? `<a href="#e${i}">${i}</a>` : String(i);
    rows.push(
      `<tr id="e${i}" style="${shade(exp.perEvent[i], max)}"${topSet.has(i) ? ' class="top"' : ''}>` +
      `<td class="num">${num}</td><td class="num">${dt.toFixed(1)}</td><td>${escapeHtml(ev.proc)} ${ev.pid}/${ev.tid}</td>` +
      `<td class="name">${escapeHtml(ev.name)}</td><td class="args">${escapeHtml(shortArgs(ev))}</td>` +
      `<td class="num">${ev.ret === undefined ? '' : escapeHtml(String(ev.ret))}</td>` +
      `<td class="num">${fmt(exp.perEvent[i])}</td>${fieldCells}</tr>`,
    );
  }
  if (prev < exp.events - 1 && exp.events > 0) {
    rows.push(`<tr class="gap"><td colspan="${7 + fields.length}">… ${exp.events - 1 - prev} events not shown …</td></tr>`);
  }
  const sysRows = exp.bySyscall.slice(0, 30).map((s) =>
    `<tr style="${shade(s.maxNll, max)}"><td class="name">${escapeHtml(s.name)}</td><td class="num">${s.count}</td>` +
    `<td class="num">${fmt(s.totalNll)}</td><td class="num">${fmt(s.meanNll)}</td><td class="num">${fmt(s.maxNll)}</td></tr>`).join('\n');
  const fieldRows = exp.byField.map((f) =>
    `<tr><td>${escapeHtml(f.field)}</td><td class="num">${fmt(f.totalNll)}</td><td class="num">${fmt(f.meanNll)}</td>` +
    `<td class="num">${(100 * f.share).toFixed(1)} %</td></tr>`).join('\n');
  const fieldHead = exp.perField ? fields.map((f) => `<th>${escapeHtml(f)}</th>`).join('') : '';
  const attCss = attentionCss(att);
  const attSection = att.length === 0 ? '' : `<h2>Attention of the flagged events</h2>
<p>What each of the most surprising events attended to (the model's last attention layer, heads averaged): hover over a
flagged event in the events table, or click its number, to outline these events there with their weights.</p>
<table><tr><th>#</th><th>syscall</th><th>attended to (event: syscall, weight)</th></tr>
${att.map((a) => `<tr><td class="num"><a href="#e${a.index}">${a.index}</a></td><td class="name">${escapeHtml(seq.events[a.index]?.name ?? '')}</td>` +
  `<td>${a.to.map((t) => `${t.index < 0 ? 'start' : t.index}: ${escapeHtml(t.name)} ${t.weight.toFixed(2)}`).join('; ') || '–'}</td></tr>`).join('\n')}
</table>
`;
  const factSection = !exp.facts?.length ? '' : `<h2>What the model measured, against normal</h2>
<table><tr><th>feature</th><th>this sequence</th><th>normal</th><th>z</th><th>surprise (nats)</th></tr>
${exp.facts.map((f) => `<tr><td>${escapeHtml(f.name)} (${escapeHtml(f.what)})</td><td class="num">${fmt(f.value)} ${escapeHtml(f.unit)}</td>` +
    `<td class="num">~${fmt(f.normal)} ${escapeHtml(f.unit)}</td><td class="num">${f.z >= 0 ? '+' : ''}${fmt(f.z)}</td><td class="num">${fmt(f.surprise)}</td></tr>`).join('\n')}
</table>
${factsAgainst(exp.facts).map((a) => `<p>Normal: ${escapeHtml(a)}.</p>`).join('\n')}
`;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#111}
table{border-collapse:collapse;margin:.5em 0 1.5em}
td,th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}
th{background:#f3f3f3;position:sticky;top:0}
.num{text-align:right;font-variant-numeric:tabular-nums}
.name{font-family:ui-monospace,monospace;font-weight:600}
.args{font-family:ui-monospace,monospace;font-size:12px;color:#333;max-width:50em;overflow-wrap:anywhere}
tr.top td:first-child{border-left:4px solid #7f1d1d}
tr.gap td{color:#666;font-style:italic;background:#fafafa}
.legend span{display:inline-block;width:3em;height:1em;vertical-align:middle}
${attCss}</style></head><body>
<h1>${escapeHtml(title)}</h1>
<p>Sequence <b>${escapeHtml(exp.id)}</b>: ${exp.events} events${exp.truncated ? ' (truncated)' : ''};
score (mean surprise per token) <b>${fmt(exp.score)}</b> ${unit}; total ${fmt(exp.totalNll)} ${unit};
end of sequence ${fmt(exp.endNll)} ${unit}.</p>
${wholeSequence ? `<p>No event carries surprise of its own: the model scores the sequence as a whole (its end token), from what it
measured of it below; the events are listed for reference.</p>` : `<p class="legend">${escapeHtml(exp.unit?.legend ?? 'Surprise = −ln P(event | preceding events) under the model.')}
<span style="${shade(0, 1)}"></span> expected … <span style="${shade(1, 1)}"></span> most surprising in this sequence
(${fmt(max)} ${unit}). The ${exp.top.length} most surprising events have a dark left edge.</p>`}
${factSection}${wholeSequence ? '' : `<h2>By system call</h2>
<table><tr><th>syscall</th><th>count</th><th>total</th><th>mean</th><th>max</th></tr>
${sysRows}
</table>
`}<h2>${exp.unit ? 'By member' : 'By field'}</h2>
<table><tr><th>${exp.unit ? 'member' : 'field'}</th><th>total</th><th>mean</th><th>share</th></tr>
${fieldRows}
</table>
${attSection}<h2>Events</h2>
<table><tr><th>#</th><th>µs</th><th>process pid/tid</th><th>syscall</th><th>arguments</th><th>ret</th><th>surprise</th>${fieldHead}</tr>
${rows.join('\n')}
</table>
</body></html>
`;
}
