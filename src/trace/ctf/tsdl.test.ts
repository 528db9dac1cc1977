/**
 * @module trace/ctf/tsdl.test
 * The TSDL front end on small hand-written metadata: integer/float/string attributes, native byte order resolved
 * late, enums, structs, variants, arrays/sequences, field references, blocks, roles, and errors at the right byte
 * offset with line:col.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TraceError } from '../errors.js';
import { parseTsdl, tsdlFieldRef } from './tsdl.js';
import type { ArrayClass, EnumClass, FieldClass, IntClass, StructClass, TraceClass, VariantClass } from './types.js';

/** The member at a dotted path (structure members and variant options). */
function at(fc: FieldClass | undefined, path: string): FieldClass {
  let cur = fc;
  for (const name of path.split('.')) {
    assert.ok(cur, `no class before ${name}`);
    if (cur.kind === 'struct') cur = cur.members.find((m) => m.name === name)?.type;
    else if (cur.kind === 'variant') cur = cur.options.find((o) => o.name === name)?.type;
    else assert.fail(`${name}: not inside a struct/variant but ${cur.kind}`);
    assert.ok(cur, `no member ${name} in ${path}`);
  }
  return cur!;
}

function asInt(fc: FieldClass): IntClass {
  assert.equal(fc.kind, 'int');
  return fc as IntClass;
}

const PRELUDE = `/* CTF 1.8 */
typealias integer { size = 8; align = 8; signed = false; } := uint8_t;
typealias integer { size = 16; align = 16; signed = false; } := uint16_t;
typealias integer { size = 32; align = 32; signed = false; } := uint32_t;
typealias integer { size = 64; align = 64; signed = false; } := unsigned long;
typealias integer { size = 5; align = 1; signed = false; } := uint5_t;
`;

function parse(body: string, hint?: 'le' | 'be'): TraceClass {
  return parseTsdl(PRELUDE + body, 'metadata', hint);
}

function payload(tc: TraceClass, id = 0, stream = 0): StructClass {
  const p = tc.streams.get(stream)?.events.get(id)?.payload;
  assert.ok(p, `no payload for event ${id}`);
  return p;
}

/** Asserts that parsing throws a TraceError whose offset is that of `needle` in the full text. */
function assertErrorAt(body: string, needle: string, reason: RegExp): TraceError {
  const text = PRELUDE + body;
  let err: unknown;
  try {
    parseTsdl(text, 'metadata');
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof TraceError, `expected a TraceError, got ${String(err)}`);
  assert.equal(err.file, 'metadata');
  assert.match(err.reason, reason);
  const pos = text.indexOf(needle);
  assert.ok(pos >= 0, `needle ${needle} not in text`);
  assert.equal(err.offset, Buffer.byteLength(text.slice(0, pos)), `offset of ${JSON.stringify(needle)}`);
  const line = text.slice(0, pos).split('\n').length;
  const col = pos - text.lastIndexOf('\n', pos - 1);
  assert.match(err.reason, new RegExp(`line ${line}:${col}:`));
  return err;
}

