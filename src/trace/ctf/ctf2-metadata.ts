/**
 * @module trace/ctf/ctf2-metadata
 * The CTF 2 front end: parses a metadata stream (a JSON text sequence, RFC 7464: fragments each preceded by the RS
 * byte 0x1E) into the shared type model (`TraceClass`).
 *
 * Follows CTF2-SPEC-2.0 and also accepts what the pre-release drafts that LTTng 2.13/2.14 and the shared test traces
 * use: `fixed-length-*-enumeration` / `variable-length-*-enumeration` types, clock-class `name` + `offset` +
 * `origin-is-unix-epoch`, data-stream-class `default-clock-class-name`, `user-attributes`, and field locations written
 * as an array whose first element is the origin (`["event-record-header", "id"]`).
 *
 * Roles are copied from the metadata (`packet-content-length`/`packet-total-length` become the model's
 * `packet-content-size`/`packet-total-size`); integers with a clock-timestamp role get the data stream class's
 * default clock as `mappedClock`. Field classes may be given as the name of a `field-class-alias`.
 *
 * Relative field locations: without `null` elements they stay relative (the first element is then a member of the
 * innermost structure, which the outward lookup of `FieldRef` finds first). With `null` ("parent structure")
 * elements they are turned into absolute references when the structures involved are reached through structure
 * members only; otherwise the nulls are dropped and the outward lookup is relied on.
 */
import { TraceError } from '../errors.js';
import { alignOf, byteOffsetOf, checkFieldRefs, formatUuid, lineColOf } from './metadata/common.js';
import { logLevelOf, ORIGINS, ROLES, traceByteOrder } from './metadata/ctf2-tables.js';
import { isObject, JsonSyntaxError, parseJson, type Json, type JsonObject } from './metadata/json.js';
import type {
  ByteOrder,
  ClockClass,
  EnumMapping,
  EventClass,
  FieldClass,
  FieldRef,
  IntClass,
  Role,
  Scope,
  StreamClass,
  StructClass,
  StructMember,
  TraceClass,
  VarIntClass,
  VariantOption,
} from './types.js';

class Ctf2Error extends Error {
  constructor(
    readonly pos: number,
    message: string,
  ) {
    super(message);
  }
}

interface Ctx {
  scope: Scope;
  /** Default clock of the data stream class being described (mappedClock of clock-timestamp roles). */
  clock?: string;
  /** Paths (from the root scope) of the enclosing structures, innermost last; null when not reachable by names. */
  frames: Array<string[] | null>;
  aliasDepth: number;
}

class Ctf2Parser {
  private readonly positions = new WeakMap<object, number>();
  private readonly refPos = new WeakMap<FieldRef, number>();
  private readonly aliases = new Map<string, Json>();
  private fragPos = 0;

  private uuid?: string;
  private traceSeen = false;
  private packetHeader?: StructClass;
  private readonly env: Record<string, string | number | bigint> = {};
  private readonly clocks = new Map<string, ClockClass>();
  private readonly streams = new Map<number, StreamClass>();

  constructor(private readonly text: string) {}

  private fail(at: object | number | undefined, msg: string): never {
    const pos = typeof at === 'number' ? at : ((at && this.positions.get(at)) ?? this.fragPos);
    throw new Ctf2Error(pos, msg);
  }

  parse(): TraceClass {
    const text = this.text;
    let rs = text.indexOf('\x1e');
    if (rs < 0) this.fail(0, 'not a CTF 2 metadata stream: no record separator (0x1e)');
    if (text.slice(0, rs).trim() !== '') this.fail(0, 'unexpected text before the first record separator (0x1e)');
    let first = true;
    while (rs >= 0) {
      const next = text.indexOf('\x1e', rs + 1);
      const end = next < 0 ? text.length : next;
      this.fragPos = rs;
      if (text.slice(rs + 1, end).trim() !== '') {
        let frag: Json;
        try {
          frag = parseJson(text, rs + 1, end, this.positions);
        } catch (e) {
          if (e instanceof JsonSyntaxError) this.fail(e.pos, `bad JSON: ${e.message}`);
          throw e;
        }
        this.fragment(frag, first);
        first = false;
      }
      rs = next;
    }
    if (first) this.fail(0, 'empty CTF 2 metadata stream');
    return this.finish();
  }

