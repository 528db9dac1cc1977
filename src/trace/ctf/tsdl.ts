/**
 * @module trace/ctf/tsdl
 * The CTF 1.8 front end: parses TSDL metadata text into the shared type model (`TraceClass`).
 *
 * One recursive-descent pass builds the classes directly, with block-scoped type names (`typealias`, `typedef`,
 * `struct`/`variant`/`enum` names). Then, in order: `byte_order = native` is resolved to the trace byte order (which
 * may be declared after the type), every field reference is checked, and roles are assigned by member name and scope
 * (see `metadata/roles.ts`).
 *
 * Names: as babeltrace does (LTTng prefixes field names with `_` to avoid clashes with TSDL keywords), one leading
 * underscore is removed from structure member names and from the components of field references; variant option
 * names keep theirs because they must equal the tag's enumeration labels.
 *
 * Errors throw `TraceError(file, byteOffset, 'line L:C: ...')` at the offending token.
 */
import { TraceError } from '../errors.js';
import { alignOf, byteOffsetOf, lineColOf } from './metadata/common.js';
import { TraceBuilder } from './metadata/tsdl-blocks.js';
import { describeToken, intOf, Lexer, TsdlSyntaxError, type Token } from './metadata/tsdl-lexer.js';
import {
  encodingValue,
  intValue,
  makeFloat,
  makeInt,
  NATIVE,
  smallInt,
  type Entry,
  type Pending,
  type Value,
} from './metadata/tsdl-values.js';
import type {
  ByteOrder,
  EnumClass,
  EnumMapping,
  FieldClass,
  FieldRef,
  IntClass,
  Scope,
  StructClass,
  StructMember,
  TraceClass,
  VariantClass,
  VariantOption,
} from './types.js';

/** Type names declared in one block; `struct`, `variant` and `enum` names live in their own name spaces. */
class TypeScope {
  /** Keys are `t:NAME` (typealias/typedef), `s:NAME`, `v:NAME`, `e:NAME`; created on first declaration. */
  private names?: Map<string, FieldClass>;
  constructor(readonly parent?: TypeScope) {}

  declare(ns: 't' | 's' | 'v' | 'e', name: string, fc: FieldClass): void {
    (this.names ??= new Map()).set(ns + ':' + name, fc);
  }
  private find(key: string): FieldClass | undefined {
    for (let s: TypeScope | undefined = this; s; s = s.parent) {
      const v = s.names?.get(key);
      if (v) return v;
    }
    return undefined;
  }
  type(name: string): FieldClass | undefined {
    return this.find('t:' + name);
  }
  struct(name: string): StructClass | undefined {
    return this.find('s:' + name) as StructClass | undefined;
  }
  variant(name: string): VariantClass | undefined {
    return this.find('v:' + name) as VariantClass | undefined;
  }
  enumeration(name: string): EnumClass | undefined {
    return this.find('e:' + name) as EnumClass | undefined;
  }
}

const REF_PREFIXES: Array<[string[], Scope]> = [
  [['trace', 'packet', 'header'], 'packet.header'],
  [['stream', 'packet', 'context'], 'packet.context'],
  [['stream', 'event', 'header'], 'event.header'],
  [['stream', 'event', 'context'], 'event.common-context'],
  [['event', 'context'], 'event.specific-context'],
  [['event', 'fields'], 'event.payload'],
];

/** Removes the one leading underscore CTF 1.8 consumers strip from field names. */
function stripName(name: string): string {
  return name.startsWith('_') ? name.slice(1) : name;
}

/** A TSDL field path (`stream.event.context.x`, `len`, `a.b`) as a `FieldRef`. */
export function tsdlFieldRef(parts: readonly string[]): FieldRef {
  for (const [prefix, scope] of REF_PREFIXES) {
    if (parts.length > prefix.length && prefix.every((p, i) => parts[i] === p)) {
      return { kind: 'absolute', scope, path: parts.slice(prefix.length).map(stripName) };
    }
  }
  return { kind: 'relative', path: parts.map(stripName) };
}

