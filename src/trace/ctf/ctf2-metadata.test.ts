/**
 * @module trace/ctf/ctf2-metadata.test
 * The CTF 2 front end on the shared CTF 2 traces (values checked against their JSON fragments), on a hand-written
 * metadata stream that uses every field class type, aliases and field locations, and its errors.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sharedData } from '../../testing/paths.js';
import { TraceError } from '../errors.js';
import { parseCtf2 } from './ctf2-metadata.js';
import { readMetadata } from './metadata.js';
import type {
  ArrayClass,
  BlobClass,
  EnumClass,
  FieldClass,
  IntClass,
  OptionalClass,
  StructClass,
  TraceClass,
  VarIntClass,
  VariantClass,
} from './types.js';

function at(fc: FieldClass | undefined, path: string): FieldClass {
  let cur = fc;
  for (const name of path.split('.')) {
    if (cur?.kind === 'struct') cur = cur.members.find((m) => m.name === name)?.type;
    else if (cur?.kind === 'variant') cur = cur.options.find((o) => o.name === name)?.type;
    else assert.fail(`${path}: ${name} is not inside a struct/variant`);
    assert.ok(cur, `no member ${name} in ${path}`);
  }
  return cur!;
}

/** JSON with bigints written as exact integers. */
function toJson(v: object): string {
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? `__big__${x}` : x), 1).replace(/"__big__(-?\d+)"/g, '$1');
}

/** A metadata stream from fragments (objects are JSON-encoded, strings go in as they are). */
function seq(...frags: Array<object | string>): string {
  return frags.map((f) => '\x1e' + (typeof f === 'string' ? f : toJson(f)) + '\n').join('');
}

const PREAMBLE = { type: 'preamble', version: 2 };
const u32 = (extra: object = {}) => ({ type: 'fixed-length-unsigned-integer', length: 32, 'byte-order': 'little-endian', alignment: 8, ...extra });

function payloadOf(tc: TraceClass, id = 0, stream = 0): StructClass {
  const p = tc.streams.get(stream)?.events.get(id)?.payload;
  assert.ok(p);
  return p;
}

function errorOf(text: string): TraceError {
  try {
    parseCtf2(text, 'metadata');
  } catch (e) {
    assert.ok(e instanceof TraceError, `expected a TraceError, got ${String(e)}`);
    assert.equal(e.file, 'metadata');
    return e;
  }
  return assert.fail('expected an error');
}

