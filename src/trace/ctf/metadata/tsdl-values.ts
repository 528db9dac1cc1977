/**
 * @module trace/ctf/metadata/tsdl-values
 * TSDL attribute values (`size = 32`, `byte_order = be`, `map = clock.x.value`, `name = "x"`) and the integer and
 * floating-point classes built from `integer { ... }` / `floating_point { ... }` attribute blocks.
 */
import { describeToken, TsdlSyntaxError, type Token } from './tsdl-lexer.js';
import type { ByteOrder, FieldClass, FloatClass, IntClass } from '../types.js';

/** Placeholder byte order of `byte_order = native` (and of integers without one) until the trace's is known. */
export const NATIVE = 'native' as unknown as ByteOrder;

export type Value =
  /** `n` is a number when exact, else a bigint. */
  | { kind: 'int'; n: number | bigint; tok: Token }
  | { kind: 'str'; s: string; tok: Token }
  | { kind: 'id'; s: string; tok: Token };

/** One `key = value;` or `key := type;` entry of a top-level block. */
export interface Entry {
  tok: Token;
  value?: Value;
  type?: FieldClass;
}

/** Where the parser collects what must be finished once the whole text is read. */
export interface Pending {
  /** Classes whose byte order is `native`. */
  natives: Array<{ byteOrder: ByteOrder }>;
  /** `map = clock.NAME.value` attributes, checked against the declared clocks at the end. */
  clockMaps: Array<{ clock: string; tok: Token }>;
}

export function failAt(t: Token, msg: string): never {
  throw new TsdlSyntaxError(t.pos, msg);
}

const BYTE_ORDERS: Record<string, ByteOrder> = {
  native: NATIVE,
  network: 'be',
  be: 'be',
  big_endian: 'be',
  le: 'le',
  little_endian: 'le',
};

const BASES: Record<string, number> = {
  decimal: 10,
  dec: 10,
  d: 10,
  i: 10,
  u: 10,
  hexadecimal: 16,
  hex: 16,
  x: 16,
  X: 16,
  p: 16,
  octal: 8,
  oct: 8,
  o: 8,
  binary: 2,
  b: 2,
};

export function intValue(v: Value, what: string): bigint {
  if (v.kind !== 'int') failAt(v.tok, `${what} must be an integer`);
  return typeof v.n === 'bigint' ? v.n : BigInt(v.n);
}
export function smallInt(v: Value, what: string, min: number, max: number): number {
  if (v.kind !== 'int') failAt(v.tok, `${what} must be an integer`);
  const n = v.n;
  if (typeof n === 'bigint' || n < min || n > max) failAt(v.tok, `${what} ${n} is out of range [${min}, ${max}]`);
  return n;
}
export function textValue(v: Value, what: string): string {
  if (v.kind === 'int') failAt(v.tok, `${what} must be a string or an identifier`);
  return v.s;
}
export function boolValue(v: Value, what: string): boolean {
  if (v.kind === 'int') return v.n !== 0 && v.n !== 0n;
  if (v.kind === 'id' && /^(true|TRUE|True)$/.test(v.s)) return true;
  if (v.kind === 'id' && /^(false|FALSE|False)$/.test(v.s)) return false;
  failAt(v.tok, `${what} must be true or false`);
}
export function byteOrderValue(v: Value): ByteOrder {
  const bo = v.kind === 'id' ? BYTE_ORDERS[v.s] : undefined;
  if (bo === undefined) failAt(v.tok, `unknown byte_order ${v.kind === 'id' ? `'${v.s}'` : describeToken(v.tok)}`);
  return bo;
}

export function encodingValue(v: Value): 'none' | 'utf8' {
  const s = v.kind === 'int' ? '' : v.s;
  if (/^none$/i.test(s)) return 'none';
  if (/^(utf8|utf-8|ascii)$/i.test(s)) return 'utf8';
  failAt(v.tok, `unknown encoding ${describeToken(v.tok)}`);
}

/** The class of `integer { ... }`. */
export function makeInt(attrs: Map<string, Value>, tok: Token, pending: Pending): IntClass {
  const sizeV = attrs.get('size');
  if (!sizeV) failAt(tok, 'integer without a size');
  const size = smallInt(sizeV, 'integer size', 1, 64);
  const alignV = attrs.get('align');
  const align = alignV ? smallInt(alignV, 'integer align', 1, 1 << 30) : size % 8 === 0 ? 8 : 1;
  if ((align & (align - 1)) !== 0) failAt(alignV!.tok, `integer align ${align} is not a power of two`);
  const ic: IntClass = {
    kind: 'int',
    size,
    align,
    signed: false,
    byteOrder: NATIVE,
    base: 10,
    encoding: 'none',
  };
  for (const [key, v] of attrs) {
    switch (key) {
      case 'signed':
        ic.signed = boolValue(v, 'signed');
        break;
      case 'byte_order':
        ic.byteOrder = byteOrderValue(v);
        break;
      case 'base': {
        const b = v.kind === 'int' ? Number(v.n) : v.kind === 'id' ? BASES[v.s] : undefined;
        if (b === undefined || !Number.isInteger(b) || b < 2 || b > 16) failAt(v.tok, `unknown integer base ${describeToken(v.tok)}`);
        ic.base = b;
        break;
      }
      case 'encoding':
        ic.encoding = encodingValue(v);
        break;
      case 'map': {
        const m = v.kind === 'id' ? /^clock\.(.+)\.value$/.exec(v.s) : null;
        if (!m) failAt(v.tok, "integer map must be 'clock.NAME.value'");
        ic.mappedClock = m[1]!;
        pending.clockMaps.push({ clock: m[1]!, tok: v.tok });
        break;
      }
    }
  }
  if (ic.byteOrder === NATIVE) pending.natives.push(ic);
  return ic;
}

/** The class of `floating_point { ... }`: 32 or 64 bits (`exp_dig + mant_dig`). */
export function makeFloat(attrs: Map<string, Value>, tok: Token, pending: Pending): FloatClass {
  const e = attrs.get('exp_dig');
  const m = attrs.get('mant_dig');
  if (!e || !m) failAt(tok, 'floating_point needs exp_dig and mant_dig');
  const size = smallInt(e, 'exp_dig', 1, 64) + smallInt(m, 'mant_dig', 1, 64);
  if (size !== 32 && size !== 64) failAt(tok, `unsupported floating_point size ${size} (only 32 and 64 bits)`);
  const alignV = attrs.get('align');
  const bo = attrs.get('byte_order');
  const fc: FloatClass = {
    kind: 'float',
    size,
    align: alignV ? smallInt(alignV, 'floating_point align', 1, 1 << 30) : 8,
    byteOrder: bo ? byteOrderValue(bo) : NATIVE,
  };
  if (fc.byteOrder === NATIVE) pending.natives.push(fc);
  return fc;
}
