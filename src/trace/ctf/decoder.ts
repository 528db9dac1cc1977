/**
 * @module trace/ctf/decoder
 * Compiles a CTF field class (from `types.ts`) into a closure that decodes one field at a `Cursor`. Compiling once per
 * class keeps the per-event work to plain reads: no type switches, no name look-ups except for field references.
 *
 * Decoded values: integers as number (bigint beyond 2^53), enums as their integer value (labels via `enumLabel`),
 * floats as number, strings as string, arrays as arrays (8-bit-int arrays with an encoding as strings, as
 * babeltrace2 prints them), BLOBs as Uint8Array, structures and variants as objects (a variant is its selected
 * option's value), optionals as the value or null. Member names are used as the metadata front end gives them (the
 * TSDL front end already strips the one leading underscore CTF 1.8 readers remove).
 */
import type { Cursor } from './cursor.js';
import type {
  ArrayClass, EnumClass, FieldClass, FieldRef, IntClass, Scope, StructClass, VariantClass,
} from './types.js';

export type Decoder = (c: Cursor) => unknown;

/** The structure instance currently being decoded for a structure class that a relative reference points into. */
interface Slot { obj: Record<string, unknown> | undefined }

/** What a decoder needs to know about where it sits: the enclosing structures (innermost last) and scope. */
export interface CompileContext {
  /** The classes of the enclosing structures being compiled, innermost last. */
  structs: StructClass[];
  /** Root scopes decoded before this one, with their classes, for resolving absolute/relative references. */
  roots: Array<{ scope: Scope; cls: StructClass }>;
  /** The root scope being compiled. */
  scope?: Scope;
  /** Shared by a whole trace: slots of structure classes that references point into. */
  slots: Map<StructClass, Slot>;
  /** Shared by a whole trace: root scopes referenced from inside themselves. */
  selfScopes: Set<Scope>;
}

/**
 * Compiles a structure. A root scope's structure (`scope` given) is registered in `Cursor.scopes` before its members
 * are decoded, so absolute references into the scope being decoded work too.
 *
 * `unread`: members nobody will read (a consumer's choice, e.g. perf's instruction pointer and the tracepoint's
 * common fields): they are stepped over — an inline integer is not even read (a kernel address is a 64-bit value
 * that would need a bigint) — and left out of the object. Ignored where members refer to earlier members.
 */
export function compileStruct(cls: StructClass, ctx: CompileContext, unread?: ReadonlySet<string>): Decoder {
  const inner: CompileContext = { ...ctx, structs: [...ctx.structs, cls] };
  const names = cls.members.map((m) => m.name);
  const decs = cls.members.map((m) => compile(m.type, inner));
  const n = decs.length;
  const align = cls.align;
  // Root scopes are registered in `Cursor.scopes` for references from later scopes.
  const scope = ctx.structs.length === 0 ? ctx.scope : undefined;
  const slot = ctx.slots.get(cls);
  if (slot || (scope && ctx.selfScopes.has(scope)) || names.includes('__proto__')) {
    // Some member refers to an earlier member of this very structure: build the object as members are decoded.
    return (c) => {
      c.align(align);
      const obj: Record<string, unknown> = {};
      if (scope) c.scopes[scope] = obj;
      const prev = slot?.obj;
      if (slot) slot.obj = obj;
      for (let i = 0; i < n; i++) obj[names[i]!] = decs[i]!(c);
      if (slot) slot.obj = prev;
      return obj;
    };
  }
  // Otherwise one generated function per structure class: byte-aligned integers of 8/16/32/64 bits (most fields)
  // are read inline, other members through their compiled decoders, and the result is one object literal, so V8
  // gives every instance the same shape (monomorphic decoding and reads later). Keys are JSON-quoted: member names
  // cannot inject code. Generated because a closure per field costs a call per field, which dominated decoding.
  const literal = new Function('d', generateStructBody(cls, unread))(decs) as Decoder;
  if (scope) {
    return (c) => {
      c.align(align);
      const obj = literal(c) as Record<string, unknown>;
      c.scopes[scope] = obj;
      return obj;
    };
  }
  return (c) => {
    c.align(align);
    return literal(c);
  };
}