describe('parseCtf2: shared LTTng / babeltrace CTF 2 traces', () => {
  it('CTF2-7.0-smalltrace: packet header with magic and UUID blob, one string event', async () => {
    const tc = await readMetadata(sharedData('ctf', 'CTF2-7.0-smalltrace'));
    assert.equal(tc.version, '2');
    assert.equal(tc.byteOrder, 'le');
    assert.equal(tc.uuid, '2a6422d0-6cee-11e0-8c08-cb07d7b3a564');
    const magic = at(tc.packetHeader, 'magic') as IntClass;
    assert.deepEqual([magic.size, magic.align, magic.base, magic.roles], [32, 32, 16, ['packet-magic-number']]);
    assert.deepEqual(at(tc.packetHeader, 'uuid'), { kind: 'blob', length: 16, roles: ['metadata-stream-uuid'] });
    const sc = tc.streams.get(0)!;
    assert.equal(sc.defaultClock, undefined);
    assert.equal(sc.events.get(0)!.name, 'string');
    assert.deepEqual(payloadOf(tc).members, [{ name: 'str', type: { kind: 'string' } }]);
  });

  it('CTF2-7.0-trace-with-index: clock, roles, enumeration id and the compact/extended variant', async () => {
    const tc = await readMetadata(sharedData('ctf', 'CTF2-7.0-trace-with-index'));
    assert.equal(tc.uuid, 'e375faaf-5a32-401c-8680-7957c204f064');
    assert.deepEqual(tc.env, { domain: 'ust', hostname: 'joraj-alpa', tracer_major: 2, tracer_minor: 11, tracer_name: 'lttng-ust' });
    assert.deepEqual(tc.clocks.get('monotonic'), {
      name: 'monotonic',
      freq: 1_000_000_000n,
      offsetSeconds: 1564079206n,
      offsetCycles: 484157339n,
      originIsUnixEpoch: true,
      description: 'Monotonic Clock',
    });
    assert.deepEqual(
      tc.packetHeader!.members.map((m) => [m.name, m.type.kind === 'int' || m.type.kind === 'blob' ? m.type.roles : undefined]),
      [
        ['magic', ['packet-magic-number']],
        ['uuid', ['metadata-stream-uuid']],
        ['stream_id', ['data-stream-class-id']],
        ['stream_instance_id', ['data-stream-id']],
      ],
    );
    const sc = tc.streams.get(0)!;
    assert.equal(sc.defaultClock, 'monotonic');
    assert.deepEqual(
      sc.packetContext!.members.map((m) => [m.name, (m.type as IntClass).roles]),
      [
        ['timestamp_begin', ['default-clock-timestamp']],
        ['timestamp_end', ['packet-end-default-clock-timestamp']],
        ['content_size', ['packet-content-size']],
        ['packet_size', ['packet-total-size']],
        ['packet_seq_num', ['packet-sequence-number']],
        ['events_discarded', ['discarded-event-record-counter-snapshot']],
        ['cpu_id', undefined],
      ],
    );
    assert.equal((at(sc.packetContext, 'timestamp_begin') as IntClass).mappedClock, 'monotonic');
    const eh = sc.eventHeader!;
    const id = at(eh, 'id') as EnumClass;
    assert.equal(id.kind, 'enum');
    assert.deepEqual([(id.container as IntClass).size, id.container.roles], [16, ['event-record-class-id']]);
    assert.deepEqual(
      id.mappings,
      [
        { label: 'compact', ranges: [[0n, 65534n]] },
        { label: 'extended', ranges: [[65535n, 65535n]] },
      ],
    );
    const v = at(eh, 'v') as VariantClass;
    assert.deepEqual(v.tag, { kind: 'absolute', scope: 'event.header', path: ['id'] });
    assert.deepEqual(
      v.options.map((o) => [o.name, o.ranges]),
      [
        ['compact', [[0n, 65534n]]],
        ['extended', [[65535n, 65535n]]],
      ],
    );
    const ts = at(eh, 'v.extended.timestamp') as IntClass;
    assert.deepEqual([ts.size, ts.roles, ts.mappedClock], [64, ['default-clock-timestamp'], 'monotonic']);
    assert.deepEqual((at(eh, 'v.extended.id') as IntClass).roles, ['event-record-class-id']);
    const ec = sc.events.get(0)!;
    assert.deepEqual([ec.name, ec.loglevel], ['sample_component:message', 4]);
    assert.deepEqual(ec.payload!.members, [{ name: 'message', type: { kind: 'string' } }]);
  });

  it('CTF2-vl-ints: a payload of variable-length integers', async () => {
    const tc = await readMetadata(sharedData('ctf', 'CTF2-vl-ints'));
    const p = payloadOf(tc);
    assert.equal(p.members.length, 25);
    for (const m of p.members) {
      const vi = m.type as VarIntClass;
      assert.equal(vi.kind, 'varint');
      assert.equal(vi.signed, m.name.startsWith('vi'), m.name);
    }
    assert.deepEqual(p.members.slice(0, 3).map((m) => m.name), ['vu1a', 'vu1b', 'vu2']);
    assert.equal(p.align, 8);
  });
});

