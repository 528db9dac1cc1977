/**
 * @module trace/ctf/metadata/common
 * Helpers shared by the TSDL and CTF 2 metadata front ends: alignment of a field class, text positions (UTF-16 index
 * → UTF-8 byte offset, line:column), UUID formatting, and the check that every field reference (sequence length,
 * variant tag, optional selector) names an earlier field of a suitable kind.
 */
import type { FieldClass, FieldRef, Scope, StructClass, TraceClass } from '../types.js';

/** Alignment in bits of a field class, as the decoder applies it before reading the field. */
export function alignOf(fc: FieldClass): number {
  switch (fc.kind) {
    case 'int':
    case 'float':
    case 'bool':
      return fc.align;
    case 'enum':
      return fc.container.kind === 'int' ? fc.container.align : 8;
    case 'varint':
    case 'string':
    case 'bstring':
    case 'blob':
      return 8;
    case 'array':
    case 'struct':
      return fc.align;
    case 'variant':
    case 'optional':
      // A variant/optional has no alignment of its own: the selected field aligns itself (babeltrace does the same).
      return 1;
  }
}

/** UTF-8 byte offset of UTF-16 index `pos` in `text`. */
export function byteOffsetOf(text: string, pos: number): number {
  let bytes = 0;
  const end = Math.min(pos, text.length);
  for (let i = 0; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < end) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

/** 1-based line and column (in characters) of UTF-16 index `pos` in `text`. */
export function lineColOf(text: string, pos: number): { line: number; col: number } {
  let line = 1;
  let lineStart = 0;
  const end = Math.min(pos, text.length);
  for (let i = text.indexOf('\n'); i !== -1 && i < end; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, col: end - lineStart + 1 };
}

/** Canonical lower-case `8-4-4-4-12` form of 16 bytes. */
export function formatUuid(bytes: ArrayLike<number>): string {
  let hex = '';
  for (let i = 0; i < bytes.length; i++) hex += (bytes[i]! & 0xff).toString(16).padStart(2, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The canonical form of a textual UUID, or undefined when `s` is not one. */
export function normalizeUuid(s: string): string | undefined {
  const hex = s.replace(/-/g, '').toLowerCase();
  if (!/^[0-9a-f]{32}$/.test(hex)) return undefined;
  const bytes: number[] = [];
  for (let i = 0; i < 32; i += 2) bytes.push(parseInt(hex.slice(i, i + 2), 16));
  return formatUuid(bytes);
}

/** A number when it fits exactly, else a bigint (environment values, ids). */
export function smallest(n: bigint): number | bigint {
  return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
}

/** What a reference must point at: a length (integer), a TSDL variant tag (enumeration), a CTF 2 selector. */
export type RefUse = 'length' | 'tag' | 'selector' | 'optional-selector';

const USE_KINDS: Record<RefUse, ReadonlySet<FieldClass['kind']>> = {
  length: new Set(['int', 'varint', 'enum']),
  tag: new Set(['enum']),
  selector: new Set(['int', 'varint', 'enum']),
  'optional-selector': new Set(['int', 'varint', 'enum', 'bool']),
};

const USE_WORDS: Record<RefUse, string> = {
  length: 'length field',
  tag: 'variant tag',
  selector: 'variant selector',
  'optional-selector': 'optional selector',
};

const USE_NEEDS: Record<RefUse, string> = {
  length: 'an integer',
  tag: 'an enumeration',
  selector: 'an integer or enumeration',
  'optional-selector': 'a boolean, integer or enumeration',
};

/** Reports a bad reference; the front end turns it into a TraceError at the reference's position. */
export type RefFailure = (ref: FieldRef, reason: string) => never;

interface Frame {
  struct: StructClass;
  /** Members [0, upto) were decoded before the field being checked. */
  upto: number;
}

/**
 * Checks that every field reference of the trace resolves, following the lookup rules of `FieldRef`: relative paths
 * from the innermost enclosing structure outwards (members before the referring field only), then the top-level
 * members of the root scopes decoded earlier; absolute paths from their root scope, which must be decoded no later
 * than the referring field. The target must have a kind the use allows (an integer for a length, an enumeration for a
 * TSDL variant tag, ...).
 */
export function checkFieldRefs(tc: TraceClass, fail: RefFailure): void {
  const roots = new Map<Scope, StructClass>();
  const frames: Frame[] = [];
  const visitRoot = (scope: Scope, st: StructClass | undefined) => {
    if (!st) return;
    roots.set(scope, st);
    visit(st, scope);
  };

  const visit = (fc: FieldClass, scope: Scope): void => {
    switch (fc.kind) {
      case 'struct': {
        const frame: Frame = { struct: fc, upto: 0 };
        frames.push(frame);
        for (let i = 0; i < fc.members.length; i++) {
          frame.upto = i;
          visit(fc.members[i]!.type, scope);
        }
        frames.pop();
        return;
      }
      case 'array':
        if (typeof fc.length !== 'number') resolve(fc.length, 'length', scope);
        visit(fc.element, scope);
        return;
      case 'bstring':
      case 'blob':
        if (typeof fc.length !== 'number') resolve(fc.length, 'length', scope);
        return;
      case 'variant':
        resolve(fc.tag, fc.options.some((o) => o.ranges) ? 'selector' : 'tag', scope);
        for (const o of fc.options) visit(o.type, scope);
        return;
      case 'optional':
        resolve(fc.selector, 'optional-selector', scope);
        visit(fc.type, scope);
        return;
      default:
        return;
    }
  };

  const follow = (start: FieldClass, rest: readonly string[], ref: FieldRef): FieldClass => {
    let cur = start;
    for (const name of rest) {
      if (cur.kind === 'struct') {
        const m = cur.members.find((x) => x.name === name);
        if (!m) fail(ref, `no member "${name}" on the way`);
        cur = m.type;
      } else if (cur.kind === 'variant') {
        const o = cur.options.find((x) => x.name === name || x.name === '_' + name);
        if (!o) fail(ref, `no variant option "${name}" on the way`);
        cur = o.type;
      } else {
        fail(ref, `"${name}" is inside a field that is neither a structure nor a variant`);
      }
    }
    return cur;
  };

  const resolve = (ref: FieldRef, use: RefUse, scope: Scope): void => {
    let target: FieldClass | undefined;
    if (ref.kind === 'absolute') {
      const root = roots.get(ref.scope);
      if (!root) fail(ref, `unresolved ${USE_WORDS[use]}: scope ${ref.scope} is not defined before ${scope}`);
      const first = ref.path[0];
      if (first === undefined) fail(ref, `empty ${USE_WORDS[use]} path`);
      if (ref.scope === scope) {
        // Same root scope: the field must come before the one that uses it.
        const idx = root.members.findIndex((x) => x.name === first);
        if (idx > frames[0]!.upto) fail(ref, `${USE_WORDS[use]} "${first}" comes after the field that uses it`);
      }
      const m = root.members.find((x) => x.name === first);
      if (!m) fail(ref, `unresolved ${USE_WORDS[use]}: no field "${first}" in ${ref.scope}`);
      target = follow(m.type, ref.path.slice(1), ref);
    } else {
      const first = ref.path[0];
      if (first === undefined) fail(ref, `empty ${USE_WORDS[use]} path`);
      for (let f = frames.length - 1; f >= 0 && !target; f--) {
        const { struct, upto } = frames[f]!;
        for (let i = upto - 1; i >= 0; i--) {
          const m = struct.members[i]!;
          if (m.name === first) {
            target = follow(m.type, ref.path.slice(1), ref);
            break;
          }
        }
      }
      if (!target) {
        const earlier = [...roots.entries()].filter(([s]) => s !== scope).reverse();
        for (const [, st] of earlier) {
          const m = st.members.find((x) => x.name === first);
          if (m) {
            target = follow(m.type, ref.path.slice(1), ref);
            break;
          }
        }
      }
      if (!target) fail(ref, `unresolved ${USE_WORDS[use]}: no earlier field named "${first}"`);
    }
    if (!USE_KINDS[use].has(target.kind)) {
      fail(ref, `${USE_WORDS[use]} must be ${USE_NEEDS[use]}, not a field of kind ${target.kind}`);
    }
  };

  visitRoot('packet.header', tc.packetHeader);
  const afterHeader = new Map(roots);
  for (const sc of tc.streams.values()) {
    roots.clear();
    for (const [k, v] of afterHeader) roots.set(k, v);
    visitRoot('packet.context', sc.packetContext);
    visitRoot('event.header', sc.eventHeader);
    visitRoot('event.common-context', sc.eventCommonContext);
    const afterStream = new Map(roots);
    for (const ec of sc.events.values()) {
      roots.clear();
      for (const [k, v] of afterStream) roots.set(k, v);
      visitRoot('event.specific-context', ec.context);
      visitRoot('event.payload', ec.payload);
    }
  }
}