class TsdlParser {
  /** Lookahead buffer: tokens [head, buf.length) are lexed but not consumed. */
  private buf: Token[] = [];
  private head = 0;
  private readonly lexer: Lexer;
  /** Native-byte-order classes and clock maps, finished once the whole text is read. */
  private readonly pending: Pending = { natives: [], clockMaps: [] };
  private readonly global = new TypeScope();
  private readonly untagged = new WeakSet<VariantClass>();
  private readonly refInfo = new WeakMap<FieldRef, { pos: number; text: string }>();
  private readonly builder = new TraceBuilder();
  /** Integer classes by the exact text of their attribute block (see `plainBlockBody`). */
  private readonly intCache = new Map<string, IntClass>();

  constructor(private readonly text: string) {
    this.lexer = new Lexer(text);
  }

  // ---- token helpers ----

  private peek(o = 0): Token {
    const want = this.head + o;
    while (this.buf.length <= want) {
      const last = this.buf[this.buf.length - 1];
      this.buf.push(last && last.k === 'eof' ? last : this.lexer.next());
    }
    return this.buf[want]!;
  }
  private next(): Token {
    const t = this.peek();
    if (t.k !== 'eof') this.head++;
    if (this.head >= 256) {
      this.buf = this.buf.slice(this.head);
      this.head = 0;
    }
    return t;
  }
  private isP(v: string, o = 0): boolean {
    const t = this.peek(o);
    return t.k === 'p' && t.v === v;
  }
  private isId(v?: string, o = 0): boolean {
    const t = this.peek(o);
    return t.k === 'id' && (v === undefined || t.v === v);
  }
  private fail(t: Token, msg: string): never {
    throw new TsdlSyntaxError(t.pos, msg);
  }
  private expectP(v: string, what?: string): Token {
    const t = this.peek();
    if (t.k !== 'p' || t.v !== v) this.fail(t, `expected '${v}'${what ? ' ' + what : ''} but found ${describeToken(t)}`);
    return this.next();
  }
  private expectId(what: string): Token {
    const t = this.peek();
    if (t.k !== 'id') this.fail(t, `expected ${what} but found ${describeToken(t)}`);
    return this.next();
  }

  // ---- top level ----

  parse(hint: ByteOrder | undefined): TraceClass {
    while (this.peek().k !== 'eof') {
      const t = this.peek();
      if (t.k === 'p' && t.v === ';') {
        this.next();
        continue;
      }
      if (t.k === 'id') {
        if (t.v === 'typealias') {
          this.parseTypealias(this.global);
          continue;
        }
        if (t.v === 'typedef') {
          this.parseTypedef(this.global);
          continue;
        }
        if (/^(trace|env|clock|stream|event|callsite)$/.test(t.v) && this.isP('{', 1)) {
          this.parseBlock();
          continue;
        }
      }
      this.parseMemberDecl(this.global, null);
    }
    return this.builder.finish(hint, this.pending, this.refInfo);
  }

  private parseBlock(): void {
    const kindTok = this.next();
    const kind = kindTok.v;
    this.expectP('{');
    const scope = new TypeScope(this.global);
    const entries = new Map<string, Entry>();
    while (!this.isP('}')) {
      const t = this.peek();
      if (t.k === 'eof') this.fail(kindTok, `unterminated ${kind} block`);
      if (t.k === 'p' && t.v === ';') {
        this.next();
        continue;
      }
      if (this.isId('typealias')) {
        this.parseTypealias(scope);
        continue;
      }
      if (this.isId('typedef')) {
        this.parseTypedef(scope);
        continue;
      }
      if (this.isAssignment()) {
        let key = this.next().v;
        while (this.isP('.')) {
          this.next();
          key += '.' + this.expectId('an attribute name').v;
        }
        const op = this.next();
        if (op.v === ':=') {
          const type = this.applyDims(this.parseTypeSpec(scope, true), this.parseDims());
          entries.set(key, { tok: t, type });
        } else {
          entries.set(key, { tok: t, value: this.parseValue() });
        }
        if (!this.isP('}') && !this.isP(';')) this.expectP(';', `after ${kind} attribute "${key}"`);
        if (this.isP(';')) this.next();
        continue;
      }
      this.parseMemberDecl(scope, null);
    }
    this.next();
    if (this.isP(';')) this.next();
    this.builder.block(kind, entries, kindTok);
  }