/** Is this an integer the generated code can read inline (no roles, 8/16/32/64 bits)? */
function inlineInt(t: FieldClass): t is IntClass {
  return t.kind === 'int' && !(t.roles && t.roles.length) && (t.size === 8 || t.size === 16 || t.size === 32 || t.size === 64);
}

function generateStructBody(cls: StructClass, unread: ReadonlySet<string> | undefined): string {
  const out: string[] = ['return function (c) {', '  const view = c.view; let p = 0, lo = 0, hi = 0;'];
  const kept = cls.members.map((m) => !unread?.has(m.name));
  cls.members.forEach((m, i) => {
    const t = m.type;
    if (!inlineInt(t)) {
      out.push(kept[i] ? `  const v${i} = d[${i}](c);` : `  d[${i}](c);`);
      return;
    }
    out.push(t.align > 1 ? `  p = c.pos; if (p % ${t.align} !== 0) p += ${t.align} - p % ${t.align};` : '  p = c.pos;');
    out.push(`  if (p + ${t.size} > c.end) c.overrun(p, ${t.size});`);
    if (!kept[i]) {
      // Stepped over: aligned and bounds-checked as if read, never read.
      out.push(`  c.pos = p + ${t.size};`);
      return;
    }
    const le = t.byteOrder === 'le';
    if (t.align % 8 !== 0) {
      // Bit-aligned class (e.g. perf's `align = 1`): usually byte-aligned at run time, else the general reader.
      out.push(`  let v${i}; if ((p & 7) !== 0) { c.pos = p; v${i} = c.${t.signed ? 'readInt' : 'readUint'}(${t.size}, ${le}); } else {`);
    }
    out.push(`  c.pos = p + ${t.size};`);
    const o = 'p >>> 3';
    const s = t.signed ? 'Int' : 'Uint';
    const decl = t.align % 8 !== 0 ? '' : 'const ';
    if (t.size === 8) out.push(t.signed ? `  ${decl}v${i} = view.getInt8(${o});` : `  ${decl}v${i} = view.getUint8(${o});`);
    else if (t.size !== 64) out.push(`  ${decl}v${i} = view.get${s}${t.size}(${o}, ${le});`);
    else {
      out.push(`  lo = view.getUint32((${o}) + ${le ? 0 : 4}, ${le}); hi = view.get${s}32((${o}) + ${le ? 4 : 0}, ${le});`);
      out.push(`  ${decl}v${i} = hi < 0x200000 && hi >= -0x200000 ? hi * 4294967296 + lo : (BigInt(hi) << 32n) | BigInt(lo);`);
    }
    if (t.align % 8 !== 0) out.push('  }');
  });
  out.push(`  return { ${cls.members.flatMap((m, i) => (kept[i] ? [`${JSON.stringify(m.name)}: v${i}`] : [])).join(', ')} };`);
  out.push('};');
  return out.join('\n');
}

/**
 * Compiles a structure whose values nobody reads (an event header made only of role fields, e.g. perf's
 * `{ id, timestamp }`): its members are decoded for their roles, no object is built, and the decoder returns
 * undefined. Saves an allocation per event.
 */
export function compileStructForRoles(cls: StructClass, ctx: CompileContext): Decoder {
  const inner: CompileContext = { ...ctx, structs: [...ctx.structs, cls] };
  const decs = cls.members.map((m) => compile(m.type, inner));
  const n = decs.length;
  const align = cls.align;
  return (c) => {
    c.align(align);
    for (let i = 0; i < n; i++) decs[i]!(c);
    return undefined;
  };
}

/** Whether a structure's members are all integers with roles, so the structure itself is only read for its roles. */
export function onlyRoles(cls: StructClass): boolean {
  return cls.members.every((m) => {
    const t = m.type.kind === 'enum' ? m.type.container : m.type;
    return (t.kind === 'int' || t.kind === 'varint') && !!t.roles && t.roles.length > 0;
  });
}

