/**
 * @module models/embedding
 * The token-field input shared by the neural language models (LSTM, Transformer, Longformer): each field of a token
 * tuple becomes a code, and the codes are concatenated.
 *
 *   tokens of each field [B, T] ─┬─ learned field: Gather from a [vocab, dim] table        → [B, T, dim]
 *                                └─ sinusoidal field: [sin(id·w_k), cos(id·w_k)], fixed    → [B, T, dim]
 *   position in the sequence [B, T] (optional) ── sinusoidal                               → [B, T, positionDim]
 *   concat → [B, T, E]
 *
 * Field widths and encodings are chosen in `models/lstm/options.ts`: learned for the syscall name, phase, process
 * and return class; sinusoidal for the time-delta bucket, pid, tid and position. Parameter names: `emb.<field>`.
 */
import type { Graph, Value } from '../engine/graph.js';

export interface FieldSpec {
  name: string;
  /** Ids run over [0, vocab). */
  vocab: number;
  /** Code width (even for sinusoidal fields). */
  dim: number;
  encoding: 'learned' | 'sinusoidal';
}

/** The graph name of a tokenizer unit (`name|lat` → `name_lat`): inputs are `tok_<name>`, parameters `emb.<name>`. */
export function graphFieldName(unit: string): string {
  return unit.replaceAll('|', '_');
}

/** Angular frequencies of a d-wide sinusoidal code: w_k = 10000^(-2k/d), k < d/2 (as in Vaswani et al.). */
export function sinusoidalFrequencies(d: number): number[] {
  return Array.from({ length: d / 2 }, (_, k) => 10000 ** (-(2 * k) / d));
}

/** [sin(id·w), cos(id·w)] of int64 ids [B, T] → [B, T, d]; no parameters. */
export function sinusoidalCode(g: Graph, ids: Value, d: number): Value {
  const [B, T] = ids.shape as [number, number];
  const w = g.const(sinusoidalFrequencies(d), [1, 1, d / 2]); // [1, 1, d/2]
  const angle = g.mul(g.reshape(g.cast(ids, g.float), [B, T, 1]), w); // [B, T, d/2]
  return g.concat([g.sin(angle), g.cos(angle)], 2); // [B, T, d]
}

/** Width of the concatenated codes. */
export function inputWidth(fields: readonly FieldSpec[], positionDim: number): number {
  return fields.reduce((s, f) => s + f.dim, 0) + positionDim;
}

/** Declares the learned fields' tables `emb.<field>` [vocab, dim] (null for sinusoidal fields). */
export function fieldTables(g: Graph, fields: readonly FieldSpec[]): (Value | null)[] {
  return fields.map((f) => (f.encoding === 'learned' ? g.param(`emb.${f.name}`, [f.vocab, f.dim], { kind: 'normal', std: 0.1 }, false) : null));
}

/**
 * Concatenated field (and position) codes of tokens toks[f] [B, T] and positions pos [B, T] → [B, T, E]; the
 * tables are declared here unless given (from {@link fieldTables}).
 */
export function embedFields(g: Graph, fields: readonly FieldSpec[], toks: readonly Value[], pos: Value | null, positionDim: number,
  tables: readonly (Value | null)[] = fieldTables(g, fields)): Value {
  const codes = fields.map((f, i) => tables[i] ? g.gather(tables[i]!, toks[i]!) // [B, T, d_f]
    : sinusoidalCode(g, toks[i]!, f.dim)); // [B, T, d_f]
  if (pos !== null && positionDim > 0) codes.push(sinusoidalCode(g, pos, positionDim)); // [B, T, d_pos]
  return codes.length === 1 ? codes[0]! : g.concat(codes, 2); // [B, T, E]
}

/** Checks a field list (field 0 is the predicted one and must be learned); throws RangeError naming the problem. */
export function checkFields(fields: readonly FieldSpec[], positionDim: number, what: string): void {
  if (fields.length === 0) throw new RangeError(`${what} needs at least one field`);
  if (fields[0]!.encoding !== 'learned') throw new RangeError(`${what} field 0 (the predicted one) must be learned`);
  const names = new Set<string>();
  for (const f of fields) {
    if (names.has(f.name)) throw new RangeError(`${what} field ${f.name} given twice`);
    names.add(f.name);
    if (!Number.isSafeInteger(f.vocab) || f.vocab < 1) throw new RangeError(`${what} field ${f.name}: vocab must be >= 1`);
    if (!Number.isSafeInteger(f.dim) || f.dim < 1) throw new RangeError(`${what} field ${f.name}: dim must be >= 1`);
    if (f.encoding !== 'learned' && f.encoding !== 'sinusoidal') throw new RangeError(`${what} field ${f.name}: unknown encoding ${String(f.encoding)}`);
    if (f.encoding === 'sinusoidal' && f.dim % 2 !== 0) throw new RangeError(`${what} field ${f.name}: a sinusoidal dim must be even`);
  }
  if (!Number.isSafeInteger(positionDim) || positionDim < 0 || positionDim % 2 !== 0) {
    throw new RangeError(`${what} positionDim must be even (an integer >= 0), got ${positionDim}`);
  }
}