  /** `key(.key)* =` or `key(.key)* :=` ahead. */
  private isAssignment(): boolean {
    let o = 0;
    if (!this.isId(undefined, o)) return false;
    o++;
    while (this.isP('.', o) && this.isId(undefined, o + 1)) o += 2;
    return this.isP('=', o) || this.isP(':=', o);
  }

  // ---- values ----

  private parseValue(): Value {
    const t = this.peek();
    if (t.k === 'p' && (t.v === '-' || t.v === '+')) {
      this.next();
      const n = this.peek();
      if (n.k !== 'int') this.fail(n, `expected an integer after '${t.v}' but found ${describeToken(n)}`);
      this.next();
      const v = intOf(n);
      return { kind: 'int', n: t.v === '-' ? (typeof v === 'bigint' ? -v : -v) : v, tok: t };
    }
    if (t.k === 'int') {
      this.next();
      return { kind: 'int', n: intOf(t), tok: t };
    }
    if (t.k === 'chr') {
      this.next();
      return { kind: 'int', n: t.v.codePointAt(0) ?? 0, tok: t };
    }
    if (t.k === 'str') {
      this.next();
      return { kind: 'str', s: t.v, tok: t };
    }
    if (t.k === 'id') {
      this.next();
      let s = t.v;
      while (this.isP('.') && this.isId(undefined, 1)) {
        this.next();
        s += '.' + this.next().v;
      }
      return { kind: 'id', s, tok: t };
    }
    this.fail(t, `expected a value but found ${describeToken(t)}`);
  }

  // ---- top-level blocks ----

  // ---- declarations ----

  private parseTypealias(scope: TypeScope): void {
    this.next();
    const type = this.applyDims(this.parseTypeSpec(scope, true), this.parseDims());
    this.expectP(':=', 'in typealias');
    const first = this.peek();
    const words: string[] = [];
    while (this.isId()) {
      const w = this.next().v;
      if (w !== 'const') words.push(w);
    }
    if (words.length === 0) this.fail(first, `expected the alias name after ':=' but found ${describeToken(first)}`);
    const aliased = this.applyDims(type, this.parseDims());
    this.expectP(';', 'after typealias');
    scope.declare('t', words.join(' '), aliased);
  }

  private parseTypedef(scope: TypeScope): void {
    this.next();
    const type = this.parseTypeSpec(scope, false);
    for (;;) {
      const d = this.parseDeclarator(type, true);
      scope.declare('t', d.name, d.type);
      if (!this.isP(',')) break;
      this.next();
    }
    this.expectP(';', 'after typedef');
  }

  /** A declaration in a structure/variant body (`out` collects its fields), or a type-only declaration elsewhere. */
  private parseMemberDecl(scope: TypeScope, out: Array<{ name: string; type: FieldClass; tok: Token }> | null): void {
    const type = this.parseTypeSpec(scope, false);
    if (this.isP(';')) {
      this.next();
      return;
    }
    if (!out) this.fail(this.peek(), `expected ';' after a type declaration but found ${describeToken(this.peek())}`);
    for (;;) {
      const d = this.parseDeclarator(type, false);
      out.push(d);
      if (!this.isP(',')) break;
      this.next();
    }
    this.expectP(';', 'after a field declaration');
  }