describe('parseTsdl: integers and byte order', () => {
  it('resolves native byte order from a trace block declared after the type', () => {
    const tc = parseTsdl(
      `typealias integer { size = 32; byte_order = native; } := u32;
       typealias integer { size = 16; byte_order = network; } := n16;
       trace { major = 1; minor = 8; byte_order = be; };
       event { name = "e"; fields := struct { u32 a; n16 b; integer { size = 8; byte_order = little_endian; } c; }; };`,
      'm',
    );
    assert.equal(tc.byteOrder, 'be');
    assert.equal(asInt(at(payload(tc), 'a')).byteOrder, 'be');
    assert.equal(asInt(at(payload(tc), 'b')).byteOrder, 'be');
    assert.equal(asInt(at(payload(tc), 'c')).byteOrder, 'le');
  });

  it('uses the byte-order hint when the trace block declares none, and le otherwise', () => {
    const body = `event { fields := struct { integer { size = 32; } a; }; };`;
    assert.equal(asInt(at(payload(parseTsdl(body, 'm', 'be')), 'a')).byteOrder, 'be');
    assert.equal(asInt(at(payload(parseTsdl(body, 'm')), 'a')).byteOrder, 'le');
  });

  it('reads size, default alignment, signedness, bases, encodings and clock maps', () => {
    const tc = parse(`
      clock { name = mono; freq = 1000; };
      event { fields := struct {
        integer { size = 12; signed = true; base = hex; } a;
        integer { size = 16; signed = 1; base = x; } b;
        integer { size = 8; encoding = UTF8; base = o; } c;
        integer { size = 8; encoding = ASCII; base = binary; } d;
        integer { size = 64; align = 32; base = 16; map = clock.mono.value; } e;
        integer { size = 3; base = u; } f;
        integer { size = 1; base = p; } g;
      }; };`);
    const p = payload(tc);
    const a = asInt(at(p, 'a'));
    assert.deepEqual([a.size, a.align, a.signed, a.base], [12, 1, true, 16]);
    const b = asInt(at(p, 'b'));
    assert.deepEqual([b.size, b.align, b.signed, b.base], [16, 8, true, 16]);
    assert.deepEqual([asInt(at(p, 'c')).encoding, asInt(at(p, 'c')).base], ['utf8', 8]);
    assert.deepEqual([asInt(at(p, 'd')).encoding, asInt(at(p, 'd')).base], ['utf8', 2]);
    const e = asInt(at(p, 'e'));
    assert.deepEqual([e.align, e.mappedClock, e.signed], [32, 'mono', false]);
    assert.equal(asInt(at(p, 'f')).base, 10);
    assert.equal(asInt(at(p, 'g')).base, 16);
  });

  it('accepts multi-word aliases, typedefs, hex/octal/suffixed literals and negative values', () => {
    const tc = parse(`
      typedef integer { size = 0x20; align = 010; signed = 1; } my_int_t;
      typedef uint8_t bytes4_t[4];
      env { a = -5; b = 0x10UL; c = 017; d = "x"; e = 18446744073709551615ULL; };
      event { fields := struct { unsigned long big; my_int_t s; bytes4_t four; }; };`);
    const p = payload(tc);
    assert.deepEqual([asInt(at(p, 'big')).size, asInt(at(p, 'big')).align], [64, 64]);
    assert.deepEqual([asInt(at(p, 's')).size, asInt(at(p, 's')).align], [32, 8]);
    const four = at(p, 'four') as ArrayClass;
    assert.equal(four.kind, 'array');
    assert.equal(four.length, 4);
    assert.deepEqual(tc.env, { a: -5, b: 16, c: 15, d: 'x', e: 18446744073709551615n });
  });

  it('maps floating_point to 32/64-bit floats', () => {
    const tc = parse(`event { fields := struct {
      floating_point { exp_dig = 8; mant_dig = 24; align = 32; } f;
      floating_point { exp_dig = 11; mant_dig = 53; align = 64; byte_order = be; } d;
    }; };`);
    assert.deepEqual(at(payload(tc), 'f'), { kind: 'float', size: 32, align: 32, byteOrder: 'le' });
    assert.deepEqual(at(payload(tc), 'd'), { kind: 'float', size: 64, align: 64, byteOrder: 'be' });
  });

  it('reads strings with and without an encoding block', () => {
    const tc = parse(`event { fields := struct { string a; string { encoding = ASCII; } b; }; };`);
    assert.deepEqual(at(payload(tc), 'a'), { kind: 'string' });
    assert.deepEqual(at(payload(tc), 'b'), { kind: 'string' });
  });
});