  private finish(): TraceClass {
    const tc: TraceClass = {
      version: '2',
      byteOrder: 'le',
      env: this.env,
      clocks: this.clocks,
      streams: new Map([...this.streams.entries()].sort((a, b) => a[0] - b[0])),
    };
    if (this.uuid !== undefined) tc.uuid = this.uuid;
    if (this.packetHeader) tc.packetHeader = this.packetHeader;
    tc.byteOrder = traceByteOrder(tc) ?? 'le';
    checkFieldRefs(tc, (ref, reason) => this.fail(this.refPos.get(ref), reason));
    return tc;
  }

  // ---- fragments ----

  private fragment(frag: Json, first: boolean): void {
    if (!isObject(frag)) this.fail(undefined, 'a fragment must be a JSON object');
    const type = frag.type;
    if (typeof type !== 'string') this.fail(frag, 'fragment without a "type" string');
    if (first && type !== 'preamble') this.fail(frag, `the first fragment must be the preamble, not "${type}"`);
    switch (type) {
      case 'preamble':
        return this.preamble(frag, first);
      case 'trace-class':
        return this.traceClass(frag);
      case 'clock-class':
        return this.clockClass(frag);
      case 'data-stream-class':
        return this.dataStreamClass(frag);
      case 'event-record-class':
        return this.eventRecordClass(frag);
      case 'field-class-alias': {
        const name = frag.name;
        if (typeof name !== 'string') this.fail(frag, 'field class alias without a "name" string');
        if (frag['field-class'] === undefined) this.fail(frag, `field class alias "${name}" without a "field-class"`);
        this.aliases.set(name, frag['field-class']);
        return;
      }
      default:
        this.fail(frag, `unknown fragment type "${type}"`);
    }
  }

  private preamble(frag: JsonObject, first: boolean): void {
    if (!first) this.fail(frag, 'a preamble fragment may only come first');
    if (frag.version !== 2) this.fail(frag, `unsupported CTF version ${JSON.stringify(frag.version ?? null)} (expected 2)`);
    if (frag.uuid !== undefined) this.uuid = this.uuidOf(frag.uuid, frag);
  }

  private uuidOf(v: Json, at: object): string {
    if (!Array.isArray(v) || v.length !== 16 || !v.every((b) => typeof b === 'number' && Number.isInteger(b) && b >= 0 && b < 256)) {
      this.fail(at, '"uuid" must be an array of 16 bytes');
    }
    return formatUuid(v as number[]);
  }

  private traceClass(frag: JsonObject): void {
    if (this.traceSeen) this.fail(frag, 'more than one trace-class fragment');
    this.traceSeen = true;
    if (this.uuid === undefined && frag.uuid !== undefined) this.uuid = this.uuidOf(frag.uuid, frag);
    const env = frag.environment;
    if (env !== undefined) {
      if (!isObject(env)) this.fail(frag, '"environment" must be an object');
      for (const [k, v] of Object.entries(env)) {
        if (typeof v === 'string' || typeof v === 'number' || typeof v === 'bigint') this.env[k] = v;
      }
    }
    const ph = this.root(frag, 'packet-header-field-class', 'packet.header', undefined);
    if (ph) this.packetHeader = ph;
  }

  private clockClass(frag: JsonObject): void {
    const key = typeof frag.id === 'string' ? frag.id : typeof frag.name === 'string' ? frag.name : undefined;
    if (key === undefined) this.fail(frag, 'clock class without an "id" (or "name")');
    if (this.clocks.has(key)) this.fail(frag, `duplicate clock class "${key}"`);
    const freq = this.bigInt(frag, 'frequency');
    if (freq === undefined || freq <= 0n) this.fail(frag, `clock class "${key}" needs a positive "frequency"`);
    const offset = frag['offset-from-origin'] ?? frag.offset;
    let offsetSeconds = 0n;
    let offsetCycles = 0n;
    if (offset !== undefined) {
      if (!isObject(offset)) this.fail(frag, 'clock offset must be an object {seconds, cycles}');
      offsetSeconds = this.bigInt(offset, 'seconds') ?? 0n;
      offsetCycles = this.bigInt(offset, 'cycles') ?? 0n;
    }
    let unix: boolean;
    const origin = frag.origin;
    if (origin === 'unix-epoch') unix = true;
    else if (isObject(origin)) unix = false;
    else if (origin !== undefined) this.fail(frag, `clock origin must be "unix-epoch" or an object`);
    else if (typeof frag['origin-is-unix-epoch'] === 'boolean') unix = frag['origin-is-unix-epoch'];
    else unix = typeof frag.id !== 'string'; // pre-2.0 drafts (no "id"): the origin defaults to the Unix epoch
    const clock: ClockClass = { name: key, freq, offsetSeconds, offsetCycles, originIsUnixEpoch: unix };
    if (typeof frag.description === 'string') clock.description = frag.description;
    this.clocks.set(key, clock);
  }

