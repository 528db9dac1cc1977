/**
 * @module trace/ctf/text
 * Prints a decoded CTF event record the way babeltrace2's `sink.text.pretty` does by default
 * (`[seconds.ns] (+delta) host name: { cpu_id = N }, { stream event context }, { event context }, { payload }`),
 * field by field with each field class's display base, enum labels, arrays and strings. Used to check our decoder
 * against babeltrace2 event for event, and by `convert --format text`.
 */
import type { CtfEventRecord } from './stream.js';
import type { FieldClass, StructClass } from './types.js';

function escape(s: string): string {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (c === 10) out += '\\n';
    else if (c === 13) out += '\\r';
    else if (c === 9) out += '\\t';
    else if (c === 7) out += '\\a';
    else if (c === 8) out += '\\b';
    else if (c === 11) out += '\\v';
    else if (c === 12) out += '\\f';
    else if (c < 32 || c === 127) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return `"${out}"`;
}

function intText(v: unknown, base: number, size: number): string {
  const b = typeof v === 'bigint' ? v : BigInt(v as number);
  if (base === 10) return b.toString();
  // Other bases print the two's-complement bit pattern of negative values, as babeltrace2 does.
  const u = b < 0n ? b + (1n << BigInt(size)) : b;
  if (base === 16) return '0x' + u.toString(16).toUpperCase();
  if (base === 8) return '0' + u.toString(8);
  if (base === 2) return '0b' + u.toString(2);
  return b.toString();
}

export function fieldText(cls: FieldClass, v: unknown): string {
  switch (cls.kind) {
    case 'int': return intText(v, cls.base, cls.size);
    case 'varint': return intText(v, cls.base, 64);
    case 'bool': return v ? 'true' : 'false';
    case 'enum': {
      const c = cls.container;
      const n = v as number | bigint;
      const labels = cls.mappings.filter((m) => m.ranges.some(([lo, hi]) => BigInt(n) >= lo && BigInt(n) <= hi)).map((m) => m.label);
      const lab = labels.length === 0 ? '<unknown>' : labels.length === 1 ? escape(labels[0]!) : `{ ${labels.map(escape).join(', ')} }`;
      const size = c.kind === 'int' ? c.size : 64;
      return `( ${lab} : container = ${intText(v, c.base, size)} )`;
    }
    case 'float': return floatText(v as number);
    case 'string': case 'bstring': return escape(v as string);
    case 'blob': return `[ ${[...(v as Uint8Array)].map((x, i) => `[${i}] = ${x}`).join(', ')} ]`;
    case 'array': {
      if (typeof v === 'string') return escape(v);
      const arr = v as unknown[];
      if (arr.length === 0) return '[ ]';
      return `[ ${arr.map((x, i) => `[${i}] = ${fieldText(cls.element, x)}`).join(', ')} ]`;
    }
    case 'struct': return structText(cls, v as Record<string, unknown>);
    case 'variant': {
      // Without the tag value here, find the option whose shape fits the value: the one decoded.
      const opt = cls.options.length === 1 ? cls.options[0]! : cls.options.find((o) => fits(o.type, v));
      if (!opt) return String(v);
      return `{ ${opt.name} = ${fieldText(opt.type, v)} }`;
    }
    case 'optional': return v === null ? '<none>' : fieldText(cls.type, v);
  }
}

function fits(cls: FieldClass, v: unknown): boolean {
  if (cls.kind === 'struct') {
    return typeof v === 'object' && v !== null && !Array.isArray(v)
      && cls.members.every((m, i) => Object.keys(v)[i] === m.name || Object.keys(v)[i] === m.name);
  }
  if (cls.kind === 'string' || cls.kind === 'bstring') return typeof v === 'string';
  if (cls.kind === 'array') return Array.isArray(v) || typeof v === 'string';
  return typeof v === 'number' || typeof v === 'bigint';
}

function floatText(x: number): string {
  // babeltrace2 prints doubles with %g-like formatting (up to 17 significant digits when needed).
  if (Number.isInteger(x) && Math.abs(x) < 1e16) return x.toFixed(1).replace(/\.0$/, '');
  return String(x);
}

export function structText(cls: StructClass, obj: Record<string, unknown>): string {
  if (cls.members.length === 0) return '{ }';
  const parts = cls.members.map((m) => {
    const name = m.name;
    return `${name} = ${fieldText(m.type, obj[name])}`;
  });
  return `{ ${parts.join(', ')} }`;
}

/** The part of a babeltrace2 pretty line after `(+delta) `: `host name: { … }, { … }`. */
export function eventText(rec: CtfEventRecord, hostname: string | undefined): string {
  const parts: string[] = [];
  const pc = rec.packetContext;
  if (pc && 'cpu_id' in pc) parts.push(`{ cpu_id = ${String(pc['cpu_id'])} }`);
  const sc = rec.streamClass;
  if (sc.eventCommonContext && rec.commonContext) parts.push(structText(sc.eventCommonContext, rec.commonContext));
  if (rec.eventClass.context && rec.specificContext) parts.push(structText(rec.eventClass.context, rec.specificContext));
  if (rec.eventClass.payload && rec.payload) parts.push(structText(rec.eventClass.payload, rec.payload));
  return `${hostname ? hostname + ' ' : ''}${rec.name}: ${parts.join(', ')}`;
}

/** `seconds.nanoseconds` as babeltrace2 `--clock-seconds` prints it. */
export function secondsText(ns: bigint): string {
  const neg = ns < 0n;
  const a = neg ? -ns : ns;
  return `${neg ? '-' : ''}${a / 1_000_000_000n}.${(a % 1_000_000_000n).toString().padStart(9, '0')}`;
}