describe('parseCtf2: field classes', () => {
  const TRACE = {
    type: 'trace-class',
    'packet-header-field-class': {
      type: 'structure',
      'member-classes': [
        { name: 'magic', 'field-class': u32({ roles: ['packet-magic-number'] }) },
        { name: 'dsc', 'field-class': { type: 'variable-length-unsigned-integer', roles: ['data-stream-class-id'] } },
      ],
    },
    environment: { hostname: 'h', n: 18446744073709551615n },
  };
  const CLOCK = {
    type: 'clock-class',
    id: 'clk',
    name: 'monotonic',
    frequency: 1000,
    origin: 'unix-epoch',
    'offset-from-origin': { seconds: -5, cycles: 7 },
    description: 'd',
  };

  it('reads final-spec clock classes, aliases and every field class type', () => {
    const text = seq(
      PREAMBLE,
      TRACE,
      CLOCK,
      { type: 'clock-class', id: 'other', frequency: 10 },
      { type: 'field-class-alias', name: 'u32', 'field-class': u32() },
      { type: 'field-class-alias', name: 'len-then-data', 'field-class': { type: 'structure', 'member-classes': [{ name: 'n', 'field-class': 'u32' }, { name: 'd', 'field-class': { type: 'dynamic-length-array', 'length-field-location': { path: ['n'] }, 'element-field-class': 'u32' } }] } },
      {
        type: 'data-stream-class',
        id: 2,
        'default-clock-class-id': 'clk',
        'event-record-header-field-class': {
          type: 'structure',
          'member-classes': [
            { name: 'id', 'field-class': u32({ roles: ['event-record-class-id'] }) },
            { name: 'ts', 'field-class': { type: 'fixed-length-unsigned-integer', length: 64, 'byte-order': 'big-endian', roles: ['default-clock-timestamp'] } },
          ],
        },
      },
      {
        type: 'event-record-class',
        id: 9,
        'data-stream-class-id': 2,
        name: 'all',
        attributes: { 'lttng.org,2009': { 'log-level': 6 } },
        'payload-field-class': {
          type: 'structure',
          'minimum-alignment': 64,
          'member-classes': [
            { name: 'bits', 'field-class': { type: 'fixed-length-bit-array', length: 12, 'byte-order': 'little-endian' } },
            { name: 'flag', 'field-class': { type: 'fixed-length-boolean', length: 8, 'byte-order': 'little-endian', alignment: 8 } },
            { name: 'dbl', 'field-class': { type: 'fixed-length-floating-point-number', length: 64, 'byte-order': 'big-endian', alignment: 64 } },
            { name: 's8', 'field-class': { type: 'fixed-length-signed-integer', length: 8, 'byte-order': 'little-endian', 'preferred-display-base': 2 } },
            { name: 'e', 'field-class': { type: 'fixed-length-unsigned-integer', length: 64, 'byte-order': 'little-endian', mappings: { max: [[18446744073709551615n, 18446744073709551615n]], low: [[0, 3], [7, 9]] } } },
            { name: 've', 'field-class': { type: 'variable-length-signed-integer', mappings: { neg: [[-10, -1]] } } },
            { name: 'nstr', 'field-class': { type: 'null-terminated-string' } },
            { name: 'sstr', 'field-class': { type: 'static-length-string', length: 8 } },
            { name: 'len', 'field-class': 'u32' },
            { name: 'dstr', 'field-class': { type: 'dynamic-length-string', 'length-field-location': { path: ['len'] } } },
            { name: 'sblob', 'field-class': { type: 'static-length-blob', length: 4 } },
            { name: 'dblob', 'field-class': { type: 'dynamic-length-blob', 'length-field-location': { origin: 'event-record-payload', path: ['len'] } } },
            { name: 'sarr', 'field-class': { type: 'static-length-array', length: 3, 'minimum-alignment': 16, 'element-field-class': { type: 'fixed-length-unsigned-integer', length: 8, 'byte-order': 'little-endian' } } },
            { name: 'has', 'field-class': { type: 'fixed-length-boolean', length: 8, 'byte-order': 'little-endian' } },
            { name: 'opt', 'field-class': { type: 'optional', 'selector-field-location': { path: ['has'] }, 'field-class': 'u32' } },
            { name: 'optr', 'field-class': { type: 'optional', 'selector-field-location': { origin: 'event-record-header', path: ['id'] }, 'selector-field-ranges': [[9, 9]], 'field-class': 'u32' } },
            {
              name: 'var',
              'field-class': {
                type: 'variant',
                'selector-field-location': { path: ['s8'] },
                options: [
                  { name: 'a', 'selector-field-ranges': [[0, 0]], 'field-class': 'u32' },
                  { 'selector-field-ranges': [[1, 5], [-3, -1]], 'field-class': { type: 'null-terminated-string' } },
                ],
              },
            },
            { name: 'nested', 'field-class': 'len-then-data' },
            {
              name: 'up',
              'field-class': {
                type: 'structure',
                'member-classes': [{ name: 'arr', 'field-class': { type: 'dynamic-length-array', 'length-field-location': { path: [null, 'len'] }, 'element-field-class': 'u32' } }],
              },
            },
          ],
        },
      },
    );
    const tc = parseCtf2(text, 'metadata');
    assert.deepEqual(tc.clocks.get('clk'), {
      name: 'clk',
      freq: 1000n,
      offsetSeconds: -5n,
      offsetCycles: 7n,
      originIsUnixEpoch: true,
      description: 'd',
    });
    assert.equal(tc.clocks.get('other')!.originIsUnixEpoch, false);
    const sc = tc.streams.get(2)!;
    assert.equal(sc.defaultClock, 'clk');
    assert.deepEqual(at(sc.eventHeader, 'ts'), {
      kind: 'int',
      size: 64,
      align: 1,
      signed: false,
      byteOrder: 'be',
      base: 10,
      encoding: 'none',
      roles: ['default-clock-timestamp'],
      mappedClock: 'clk',
    });
    assert.deepEqual((at(tc.packetHeader, 'dsc') as VarIntClass).roles, ['data-stream-class-id']);
    const ec = sc.events.get(9)!;
    assert.deepEqual([ec.name, ec.loglevel], ['all', 6]);
    const p = ec.payload!;
    assert.equal(p.align, 64);
    assert.deepEqual(at(p, 'bits'), { kind: 'int', size: 12, align: 1, signed: false, byteOrder: 'le', base: 16, encoding: 'none' });
    assert.deepEqual(at(p, 'flag'), { kind: 'bool', size: 8, align: 8, byteOrder: 'le' });
    assert.deepEqual(at(p, 'dbl'), { kind: 'float', size: 64, align: 64, byteOrder: 'be' });
    assert.deepEqual([(at(p, 's8') as IntClass).signed, (at(p, 's8') as IntClass).base], [true, 2]);
    const e = at(p, 'e') as EnumClass;
    assert.deepEqual(e.mappings, [
      { label: 'max', ranges: [[18446744073709551615n, 18446744073709551615n]] },
      { label: 'low', ranges: [[0n, 3n], [7n, 9n]] },
    ]);
    const ve = at(p, 've') as EnumClass;
    assert.deepEqual([ve.container.kind, (ve.container as VarIntClass).signed, ve.mappings[0]!.ranges], ['varint', true, [[-10n, -1n]]]);
    assert.deepEqual(at(p, 'nstr'), { kind: 'string' });
    assert.deepEqual(at(p, 'sstr'), { kind: 'bstring', length: 8 });
    assert.deepEqual(at(p, 'dstr'), { kind: 'bstring', length: { kind: 'relative', path: ['len'] } });
    assert.deepEqual(at(p, 'sblob'), { kind: 'blob', length: 4 });
    assert.deepEqual(at(p, 'dblob'), { kind: 'blob', length: { kind: 'absolute', scope: 'event.payload', path: ['len'] } });
    const sarr = at(p, 'sarr') as ArrayClass;
    assert.deepEqual([sarr.length, sarr.align], [3, 16]);
    const opt = at(p, 'opt') as OptionalClass;
    assert.deepEqual([opt.selector, opt.ranges, opt.type.kind], [{ kind: 'relative', path: ['has'] }, undefined, 'int']);
    const optr = at(p, 'optr') as OptionalClass;
    assert.deepEqual([optr.selector, optr.ranges], [{ kind: 'absolute', scope: 'event.header', path: ['id'] }, [[9n, 9n]]]);
    const v = at(p, 'var') as VariantClass;
    assert.deepEqual(v.tag, { kind: 'relative', path: ['s8'] });
    assert.deepEqual(
      v.options.map((o) => [o.name, o.type.kind, o.ranges]),
      [
        ['a', 'int', [[0n, 0n]]],
        ['', 'string', [[1n, 5n], [-3n, -1n]]],
      ],
    );
    assert.deepEqual((at(p, 'nested.d') as ArrayClass).length, { kind: 'relative', path: ['n'] });
    assert.deepEqual((at(p, 'up.arr') as ArrayClass).length, { kind: 'absolute', scope: 'event.payload', path: ['len'] });
  });

  it('reads the 64-bit environment values exactly', () => {
    const text = seq(PREAMBLE, '{"type": "trace-class", "environment": {"big": 18446744073709551615, "s": "x", "n": -3}}');
    assert.deepEqual(parseCtf2(text, 'm').env, { big: 18446744073709551615n, s: 'x', n: -3 });
  });

  it('gives a dynamic array inside an array element a relative reference', () => {
    const text = seq(PREAMBLE, { type: 'data-stream-class' }, {
      type: 'event-record-class',
      'payload-field-class': {
        type: 'structure',
        'member-classes': [
          { name: 'n', 'field-class': u32() },
          {
            name: 'rows',
            'field-class': {
              type: 'static-length-array',
              length: 2,
              'element-field-class': {
                type: 'structure',
                'member-classes': [
                  { name: 'm', 'field-class': u32() },
                  { name: 'inner', 'field-class': { type: 'structure', 'member-classes': [{ name: 'a', 'field-class': { type: 'dynamic-length-blob', 'length-field-location': { path: [null, 'm'] } } }] } },
                ],
              },
            },
          },
        ],
      },
    });
    const p = payloadOf(parseCtf2(text, 'm'));
    const row = (at(p, 'rows') as ArrayClass).element as StructClass;
    assert.deepEqual((at(row, 'inner.a') as BlobClass).length, { kind: 'relative', path: ['m'] });
  });
});