  private dataStreamClass(frag: JsonObject): void {
    const id = this.uint(frag, 'id') ?? 0;
    if (this.streams.has(id)) this.fail(frag, `duplicate data stream class id ${id}`);
    const sc: StreamClass = { id, events: new Map() };
    const clockRef = frag['default-clock-class-id'] ?? frag['default-clock-class-name'];
    if (clockRef !== undefined) {
      if (typeof clockRef !== 'string' || !this.clocks.has(clockRef)) {
        this.fail(frag, `data stream class ${id} refers to unknown clock class ${JSON.stringify(clockRef)}`);
      }
      sc.defaultClock = clockRef;
    }
    const pc = this.root(frag, 'packet-context-field-class', 'packet.context', sc.defaultClock);
    const eh = this.root(frag, 'event-record-header-field-class', 'event.header', sc.defaultClock);
    const cc = this.root(frag, 'event-record-common-context-field-class', 'event.common-context', sc.defaultClock);
    if (pc) sc.packetContext = pc;
    if (eh) sc.eventHeader = eh;
    if (cc) sc.eventCommonContext = cc;
    this.streams.set(id, sc);
  }

  private eventRecordClass(frag: JsonObject): void {
    const id = this.uint(frag, 'id') ?? 0;
    const sid = this.uint(frag, 'data-stream-class-id') ?? 0;
    const sc = this.streams.get(sid);
    if (!sc) this.fail(frag, `event record class ${id} refers to unknown data stream class ${sid}`);
    if (sc.events.has(id)) this.fail(frag, `duplicate event record class id ${id} in data stream class ${sid}`);
    const ec: EventClass = { id, name: typeof frag.name === 'string' ? frag.name : '' };
    const ll = logLevelOf(frag.attributes) ?? logLevelOf(frag['user-attributes']);
    if (ll !== undefined) ec.loglevel = ll;
    const ctx = this.root(frag, 'specific-context-field-class', 'event.specific-context', sc.defaultClock);
    const payload = this.root(frag, 'payload-field-class', 'event.payload', sc.defaultClock);
    if (ctx) ec.context = ctx;
    if (payload) ec.payload = payload;
    sc.events.set(id, ec);
  }

  // ---- scalar properties ----

  private bigInt(obj: JsonObject, key: string): bigint | undefined {
    const v = obj[key];
    if (v === undefined) return undefined;
    if (typeof v === 'bigint') return v;
    if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
    this.fail(obj, `"${key}" must be an integer`);
  }

  private uint(obj: JsonObject, key: string): number | undefined {
    const v = obj[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) this.fail(obj, `"${key}" must be a non-negative integer`);
    return v;
  }

  private byteOrder(obj: JsonObject): ByteOrder {
    const v = obj['byte-order'];
    if (v === undefined || v === 'little-endian') return 'le';
    if (v === 'big-endian') return 'be';
    this.fail(obj, `unknown byte order ${JSON.stringify(v)}`);
  }

  private alignment(obj: JsonObject, key: string, def: number): number {
    const a = this.uint(obj, key) ?? def;
    if (a < 1 || (a & (a - 1)) !== 0) this.fail(obj, `"${key}" ${a} is not a positive power of two`);
    return a;
  }

  private base(obj: JsonObject): number {
    const b = this.uint(obj, 'preferred-display-base') ?? 10;
    if (b !== 2 && b !== 8 && b !== 10 && b !== 16) this.fail(obj, `"preferred-display-base" must be 2, 8, 10 or 16`);
    return b;
  }