export function compile(cls: FieldClass, ctx: CompileContext): Decoder {
  switch (cls.kind) {
    case 'int': return compileInt(cls);
    case 'varint': {
      const { signed } = cls;
      const roles = cls.roles;
      if (roles && roles.length) {
        const setRoles = rolesSetter(roles);
        return (c) => {
          const v = c.readVarUint(signed);
          setRoles(c, v, 64);
          return v;
        };
      }
      return (c) => c.readVarUint(signed);
    }
    case 'enum': return compile(cls.container, ctx);
    case 'bool': {
      const int = compileInt({ kind: 'int', size: cls.size, align: cls.align, signed: false, byteOrder: cls.byteOrder, base: 10, encoding: 'none' });
      return (c) => int(c) !== 0;
    }
    case 'float': {
      const { size, align } = cls;
      const le = cls.byteOrder === 'le';
      return (c) => {
        c.align(align);
        c.need(size, 'floating-point field');
        if ((c.pos & 7) === 0) {
          const o = c.pos >>> 3;
          c.pos += size;
          return size === 32 ? c.view.getFloat32(o, le) : c.view.getFloat64(o, le);
        }
        // Unaligned float: reassemble its bits, then reinterpret them.
        const bits = size === 32 ? c.readUint(32, le) : c.readUint(64, le);
        const dv = new DataView(new ArrayBuffer(8));
        if (size === 32) { dv.setUint32(0, Number(bits)); return dv.getFloat32(0); }
        dv.setBigUint64(0, BigInt(bits));
        return dv.getFloat64(0);
      };
    }
    case 'string':
      return (c) => {
        c.align(8);
        const start = c.pos >>> 3;
        const limit = c.end >>> 3;
        const z = c.buf.indexOf(0, start);
        if (z < 0 || z >= limit) throw c.error('string has no terminating NUL before the end of the packet content');
        c.pos = (z + 1) * 8;
        return c.buf.toString('utf8', start, z);
      };
    case 'bstring': {
      const len = lengthOf(cls.length, ctx);
      return (c) => {
        c.align(8);
        const n = len(c);
        c.need(n * 8, 'string');
        const start = c.pos >>> 3;
        c.pos += n * 8;
        const z = c.buf.indexOf(0, start);
        return c.buf.toString('utf8', start, z >= 0 && z < start + n ? z : start + n);
      };
    }
    case 'blob': {
      const len = lengthOf(cls.length, ctx);
      const uuid = cls.roles?.includes('metadata-stream-uuid');
      return (c) => {
        c.align(8);
        const n = len(c);
        c.need(n * 8, 'BLOB');
        const start = c.pos >>> 3;
        c.pos += n * 8;
        const v = c.buf.subarray(start, start + n);
        if (uuid) c.uuid = v;
        return v;
      };
    }
    case 'array': return compileArray(cls, ctx);
    case 'struct': return compileStruct(cls, ctx);
    case 'variant': return compileVariant(cls, ctx);
    case 'optional': {
      const sel = resolveRef(cls.selector, ctx);
      const ranges = cls.ranges;
      const dec = compile(cls.type, ctx);
      return (c) => {
        const v = sel.get(c);
        const present = ranges ? inRanges(v, ranges) : Boolean(v);
        return present ? dec(c) : null;
      };
    }
  }
}

function compileInt(cls: IntClass): Decoder {
  const { size, align, signed } = cls;
  const le = cls.byteOrder === 'le';
  const roles = cls.roles && cls.roles.length ? cls.roles : undefined;
  if (!roles) {
    // Byte-aligned 8/16/32-bit fields (e.g. array elements) read straight from the DataView. Members of structures
    // do not come here: the generated structure decoder reads them inline.
    if (align % 8 === 0 && (size === 8 || size === 16 || size === 32)) {
      const read = fixedReader(size, signed, le);
      return (c) => {
        let pos = c.pos;
        const r = pos % align;
        if (r !== 0) pos += align - r;
        if (pos + size > c.end) c.overrun(pos, size);
        c.pos = pos + size;
        return read(c.view, pos >>> 3);
      };
    }
    if (signed) return (c) => { c.align(align); c.need(size, 'integer field'); return c.readInt(size, le); };
    return (c) => { c.align(align); c.need(size, 'integer field'); return c.readUint(size, le); };
  }
  const setRoles = rolesSetter(roles);
  return (c) => {
    c.align(align);
    c.need(size, 'integer field');
    const v = signed ? c.readInt(size, le) : c.readUint(size, le);
    setRoles(c, v, size);
    return v;
  };
}