describe('parseTsdl: enums, structs, variants, arrays', () => {
  it('auto-increments enumerator values and keeps ranges and quoted labels', () => {
    const tc = parse(`
      typealias integer { size = 32; signed = true; } := int;
      enum state : uint8_t { A, B = 3, C, D = 5 ... 7, E, "quoted label", F = -1 };
      event { fields := struct { enum state s; enum { X, Y } t; enum : integer { size = 4; } { P = 2 } u; }; };`);
    const s = at(payload(tc), 's') as EnumClass;
    assert.equal(s.kind, 'enum');
    assert.equal((s.container as IntClass).size, 8);
    assert.deepEqual(
      s.mappings.map((m) => [m.label, m.ranges]),
      [
        ['A', [[0n, 0n]]],
        ['B', [[3n, 3n]]],
        ['C', [[4n, 4n]]],
        ['D', [[5n, 7n]]],
        ['E', [[8n, 8n]]],
        ['quoted label', [[9n, 9n]]],
        ['F', [[-1n, -1n]]],
      ],
    );
    const t = at(payload(tc), 't') as EnumClass;
    assert.deepEqual([(t.container as IntClass).size, (t.container as IntClass).signed], [32, true]);
    assert.equal(((at(payload(tc), 'u') as EnumClass).container as IntClass).size, 4);
  });

  it('computes struct alignment as the max of align() and the members', () => {
    const tc = parse(`
      struct small { uint8_t a; uint5_t b; } align(32);
      struct big { uint8_t a; unsigned long b; } align(8);
      struct arr { uint8_t a; unsigned long b[2]; };
      event { fields := struct { struct small s; struct big b; struct arr c; struct { uint5_t x; } d; }; };`);
    const p = payload(tc);
    assert.equal((at(p, 's') as StructClass).align, 32);
    assert.equal((at(p, 'b') as StructClass).align, 64);
    assert.equal((at(p, 'c') as StructClass).align, 64);
    assert.equal((at(p, 'c.b') as ArrayClass).align, 64);
    assert.equal((at(p, 'd') as StructClass).align, 1);
    assert.equal(p.align, 64);
  });

  it('handles untagged variants declared once and used with a tag, and inline tagged variants', () => {
    const tc = parse(`
      enum kind_e : uint8_t { num, str };
      variant value_v { uint32_t num; string str; };
      event { fields := struct {
        enum kind_e k;
        variant value_v <k> v;
        variant <k> { uint8_t num; uint16_t str; } w;
        struct { enum kind_e kk; variant value_v <kk> inner; } nested;
      }; };`);
    const v = at(payload(tc), 'v') as VariantClass;
    assert.equal(v.kind, 'variant');
    assert.deepEqual(v.tag, { kind: 'relative', path: ['k'] });
    assert.deepEqual(
      v.options.map((o) => [o.name, o.type.kind]),
      [
        ['num', 'int'],
        ['str', 'string'],
      ],
    );
    assert.equal((at(payload(tc), 'w') as VariantClass).options.length, 2);
    assert.deepEqual((at(payload(tc), 'nested.inner') as VariantClass).tag, { kind: 'relative', path: ['kk'] });
  });

  it('builds arrays, sequences and multi-dimensional arrays (outer dimension first)', () => {
    const tc = parse(`event { fields := struct {
      uint32_t len;
      uint8_t fixed[16];
      uint16_t seq[len];
      uint8_t grid[2][3];
      uint8_t rows[len][4];
    }; };`);
    const p = payload(tc);
    const fixed = at(p, 'fixed') as ArrayClass;
    assert.deepEqual([fixed.length, fixed.align, fixed.element.kind], [16, 8, 'int']);
    const seq = at(p, 'seq') as ArrayClass;
    assert.deepEqual(seq.length, { kind: 'relative', path: ['len'] });
    assert.equal(seq.align, 16);
    const grid = at(p, 'grid') as ArrayClass;
    assert.equal(grid.length, 2);
    assert.equal((grid.element as ArrayClass).length, 3);
    const rows = at(p, 'rows') as ArrayClass;
    assert.deepEqual(rows.length, { kind: 'relative', path: ['len'] });
    assert.equal((rows.element as ArrayClass).length, 4);
  });

  it('maps field reference prefixes to scopes and strips one leading underscore', () => {
    assert.deepEqual(tsdlFieldRef(['trace', 'packet', 'header', 'x']), { kind: 'absolute', scope: 'packet.header', path: ['x'] });
    assert.deepEqual(tsdlFieldRef(['stream', 'packet', 'context', 'x']), { kind: 'absolute', scope: 'packet.context', path: ['x'] });
    assert.deepEqual(tsdlFieldRef(['stream', 'event', 'header', 'v', 'y']), { kind: 'absolute', scope: 'event.header', path: ['v', 'y'] });
    assert.deepEqual(tsdlFieldRef(['stream', 'event', 'context', '_x']), { kind: 'absolute', scope: 'event.common-context', path: ['x'] });
    assert.deepEqual(tsdlFieldRef(['event', 'context', 'x']), { kind: 'absolute', scope: 'event.specific-context', path: ['x'] });
    assert.deepEqual(tsdlFieldRef(['event', 'fields', '__len']), { kind: 'absolute', scope: 'event.payload', path: ['_len'] });
    assert.deepEqual(tsdlFieldRef(['a', 'b']), { kind: 'relative', path: ['a', 'b'] });
  });

  it('resolves references across scopes and strips underscores from member names like babeltrace', () => {
    const tc = parse(`
      stream { event.context := struct { uint8_t _n; }; };
      event { context := struct { uint8_t m; }; fields := struct {
        uint8_t __len;
        uint8_t _seq[__len];
        uint8_t a[stream.event.context._n];
        uint8_t b[event.context.m];
        uint8_t c[event.fields.__len];
      }; };`);
    const p = payload(tc);
    assert.deepEqual(
      p.members.map((m) => m.name),
      ['_len', 'seq', 'a', 'b', 'c'],
    );
    assert.deepEqual((at(p, 'a') as ArrayClass).length, { kind: 'absolute', scope: 'event.common-context', path: ['n'] });
    assert.deepEqual((at(p, 'b') as ArrayClass).length, { kind: 'absolute', scope: 'event.specific-context', path: ['m'] });
    assert.deepEqual((at(p, 'c') as ArrayClass).length, { kind: 'absolute', scope: 'event.payload', path: ['_len'] });
  });
});