  private rangeSet(v: Json | undefined, at: object, what: string): Array<[bigint, bigint]> {
    if (!Array.isArray(v)) this.fail(at, `${what} must be an array of [lower, upper] ranges`);
    return v.map((r) => {
      if (!Array.isArray(r) || r.length !== 2) this.fail(isObject(r) || Array.isArray(r) ? r : at, `${what}: a range must be [lower, upper]`);
      const [lo, hi] = r.map((x) => {
        if (typeof x === 'bigint') return x;
        if (typeof x === 'number' && Number.isInteger(x)) return BigInt(x);
        return this.fail(r, `${what}: range bounds must be integers`);
      }) as [bigint, bigint];
      if (hi < lo) this.fail(r, `${what}: range [${lo}, ${hi}] is empty`);
      return [lo, hi];
    });
  }

  private mappings(obj: JsonObject): EnumMapping[] | undefined {
    const m = obj.mappings;
    if (m === undefined) return undefined;
    if (!isObject(m)) this.fail(obj, '"mappings" must be an object');
    const out = Object.entries(m).map(([label, ranges]) => ({ label, ranges: this.rangeSet(ranges, m, `mapping "${label}"`) }));
    return out.length ? out : undefined;
  }

  private roles(obj: JsonObject, ctx: Ctx): { roles?: Role[]; mappedClock?: string } {
    const v = obj.roles;
    if (v === undefined) return {};
    if (!Array.isArray(v)) this.fail(obj, '"roles" must be an array of strings');
    const roles: Role[] = [];
    for (const r of v) {
      const role = typeof r === 'string' ? ROLES[r] : undefined;
      if (role && !roles.includes(role)) roles.push(role);
    }
    const out: { roles?: Role[]; mappedClock?: string } = {};
    if (roles.length) out.roles = roles;
    if (ctx.clock !== undefined && roles.some((r) => r === 'default-clock-timestamp' || r === 'packet-end-default-clock-timestamp')) {
      out.mappedClock = ctx.clock;
    }
    return out;
  }

  // ---- field classes ----

  private root(frag: JsonObject, key: string, scope: Scope, clock: string | undefined): StructClass | undefined {
    const v = frag[key];
    if (v === undefined || v === null) return undefined;
    const ctx: Ctx = { scope, frames: [], aliasDepth: 0 };
    if (clock !== undefined) ctx.clock = clock;
    const fc = this.conv(v, ctx, [], frag);
    if (fc.kind !== 'struct') this.fail(isObject(v) ? v : frag, `"${key}" must be a structure field class, not ${fc.kind}`);
    return fc;
  }