/** A DataView read of one byte-aligned 8/16/32-bit integer. */
function fixedReader(size: 8 | 16 | 32, signed: boolean, le: boolean): (v: DataView, o: number) => number {
  switch (size) {
    case 8: return signed ? (v, o) => v.getInt8(o) : (v, o) => v.getUint8(o);
    case 16: return signed ? (v, o) => v.getInt16(o, le) : (v, o) => v.getUint16(o, le);
    case 32: return signed ? (v, o) => v.getInt32(o, le) : (v, o) => v.getUint32(o, le);
  }
}

/** A role's effect on the cursor's registers. */
type RoleSetter = (c: Cursor, v: number | bigint, size: number) => void;

function roleSetter(role: string): RoleSetter | undefined {
  switch (role) {
    case 'event-record-class-id': return (c, v) => { c.eventId = Number(v); };
    case 'default-clock-timestamp': return (c, v, size) => { c.updateClock(v, size); };
    case 'packet-content-size': return (c, v) => { c.contentSize = Number(v); };
    case 'packet-total-size': return (c, v) => { c.packetSize = Number(v); };
    case 'data-stream-class-id': return (c, v) => { c.streamClassId = Number(v); };
    case 'data-stream-id': return (c, v) => { c.streamInstanceId = Number(v); };
    case 'discarded-event-record-counter-snapshot': return (c, v) => { c.discarded = Number(v); };
    case 'packet-end-default-clock-timestamp': return (c, v) => { c.packetEndClock = Number(v); };
    case 'packet-magic-number': return (c, v) => { c.magic = Number(v); };
    default: return undefined;
  }
}

/** The roles of a field as one setter (compiled once per field class, not looked up per event). */
function rolesSetter(roles: readonly string[]): RoleSetter {
  const setters = roles.map(roleSetter).filter((f): f is RoleSetter => f !== undefined);
  if (setters.length === 1) return setters[0]!;
  return (c, v, size) => { for (const f of setters) f(c, v, size); };
}

function compileArray(cls: ArrayClass, ctx: CompileContext): Decoder {
  const el = cls.element;
  const len = lengthOf(cls.length, ctx);
  const align = Math.max(cls.align, alignOf(el));
  const uuid = cls.roles?.includes('metadata-stream-uuid');
  // Arrays of 8-bit integers with an encoding are text, as babeltrace2 prints them.
  if (el.kind === 'int' && el.size === 8 && el.encoding === 'utf8') {
    return (c) => {
      const n = len(c);
      c.align(align);
      c.need(n * 8, 'text array');
      const start = c.pos >>> 3;
      c.pos += n * 8;
      const z = c.buf.indexOf(0, start);
      return c.buf.toString('utf8', start, z >= 0 && z < start + n ? z : start + n);
    };
  }
  const dec = compile(el, ctx);
  return (c) => {
    const n = len(c);
    c.align(align);
    const out = new Array<unknown>(n);
    for (let i = 0; i < n; i++) out[i] = dec(c);
    if (uuid) c.uuid = Uint8Array.from(out as number[]);
    return out;
  };
}

function compileVariant(cls: VariantClass, ctx: CompileContext): Decoder {
  const tag = resolveRef(cls.tag, ctx);
  // With TSDL the tag is an enum and options are chosen by label; turn labels into the enum's value ranges.
  const optionRanges: Array<Array<[bigint, bigint]>> = cls.options.map((o) => {
    if (o.ranges) return o.ranges;
    const en = tag.cls?.kind === 'enum' ? tag.cls : undefined;
    if (!en) return [];
    const m = en.mappings.find((mp) => mp.label === o.name || mp.label === o.name);
    return m ? m.ranges : [];
  });
  const decs = cls.options.map((o) => compile(o.type, ctx));
  // Small dense selector values (the usual case) index a table directly.
  const table = new Map<number, number>();
  optionRanges.forEach((rs, i) => {
    for (const [lo, hi] of rs) {
      if (hi - lo < 4096n) for (let v = lo; v <= hi; v++) if (!table.has(Number(v))) table.set(Number(v), i);
    }
  });
  return (c) => {
    const v = tag.get(c);
    let i = typeof v === 'number' ? table.get(v) : undefined;
    if (i === undefined) {
      const bv = typeof v === 'bigint' ? v : BigInt(Number(v));
      i = optionRanges.findIndex((rs) => inRanges(bv, rs));
      if (i < 0) throw c.error(`variant selector value ${String(v)} selects no option`);
    }
    return decs[i]!(c);
  };
}