describe('parseTsdl: blocks and roles', () => {
  const LTTNG_LIKE = `
    trace { major = 1; minor = 8; uuid = "CF1C757C-93A6-6343-BE56-FE367222623C"; byte_order = le;
      packet.header := struct { uint32_t magic; uint8_t uuid[16]; uint32_t stream_id; unsigned long stream_instance_id; }; };
    env { hostname = "h"; tracer_major = 2; };
    clock { name = "monotonic"; uuid = "d39b661a-e9f2-49d1-ad90-b039bba8a6fb"; description = "Monotonic Clock";
      freq = 1000000000; precision = 1; offset_s = 10; offset = 42; absolute = TRUE; };
    typealias integer { size = 27; align = 1; signed = false; map = clock.monotonic.value; } := uint27_clock_t;
    typealias integer { size = 64; align = 64; signed = false; map = clock.monotonic.value; } := uint64_clock_t;
    struct packet_context {
      uint64_clock_t timestamp_begin; uint64_clock_t timestamp_end;
      unsigned long content_size; unsigned long packet_size; unsigned long packet_seq_num;
      unsigned long events_discarded; uint32_t cpu_id;
    };
    struct event_header_compact {
      enum : uint5_t { compact = 0 ... 30, extended = 31 } id;
      variant <id> {
        struct { uint27_clock_t timestamp; } compact;
        struct { uint32_t id; uint64_clock_t timestamp; } extended;
      } v;
    } align(32);
    stream { id = 3; event.header := struct event_header_compact; packet.context := struct packet_context; };
    event { name = "a"; id = 7; stream_id = 3; loglevel = 13; model.emf.uri = "x"; fields := struct { uint32_t x; }; };
    event { name = b; stream_id = 3; };
    callsite { name = "a"; func = "f"; file = "x.c"; line = 3; ip = 0x1234; };
  `;

  it('reads trace, env, clock, stream and event blocks', () => {
    const tc = parse(LTTNG_LIKE);
    assert.equal(tc.version, '1.8');
    assert.equal(tc.uuid, 'cf1c757c-93a6-6343-be56-fe367222623c');
    assert.deepEqual(tc.env, { hostname: 'h', tracer_major: 2 });
    assert.deepEqual(tc.clocks.get('monotonic'), {
      name: 'monotonic',
      freq: 1_000_000_000n,
      offsetSeconds: 10n,
      offsetCycles: 42n,
      originIsUnixEpoch: true,
      description: 'Monotonic Clock',
    });
    const sc = tc.streams.get(3)!;
    assert.deepEqual([...sc.events.keys()].sort(), [0, 7]);
    assert.deepEqual(sc.events.get(7)!.loglevel, 13);
    assert.equal(sc.events.get(0)!.name, 'b');
    assert.equal(sc.events.get(0)!.payload, undefined);
    assert.equal(sc.defaultClock, 'monotonic');
    assert.equal(sc.eventHeader!.align, 32);
  });

  it('assigns roles by name and scope without mutating shared typealiases', () => {
    const tc = parse(LTTNG_LIKE);
    const ph = tc.packetHeader!;
    assert.deepEqual(asInt(at(ph, 'magic')).roles, ['packet-magic-number']);
    assert.deepEqual((at(ph, 'uuid') as ArrayClass).roles, ['metadata-stream-uuid']);
    assert.deepEqual(asInt(at(ph, 'stream_id')).roles, ['data-stream-class-id']);
    assert.deepEqual(asInt(at(ph, 'stream_instance_id')).roles, ['data-stream-id']);
    const sc = tc.streams.get(3)!;
    const pc = sc.packetContext!;
    assert.deepEqual(asInt(at(pc, 'timestamp_begin')).roles, ['default-clock-timestamp']);
    assert.deepEqual(asInt(at(pc, 'timestamp_end')).roles, ['packet-end-default-clock-timestamp']);
    assert.deepEqual(asInt(at(pc, 'content_size')).roles, ['packet-content-size']);
    assert.deepEqual(asInt(at(pc, 'packet_size')).roles, ['packet-total-size']);
    assert.deepEqual(asInt(at(pc, 'packet_seq_num')).roles, ['packet-sequence-number']);
    assert.deepEqual(asInt(at(pc, 'events_discarded')).roles, ['discarded-event-record-counter-snapshot']);
    assert.equal(asInt(at(pc, 'cpu_id')).roles, undefined);
    const eh = sc.eventHeader!;
    const id = at(eh, 'id') as EnumClass;
    assert.deepEqual((id.container as IntClass).roles, ['event-record-class-id']);
    assert.deepEqual(asInt(at(eh, 'v.compact.timestamp')).roles, ['default-clock-timestamp']);
    assert.equal(asInt(at(eh, 'v.compact.timestamp')).mappedClock, 'monotonic');
    assert.deepEqual(asInt(at(eh, 'v.extended.id')).roles, ['event-record-class-id']);
    assert.deepEqual(asInt(at(eh, 'v.extended.timestamp')).roles, ['default-clock-timestamp']);
    // Shared aliases keep no roles: the payload's uint32_t and the original header struct are untouched.
    assert.equal(asInt(at(payload(tc, 7, 3), 'x')).roles, undefined);
    assert.notEqual(asInt(at(pc, 'timestamp_end')), asInt(at(eh, 'v.extended.timestamp')));
    assert.deepEqual(asInt(at(eh, 'v.extended.timestamp')).roles, ['default-clock-timestamp']);
  });

  it('gives the only clock as default clock and creates stream 0 for events without a stream block', () => {
    const tc = parse(`clock { name = c; }; event { name = "x"; fields := struct { uint8_t a; }; };`);
    assert.equal(tc.streams.get(0)!.defaultClock, 'c');
    assert.equal(tc.clocks.get('c')!.originIsUnixEpoch, false);
    assert.equal(tc.streams.get(0)!.events.get(0)!.name, 'x');
  });

  it('keeps nested type declarations local to their block', () => {
    const tc = parse(`event { name = "x"; fields := struct {
      typealias integer { size = 24; } := local_t;
      struct inner { local_t a; };
      struct inner s;
    }; };`);
    assert.equal(asInt(at(payload(tc), 's.a')).size, 24);
    assertErrorAt(
      `event { fields := struct { typealias integer { size = 24; } := local_t; local_t a; }; };
       event { id = 1; fields := struct { local_t b; }; };`,
      'local_t b',
      /unknown type name 'local_t'/,
    );
  });
});