  private parseDeclarator(base: FieldClass, allowUntagged: boolean): { name: string; type: FieldClass; tok: Token } {
    const tok = this.expectId('a field name');
    if (!allowUntagged && base.kind === 'variant' && this.untagged.has(base)) {
      this.fail(tok, `variant field '${tok.v}' has no tag (write 'variant NAME <tag> ${tok.v};')`);
    }
    return { name: tok.v, type: this.applyDims(base, this.parseDims()), tok };
  }

  private parseDims(): Array<number | FieldRef> {
    const dims: Array<number | FieldRef> = [];
    while (this.isP('[')) {
      this.next();
      const t = this.peek();
      if (t.k === 'int') {
        this.next();
        const n = intOf(t);
        if (typeof n === 'bigint' || n > 0x7fffffff) this.fail(t, `array length ${n} is too large`);
        dims.push(n);
      } else if (t.k === 'id') {
        dims.push(this.parseRef());
      } else {
        this.fail(t, `expected an array length or a length field but found ${describeToken(t)}`);
      }
      this.expectP(']');
    }
    return dims;
  }

  private applyDims(base: FieldClass, dims: Array<number | FieldRef>): FieldClass {
    let t = base;
    for (let j = dims.length - 1; j >= 0; j--) t = { kind: 'array', length: dims[j]!, element: t, align: alignOf(t) };
    return t;
  }

  private parseRef(): FieldRef {
    const first = this.peek();
    const parts = [this.expectId('a field name').v];
    while (this.isP('.')) {
      this.next();
      parts.push(this.expectId('a field name').v);
    }
    const ref = tsdlFieldRef(parts);
    this.refInfo.set(ref, { pos: first.pos, text: parts.join('.') });
    return ref;
  }

  // ---- type specifiers ----

  /**
   * A type specifier. With `abstract`, every following identifier is part of the type name (`typealias unsigned
   * long := ...`); otherwise the last identifier before a declarator terminator is left for the declarator.
   */
  private parseTypeSpec(scope: TypeScope, abstract: boolean): FieldClass {
    while (this.isId('const')) this.next();
    const t = this.peek();
    if (t.k !== 'id') this.fail(t, `expected a type but found ${describeToken(t)}`);
    switch (t.v) {
      case 'integer': {
        this.next();
        const body = this.plainBlockBody();
        const seen = body !== undefined ? this.intCache.get(body.text) : undefined;
        if (seen) {
          this.head++; // the '{', the only token lexed ahead
          this.lexer.seek(body!.end);
          return seen;
        }
        const ic = makeInt(this.parseAttrs('integer'), t, this.pending);
        if (body) this.intCache.set(body.text, ic);
        return ic;
      }
      case 'floating_point':
        this.next();
        return makeFloat(this.parseAttrs('floating_point'), t, this.pending);
      case 'string': {
        this.next();
        if (this.isP('{')) {
          const enc = this.parseAttrs('string').get('encoding');
          if (enc) encodingValue(enc);
        }
        return { kind: 'string' };
      }
      case 'enum':
        return this.parseEnum(scope);
      case 'struct':
        return this.parseStruct(scope);
      case 'variant':
        return this.parseVariant(scope);
    }
    const words = [this.next().v];
    while (this.isId() && (abstract || this.isId(undefined, 1))) {
      const w = this.next().v;
      if (w !== 'const') words.push(w);
    }
    const name = words.join(' ');
    const type = scope.type(name);
    if (!type) this.fail(t, `unknown type name '${name}'`);
    return type;
  }