function inRanges(v: unknown, ranges: Array<[bigint, bigint]>): boolean {
  if (typeof v !== 'number' && typeof v !== 'bigint') return false;
  const b = typeof v === 'bigint' ? v : BigInt(v);
  for (const [lo, hi] of ranges) if (b >= lo && b <= hi) return true;
  return false;
}

function lengthOf(length: number | FieldRef, ctx: CompileContext): (c: Cursor) => number {
  if (typeof length === 'number') return () => length;
  const ref = resolveRef(length, ctx);
  return (c) => {
    const v = ref.get(c);
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw c.error(`length field holds ${String(v)}, not a length`);
    if (n > c.end) throw c.error(`length ${n} is larger than the packet`);
    return n;
  };
}

export function alignOf(cls: FieldClass): number {
  switch (cls.kind) {
    case 'int': case 'float': case 'bool': return cls.align;
    case 'enum': return alignOf(cls.container);
    case 'struct': return cls.align;
    case 'array': return Math.max(cls.align, alignOf(cls.element));
    case 'varint': case 'string': case 'bstring': case 'blob': return 8;
    case 'variant': case 'optional': return 1;
  }
}

/** A reference resolved at compile time: the referenced field's class (when found) and a run-time getter. */
interface ResolvedRef {
  cls?: FieldClass;
  get: (c: Cursor) => unknown;
}

function walk(obj: unknown, path: string[]): unknown {
  // One-name paths (a sibling's length or tag) are nearly all of them.
  if (path.length === 1) return (obj as Record<string, unknown> | undefined)?.[path[0]!];
  let v = obj;
  for (const p of path) v = (v as Record<string, unknown> | undefined)?.[p];
  return v;
}

function classAt(cls: StructClass, path: string[]): FieldClass | undefined {
  let cur: FieldClass | undefined = cls;
  for (const p of path) {
    if (!cur || cur.kind !== 'struct') return undefined;
    cur = cur.members.find((m) => m.name === p)?.type;
  }
  return cur;
}

/**
 * Resolves a field reference. Relative TSDL paths are looked up lexically: the innermost enclosing structure first,
 * then outwards, then the root scopes decoded before this one (latest first), as babeltrace does.
 */
function resolveRef(ref: FieldRef, ctx: CompileContext): ResolvedRef {
  const path = ref.path;
  if (ref.kind === 'absolute') {
    if (ref.scope === ctx.scope) ctx.selfScopes.add(ref.scope);
    const root = ctx.roots.find((r) => r.scope === ref.scope);
    const current = ctx.structs[0];
    const cls = root ? classAt(root.cls, path) : current ? classAt(current, path) : undefined;
    const scope = ref.scope;
    return { cls, get: (c) => walk(c.scopes[scope], path) };
  }
  const head = path[0]!;
  for (let k = ctx.structs.length - 1; k >= 0; k--) {
    const s = ctx.structs[k]!;
    if (s.members.some((m) => m.name === head)) {
      let slot = ctx.slots.get(s);
      if (!slot) ctx.slots.set(s, (slot = { obj: undefined }));
      const target = slot;
      return { cls: classAt(s, path), get: () => walk(target.obj, path) };
    }
  }
  for (let k = ctx.roots.length - 1; k >= 0; k--) {
    const r = ctx.roots[k]!;
    if (r.cls.members.some((m) => m.name === head)) {
      const scope = r.scope;
      return { cls: classAt(r.cls, path), get: (c) => walk(c.scopes[scope], path) };
    }
  }
  throw new Error(`field reference '${ref.path.join('.')}' names no earlier field`);
}

/** The label of an enum value (first matching mapping), or undefined. */
export function enumLabel(cls: EnumClass, v: number | bigint): string | undefined {
  const b = typeof v === 'bigint' ? v : BigInt(v);
  for (const m of cls.mappings) for (const [lo, hi] of m.ranges) if (b >= lo && b <= hi) return m.label;
  return undefined;
}