  private conv(node: Json, ctx: Ctx, path: string[] | null, at: object): FieldClass {
    if (typeof node === 'string') {
      const aliased = this.aliases.get(node);
      if (aliased === undefined) this.fail(at, `unknown field class alias "${node}"`);
      if (ctx.aliasDepth > 64) this.fail(at, `field class alias "${node}" refers to itself`);
      return this.conv(aliased, { ...ctx, aliasDepth: ctx.aliasDepth + 1 }, path, at);
    }
    if (!isObject(node)) this.fail(at, 'a field class must be an object or the name of a field class alias');
    const type = node.type;
    if (typeof type !== 'string') this.fail(node, 'field class without a "type" string');
    switch (type) {
      case 'fixed-length-bit-array':
      case 'fixed-length-bit-map':
      case 'fixed-length-unsigned-integer':
      case 'fixed-length-signed-integer':
      case 'fixed-length-unsigned-enumeration':
      case 'fixed-length-signed-enumeration': {
        const size = this.uint(node, 'length');
        if (size === undefined || size < 1 || size > 64) this.fail(node, `${type} "length" must be 1 to 64 bits`);
        const isInt = type.includes('integer') || type.includes('enumeration');
        const ic: IntClass = {
          kind: 'int',
          size,
          align: this.alignment(node, 'alignment', 1),
          signed: type.startsWith('fixed-length-signed'),
          byteOrder: this.byteOrder(node),
          base: isInt ? this.base(node) : 16,
          encoding: 'none',
        };
        Object.assign(ic, this.roles(node, ctx));
        const maps = isInt ? this.mappings(node) : undefined;
        return maps || type.endsWith('enumeration') ? { kind: 'enum', container: ic, mappings: maps ?? [] } : ic;
      }
      case 'fixed-length-boolean': {
        const size = this.uint(node, 'length');
        if (size === undefined || size < 1 || size > 64) this.fail(node, `${type} "length" must be 1 to 64 bits`);
        return { kind: 'bool', size, align: this.alignment(node, 'alignment', 1), byteOrder: this.byteOrder(node) };
      }
      case 'fixed-length-floating-point-number': {
        const size = this.uint(node, 'length');
        if (size !== 32 && size !== 64) this.fail(node, `unsupported floating point length ${size} (only 32 and 64 bits)`);
        return { kind: 'float', size, align: this.alignment(node, 'alignment', 1), byteOrder: this.byteOrder(node) };
      }
      case 'variable-length-unsigned-integer':
      case 'variable-length-signed-integer':
      case 'variable-length-unsigned-enumeration':
      case 'variable-length-signed-enumeration': {
        const vc: VarIntClass = { kind: 'varint', signed: type.startsWith('variable-length-signed'), base: this.base(node) };
        Object.assign(vc, this.roles(node, ctx));
        const maps = this.mappings(node);
        return maps || type.endsWith('enumeration') ? { kind: 'enum', container: vc, mappings: maps ?? [] } : vc;
      }
      case 'null-terminated-string': {
        const enc = node.encoding;
        if (enc !== undefined && enc !== 'utf-8') {
          this.fail(node, `unsupported null-terminated string encoding ${JSON.stringify(enc)} (only utf-8)`);
        }
        return { kind: 'string' };
      }
      case 'static-length-string':
        return { kind: 'bstring', length: this.requiredUint(node, 'length') };
      case 'dynamic-length-string':
        return { kind: 'bstring', length: this.location(node, 'length-field-location', ctx) };
      case 'static-length-blob': {
        const blob: FieldClass = { kind: 'blob', length: this.requiredUint(node, 'length') };
        const { roles } = this.roles(node, ctx);
        if (roles) blob.roles = roles;
        return blob;
      }
      case 'dynamic-length-blob':
        return { kind: 'blob', length: this.location(node, 'length-field-location', ctx) };
      case 'structure':
        return this.structure(node, ctx, path);
      case 'static-length-array':
      case 'dynamic-length-array': {
        const length = type === 'static-length-array' ? this.requiredUint(node, 'length') : this.location(node, 'length-field-location', ctx);
        if (node['element-field-class'] === undefined) this.fail(node, `${type} without an "element-field-class"`);
        const element = this.conv(node['element-field-class'], ctx, null, node);
        const align = Math.max(this.alignment(node, 'minimum-alignment', 1), alignOf(element));
        return { kind: 'array', length, element, align };
      }
      case 'optional': {
        const selector = this.location(node, 'selector-field-location', ctx);
        if (node['field-class'] === undefined) this.fail(node, 'optional field class without a "field-class"');
        const inner = this.conv(node['field-class'], ctx, null, node);
        const out: FieldClass = { kind: 'optional', selector, type: inner };
        if (node['selector-field-ranges'] !== undefined) {
          out.ranges = this.rangeSet(node['selector-field-ranges'], node, '"selector-field-ranges"');
        }
        return out;
      }
      case 'variant': {
        const tag = this.location(node, 'selector-field-location', ctx);
        const opts = node.options;
        if (!Array.isArray(opts) || opts.length === 0) this.fail(node, 'variant field class needs a non-empty "options" array');
        const options: VariantOption[] = opts.map((o) => {
          if (!isObject(o)) this.fail(node, 'a variant option must be an object');
          if (o['field-class'] === undefined) this.fail(o, 'variant option without a "field-class"');
          return {
            name: typeof o.name === 'string' ? o.name : '',
            type: this.conv(o['field-class'], ctx, null, o),
            ranges: this.rangeSet(o['selector-field-ranges'], o, '"selector-field-ranges"'),
          };
        });
        return { kind: 'variant', tag, options };
      }
      default:
        this.fail(node, `unknown field class type "${type}"`);
    }
  }