  /**
   * When the next token is a '{' lexed last, the text up to the matching '}' if it holds no comment, string or
   * nested brace: an integer block with that exact text was already parsed, its class can be reused (a kernel
   * trace's metadata repeats a dozen integer blocks thousands of times).
   */
  private plainBlockBody(): { text: string; end: number } | undefined {
    const open = this.peek();
    if (open.k !== 'p' || open.v !== '{' || this.buf.length !== this.head + 1) return undefined;
    const close = this.text.indexOf('}', open.end);
    if (close < 0) return undefined;
    const text = this.text.slice(open.end, close);
    if (/[{/"']/.test(text)) return undefined;
    return { text, end: close + 1 };
  }

  private parseAttrs(what: string): Map<string, Value> {
    if (!this.isP('{')) this.expectP('{', `after '${what}'`);
    this.next();
    const attrs = new Map<string, Value>();
    while (!this.isP('}')) {
      if (this.isP(';')) {
        this.next();
        continue;
      }
      const key = this.peek();
      if (key.k !== 'id') this.expectId(`a ${what} attribute name`);
      this.next();
      if (!this.isP('=')) this.expectP('=', `after '${key.v}'`);
      this.next();
      attrs.set(key.v, this.parseValue());
      if (this.isP(';')) this.next();
      else if (!this.isP('}')) this.expectP(';', `after ${what} attribute '${key.v}'`);
    }
    this.next();
    return attrs;
  }

  private parseEnum(scope: TypeScope): FieldClass {
    const kw = this.next();
    const nameTok = this.isId() ? this.next() : undefined;
    let container: FieldClass | undefined;
    let containerTok: Token | undefined;
    if (this.isP(':')) {
      this.next();
      containerTok = this.peek();
      container = this.parseTypeSpec(scope, true);
    }
    if (!this.isP('{')) {
      if (!nameTok) this.fail(this.peek(), `expected '{' after 'enum' but found ${describeToken(this.peek())}`);
      const known = scope.enumeration(nameTok.v);
      if (!known) this.fail(nameTok, `unknown enum '${nameTok.v}'`);
      return known;
    }
    if (!container) {
      container = scope.type('int');
      if (!container) {
        const int32: IntClass = { kind: 'int', size: 32, align: 32, signed: true, byteOrder: NATIVE, base: 10, encoding: 'none' };
        this.pending.natives.push(int32);
        container = int32;
      }
    }
    if (container.kind !== 'int') this.fail(containerTok ?? kw, `enum container type must be an integer, not a ${container.kind}`);
    const mappings: EnumMapping[] = [];
    const byLabel = new Map<string, EnumMapping>();
    this.next();
    let nextValue = 0n;
    while (!this.isP('}')) {
      const lt = this.peek();
      if (lt.k !== 'id' && lt.k !== 'str') this.fail(lt, `expected an enumerator label but found ${describeToken(lt)}`);
      this.next();
      let lo = nextValue;
      let hi = nextValue;
      if (this.isP('=')) {
        this.next();
        lo = hi = intValue(this.parseValue(), 'enumerator value');
        if (this.isP('...')) {
          this.next();
          hi = intValue(this.parseValue(), 'enumerator range end');
          if (hi < lo) this.fail(lt, `enumerator '${lt.v}' has an empty range ${lo} ... ${hi}`);
        }
      }
      nextValue = hi + 1n;
      let m = byLabel.get(lt.v);
      if (!m) {
        m = { label: lt.v, ranges: [] };
        byLabel.set(lt.v, m);
        mappings.push(m);
      }
      m.ranges.push([lo, hi]);
      if (!this.isP(',')) break;
      this.next();
    }
    this.expectP('}', 'at the end of the enumerator list');
    const ec: EnumClass = { kind: 'enum', container, mappings };
    if (nameTok) scope.declare('e', nameTok.v, ec);
    return ec;
  }

  private parseBody(scope: TypeScope): Array<{ name: string; type: FieldClass; tok: Token }> {
    const open = this.expectP('{');
    const inner = new TypeScope(scope);
    const out: Array<{ name: string; type: FieldClass; tok: Token }> = [];
    while (!this.isP('}')) {
      const t = this.peek();
      if (t.k === 'eof') this.fail(open, "unterminated '{'");
      if (t.k === 'p' && t.v === ';') {
        this.next();
        continue;
      }
      if (this.isId('typealias')) this.parseTypealias(inner);
      else if (this.isId('typedef')) this.parseTypedef(inner);
      else this.parseMemberDecl(inner, out);
    }
    this.next();
    return out;
  }

  private parseAlign(): number | undefined {
    if (!(this.isId('align') && this.isP('(', 1))) return undefined;
    this.next();
    this.next();
    const v = this.parseValue();
    const n = smallInt(v, 'align', 1, 1 << 30);
    if ((n & (n - 1)) !== 0) this.fail(v.tok, `align(${n}) is not a power of two`);
    this.expectP(')');
    return n;
  }

  private parseStruct(scope: TypeScope): FieldClass {
    this.next();
    const nameTok = this.isId() && !(this.isId('align') && this.isP('(', 1)) ? this.next() : undefined;
    if (!this.isP('{')) {
      if (!nameTok) this.fail(this.peek(), `expected '{' after 'struct' but found ${describeToken(this.peek())}`);
      const known = scope.struct(nameTok.v);
      if (!known) this.fail(nameTok, `unknown struct '${nameTok.v}'`);
      const extra = this.parseAlign();
      return extra !== undefined && extra > known.align ? { ...known, align: extra } : known;
    }
    const fields = this.parseBody(scope);
    const members: StructMember[] = [];
    const seen = new Set<string>();
    let align = 1;
    for (const f of fields) {
      const name = stripName(f.name);
      if (seen.has(name)) this.fail(f.tok, `duplicate field '${f.name}' in struct`);
      seen.add(name);
      members.push({ name, type: f.type });
      align = Math.max(align, alignOf(f.type));
    }
    const explicit = this.parseAlign();
    const st: StructClass = { kind: 'struct', align: Math.max(align, explicit ?? 1), members };
    if (nameTok) scope.declare('s', nameTok.v, st);
    return st;
  }

  private parseVariant(scope: TypeScope): FieldClass {
    this.next();
    const nameTok = this.isId() ? this.next() : undefined;
    let tag: FieldRef | undefined;
    if (this.isP('<')) {
      this.next();
      tag = this.parseRef();
      this.expectP('>', 'after the variant tag');
    }
    if (!this.isP('{')) {
      if (!nameTok) this.fail(this.peek(), `expected '{' after 'variant' but found ${describeToken(this.peek())}`);
      const known = scope.variant(nameTok.v);
      if (!known) this.fail(nameTok, `unknown variant '${nameTok.v}'`);
      return tag ? { ...known, tag } : known;
    }
    const fields = this.parseBody(scope);
    const options: VariantOption[] = [];
    const seen = new Set<string>();
    for (const f of fields) {
      if (seen.has(f.name)) this.fail(f.tok, `duplicate variant option '${f.name}'`);
      seen.add(f.name);
      options.push({ name: f.name, type: f.type });
    }
    const v: VariantClass = { kind: 'variant', tag: tag ?? { kind: 'relative', path: [] }, options };
    if (!tag) this.untagged.add(v);
    if (nameTok) scope.declare('v', nameTok.v, v);
    return v;
  }
}

/**
 * Parses TSDL text. `byteOrderHint` (the byte order of the metadata packets' magic) is the trace byte order when the
 * `trace` block declares none. Errors name `file` and the UTF-8 byte offset of the offending token within `text`.
 */
export function parseTsdl(text: string, file: string, byteOrderHint?: ByteOrder): TraceClass {
  try {
    return new TsdlParser(text).parse(byteOrderHint);
  } catch (e) {
    if (e instanceof TsdlSyntaxError) {
      const { line, col } = lineColOf(text, e.pos);
      throw new TraceError(file, byteOffsetOf(text, e.pos), `TSDL line ${line}:${col}: ${e.message}`);
    }
    throw e;
  }
}