describe('parseCtf2: errors', () => {
  it('reports bad JSON at its byte offset', () => {
    const text = seq(PREAMBLE) + '\x1e{"type": "data-stream-class", "id": 01}\n';
    const err = errorOf(text);
    assert.equal(err.offset, text.indexOf('1}'));
    assert.match(err.reason, /bad JSON: expected ',' or '}'/);
    const text2 = seq(PREAMBLE) + '\x1e{"type": "data-stream-class", "é": "x",\n';
    assert.equal(errorOf(text2).offset, Buffer.byteLength(text2));
  });

  it('reports a missing or wrong preamble', () => {
    assert.match(errorOf(seq({ type: 'trace-class' })).reason, /first fragment must be the preamble/);
    assert.match(errorOf(seq({ type: 'preamble', version: 3 })).reason, /unsupported CTF version 3/);
    assert.match(errorOf('{"type": "preamble", "version": 2}').reason, /no record separator/);
  });

  it('reports unknown types, aliases, clocks and streams at the offending object', () => {
    const unknownType = seq(PREAMBLE, { type: 'data-stream-class', 'packet-context-field-class': { type: 'structure', 'member-classes': [{ name: 'x', 'field-class': { type: 'quaternion' } }] } });
    const err = errorOf(unknownType);
    assert.match(err.reason, /unknown field class type "quaternion"/);
    assert.equal(err.offset, unknownType.lastIndexOf('{', unknownType.indexOf('quaternion')));
    assert.match(errorOf(seq(PREAMBLE, { type: 'data-stream-class', 'packet-context-field-class': 'nope' })).reason, /unknown field class alias "nope"/);
    assert.match(errorOf(seq(PREAMBLE, { type: 'data-stream-class', 'default-clock-class-id': 'c' })).reason, /unknown clock class "c"/);
    assert.match(errorOf(seq(PREAMBLE, { type: 'event-record-class', 'data-stream-class-id': 4 })).reason, /unknown data stream class 4/);
    assert.match(errorOf(seq(PREAMBLE, { type: 'mystery' })).reason, /unknown fragment type "mystery"/);
    assert.match(errorOf(seq(PREAMBLE, { type: 'data-stream-class' }, { type: 'data-stream-class' })).reason, /duplicate data stream class id 0/);
    assert.match(
      errorOf(seq(PREAMBLE, { type: 'data-stream-class', 'packet-context-field-class': u32() })).reason,
      /must be a structure field class/,
    );
    assert.match(
      errorOf(seq(PREAMBLE, { type: 'trace-class', 'packet-header-field-class': { type: 'structure', 'member-classes': [{ name: 'a', 'field-class': u32({ length: 65 }) }] } })).reason,
      /"length" must be 1 to 64 bits/,
    );
  });

  it('reports unresolved and ill-typed field locations at the location', () => {
    const text = seq(PREAMBLE, { type: 'data-stream-class' }, {
      type: 'event-record-class',
      'payload-field-class': {
        type: 'structure',
        'member-classes': [{ name: 'a', 'field-class': { type: 'dynamic-length-array', 'length-field-location': { path: ['nope'] }, 'element-field-class': u32() } }],
      },
    });
    const err = errorOf(text);
    assert.match(err.reason, /unresolved length field: no earlier field named "nope"/);
    assert.equal(err.offset, text.lastIndexOf('{', text.indexOf('"nope"')));
    const wrongKind = seq(PREAMBLE, { type: 'data-stream-class' }, {
      type: 'event-record-class',
      'payload-field-class': {
        type: 'structure',
        'member-classes': [
          { name: 's', 'field-class': { type: 'null-terminated-string' } },
          { name: 'a', 'field-class': { type: 'dynamic-length-blob', 'length-field-location': { origin: 'event-record-payload', path: ['s'] } } },
        ],
      },
    });
    assert.match(errorOf(wrongKind).reason, /length field must be an integer, not a field of kind string/);
    const noScope = seq(PREAMBLE, { type: 'data-stream-class' }, {
      type: 'event-record-class',
      'payload-field-class': {
        type: 'structure',
        'member-classes': [{ name: 'a', 'field-class': { type: 'dynamic-length-blob', 'length-field-location': { origin: 'packet-context', path: ['len'] } } }],
      },
    });
    assert.match(errorOf(noScope).reason, /scope packet\.context is not defined/);
  });
});