describe('parseTsdl: errors', () => {
  it('reports a syntax error at the offending token with line:col', () => {
    assertErrorAt(`event { name = "x"; fields := struct { uint8_t a } ; };`, '} ;', /expected ';'/);
    assertErrorAt(`trace { major = 1 minor = 8; };`, 'minor', /expected ';'/);
  });

  it('reports unknown type names, structs, enums and variants', () => {
    assertErrorAt(`event { fields := struct { foo_t x; }; };`, 'foo_t', /unknown type name 'foo_t'/);
    assertErrorAt(`event { fields := struct { unsigned char x; }; };`, 'unsigned char', /unknown type name 'unsigned char'/);
    assertErrorAt(`event { fields := struct { struct nope x; }; };`, 'nope', /unknown struct 'nope'/);
    assertErrorAt(`event { fields := struct { enum nope x; }; };`, 'nope', /unknown enum 'nope'/);
    assertErrorAt(`event { fields := struct { variant nope <x> y; }; };`, 'nope', /unknown variant 'nope'/);
  });

  it('reports unresolved and ill-typed references', () => {
    assertErrorAt(`event { fields := struct { uint8_t a[missing]; }; };`, 'missing', /unresolved length field.*"missing"/);
    assertErrorAt(`event { fields := struct { uint8_t a[later]; uint8_t later; }; };`, 'later]', /unresolved/);
    assertErrorAt(
      `event { fields := struct { uint8_t a[stream.event.context.n]; }; };`,
      'stream.event.context.n',
      /event\.common-context is not defined/,
    );
    assertErrorAt(`event { fields := struct { string s; uint8_t a[s]; }; };`, 's]', /must be an integer/);
    assertErrorAt(
      `event { fields := struct { uint8_t k; variant <k> { uint8_t a; } v; }; };`,
      'k>',
      /variant tag must be an enumeration/,
    );
    assertErrorAt(`variant u { uint8_t a; }; event { fields := struct { variant u v; }; };`, 'v; }', /has no tag/);
  });

  it('reports bad attribute values, unknown clocks and duplicates', () => {
    assertErrorAt(`event { fields := struct { integer { size = 65; } a; }; };`, '65', /integer size 65 is out of range/);
    assertErrorAt(`event { fields := struct { integer { size = 8; byte_order = middle; } a; }; };`, 'middle', /unknown byte_order/);
    assertErrorAt(`event { fields := struct { integer { size = 8; base = 17; } a; }; };`, '17', /unknown integer base/);
    assertErrorAt(`event { fields := struct { integer { align = 8; } a; }; };`, 'integer { align = 8; }', /integer without a size/);
    assertErrorAt(`typealias integer { size = 8; map = clock.nope.value; } := t;`, 'clock.nope', /unknown clock 'nope'/);
    assertErrorAt(`event { fields := struct { floating_point { exp_dig = 5; mant_dig = 11; } f; }; };`, 'floating_point', /unsupported floating_point size 16/);
    assertErrorAt(`event { name = "a"; }; event { name = "b"; };`, '"b"', /duplicate event id 0/);
    assertErrorAt(`stream { id = 1; }; event { name = "a"; stream_id = 2; };`, '"a"', /stream 2, which is not declared/);
    assertErrorAt(`event { fields := uint8_t; };`, 'fields', /must be a structure/);
    assertErrorAt(`trace { major = 2; };`, '2; }', /unsupported CTF major version 2/);
    assertErrorAt(`event { fields := struct { uint8_t a; uint8_t _a; }; };`, '_a;', /duplicate field/);
  });

  it('reports lexical errors', () => {
    assertErrorAt(`event { name = "abc`, '"abc', /unterminated string/);
    assertErrorAt(`/* never closed`, '/* never', /unterminated comment/);
    assertErrorAt(`event { id = 12abc; };`, '12abc', /invalid integer literal/);
    assertErrorAt(`event { id = 09; };`, '09', /invalid octal literal/);
    assertErrorAt(`event { id = 1; } @`, '@', /unexpected character "@"/);
  });

  it('gives UTF-8 byte offsets past non-ASCII text', () => {
    const err = assertErrorAt(`env { name = "héllo wörld"; }; event { fields := struct { bad_t x; }; };`, 'bad_t', /unknown type name/);
    assert.ok(err.offset > PRELUDE.length);
  });
});