  private requiredUint(obj: JsonObject, key: string): number {
    const v = this.uint(obj, key);
    if (v === undefined) this.fail(obj, `${String(obj.type)} without "${key}"`);
    return v;
  }

  private structure(node: JsonObject, ctx: Ctx, path: string[] | null): StructClass {
    const mcs = node['member-classes'] ?? [];
    if (!Array.isArray(mcs)) this.fail(node, '"member-classes" must be an array');
    let align = this.alignment(node, 'minimum-alignment', 1);
    const members: StructMember[] = [];
    const seen = new Set<string>();
    ctx.frames.push(path);
    for (const m of mcs) {
      if (!isObject(m) || typeof m.name !== 'string') this.fail(isObject(m) ? m : node, 'a structure member needs a "name" string');
      if (m['field-class'] === undefined) this.fail(m, `structure member "${m.name}" without a "field-class"`);
      if (seen.has(m.name)) this.fail(m, `duplicate structure member "${m.name}"`);
      seen.add(m.name);
      const type = this.conv(m['field-class'], ctx, path ? [...path, m.name] : null, m);
      members.push({ name: m.name, type });
      align = Math.max(align, alignOf(type));
    }
    ctx.frames.pop();
    return { kind: 'struct', align, members };
  }

  private location(obj: JsonObject, key: string, ctx: Ctx): FieldRef {
    const v = obj[key];
    let origin: Json | undefined;
    let path: Json[];
    if (Array.isArray(v)) {
      // Draft form: [origin?, name, ...].
      if (typeof v[0] === 'string' && ORIGINS[v[0]] !== undefined) {
        origin = v[0];
        path = v.slice(1);
      } else {
        path = v;
      }
    } else if (isObject(v)) {
      origin = v.origin;
      if (!Array.isArray(v.path)) this.fail(v, 'a field location needs a "path" array');
      path = v.path;
    } else {
      this.fail(obj, `missing or invalid "${key}"`);
    }
    const at = v as object;
    if (path.length === 0) this.fail(at, 'empty field location path');
    if (!path.every((p) => p === null || typeof p === 'string')) this.fail(at, 'field location path elements must be strings or null');
    if (path[path.length - 1] === null) this.fail(at, 'a field location path may not end with null');
    const elems = path as Array<string | null>;
    const normalize = (base: string[], rest: Array<string | null>): string[] | undefined => {
      const out = [...base];
      for (const p of rest) {
        if (p !== null) out.push(p);
        else if (out.pop() === undefined) return undefined;
      }
      return out;
    };
    let ref: FieldRef;
    if (origin !== undefined) {
      const scope = typeof origin === 'string' ? ORIGINS[origin] : undefined;
      if (!scope) this.fail(at, `unknown field location origin ${JSON.stringify(origin)}`);
      const p = normalize([], elems);
      if (!p || p.length === 0) this.fail(at, 'field location path goes above its origin');
      ref = { kind: 'absolute', scope, path: p };
    } else if (!elems.includes(null)) {
      ref = { kind: 'relative', path: elems as string[] };
    } else {
      let f = ctx.frames.length - 1;
      let k = 0;
      while (elems[k] === null) {
        f--;
        k++;
      }
      if (f < 0) this.fail(at, 'field location path goes above the root structure');
      const base = ctx.frames[f];
      const p = base ? normalize(base, elems.slice(k)) : undefined;
      ref = p && p.length ? { kind: 'absolute', scope: ctx.scope, path: p } : { kind: 'relative', path: elems.filter((e): e is string => e !== null) };
    }
    this.refPos.set(ref, this.positions.get(at) ?? this.positions.get(obj) ?? this.fragPos);
    return ref;
  }
}

/** Parses a CTF 2 metadata stream. Errors name `file` and the UTF-8 byte offset within `text`. */
export function parseCtf2(text: string, file: string): TraceClass {
  try {
    return new Ctf2Parser(text).parse();
  } catch (e) {
    if (e instanceof Ctf2Error) {
      const { line, col } = lineColOf(text, e.pos);
      throw new TraceError(file, byteOffsetOf(text, e.pos), `CTF 2 metadata line ${line}:${col}: ${e.message}`);
    }
    throw e;
  }
}
