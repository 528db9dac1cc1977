/**
 * @module trace/ctf/fields.test
 * Field kinds the shared traces do not exercise, decoded from bytes written here by hand: bit fields that straddle
 * bytes in both byte orders, signed odd sizes, 32/64-bit floats in both byte orders, a 64-bit value beyond 2^53,
 * enums, a variant chosen by a sibling enum, a sequence whose length is a sibling, and strings; members a consumer
 * leaves unread (`CtfReader.leaveUnread`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CtfEventRecord } from './stream.js';
import { CtfReader } from './trace.js';

const METADATA = `/* CTF 1.8 */
typealias integer { size = 8; align = 8; signed = false; } := uint8_t;
trace { major = 1; minor = 8; byte_order = le; };
stream { event.header := struct { uint8_t id; }; };
event {
  name = "bits"; id = 0;
  fields := struct {
    integer { size = 3; align = 1; signed = false; } a;
    integer { size = 13; align = 1; signed = true; } b;
    integer { size = 12; align = 1; signed = false; byte_order = be; } c;
    integer { size = 4; align = 1; signed = false; byte_order = be; } d;
  };
};
event {
  name = "numbers"; id = 1;
  fields := struct {
    floating_point { exp_dig = 8; mant_dig = 24; align = 8; } f32;
    floating_point { exp_dig = 11; mant_dig = 53; align = 8; byte_order = be; } f64be;
    integer { size = 64; align = 8; signed = false; base = 16; } big;
    integer { size = 64; align = 8; signed = true; } neg;
  };
};
event {
  name = "shapes"; id = 2;
  fields := struct {
    enum : uint8_t { ZERO, ONE, FIVE = 5, RANGE = 10 ... 20 } kind;
    variant <kind> { string ZERO; uint8_t ONE; integer { size = 16; align = 8; signed = false; } FIVE; } v;
    uint8_t n;
    integer { size = 16; align = 16; signed = false; } seq[n];
    string s;
  };
};
`;

function stream(): Buffer {
  const parts: number[] = [];
  const push = (...b: number[]) => parts.push(...b);
  // bits: a=5 (3 bits), b=-1234 (13 bits, two's complement), little-endian bit packing in two bytes:
  // value16 = a | (b & 0x1fff) << 3
  push(0);
  const v16 = 5 | ((-1234 & 0x1fff) << 3);
  push(v16 & 0xff, v16 >> 8);
  // c=0xABC (12 bits BE) then d=0x7 (4 bits BE): big-endian bit packing from the most significant bit.
  const be16 = (0xabc << 4) | 0x7;
  push(be16 >> 8, be16 & 0xff);
  // numbers
  push(1);
  const f = Buffer.alloc(4); f.writeFloatLE(3.5); push(...f);
  const d = Buffer.alloc(8); d.writeDoubleBE(-2.25e-300); push(...d);
  const big = Buffer.alloc(8); big.writeBigUInt64LE(0xfedcba9876543210n); push(...big);
  const neg = Buffer.alloc(8); neg.writeBigInt64LE(-(2n ** 60n) - 7n); push(...neg);
  // shapes (the payload structure is 16-bit aligned: its widest member, seq, is): header id at byte 34, one byte of
  // padding, kind=FIVE (u16 variant option), n=3 and the 16-bit sequence, then a string.
  push(2, 0, 5);
  push(0x34, 0x12); // v = 0x1234 (FIVE option, align 8), bytes 37-38
  push(3); // n, byte 39; seq starts aligned at byte 40
  push(1, 0, 2, 0, 3, 0);
  push(...Buffer.from('hé\0', 'utf8'));
  // shapes with kind=ZERO (string variant), n=0: id at byte 50, padding, kind at 52, 'zero' 53-57, n at 58, then
  // the empty sequence still aligns (byte 60) before the empty string.
  push(2, 0, 0, ...Buffer.from('zero\0'), 0);
  push(0, 0);
  return Buffer.from(parts);
}

/** The hand-written trace's records, read with `unread` payload members left unread. */
async function records(unread?: ReadonlySet<string>): Promise<CtfEventRecord[]> {
  const dir = mkdtempSync(join(tmpdir(), 'sa-fields-'));
  try {
    writeFileSync(join(dir, 'metadata'), METADATA);
    writeFileSync(join(dir, 'stream_0'), stream());
    const r = await CtfReader.open(dir, { lenient: false, follow: false });
    if (unread) r.leaveUnread(unread);
    const recs: CtfEventRecord[] = [];
    for await (const rec of r) recs.push(rec);
    return recs;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('hand-written fields decode to the values written', async () => {
  const recs = await records();
  assert.deepEqual(recs.map((x) => x.name), ['bits', 'numbers', 'shapes', 'shapes']);
  assert.deepEqual(recs[0]!.payload, { a: 5, b: -1234, c: 0xabc, d: 7 });
  const n = recs[1]!.payload!;
  assert.equal(n['f32'], 3.5);
  assert.equal(n['f64be'], -2.25e-300);
  assert.equal(n['big'], 0xfedcba9876543210n, 'beyond 2^53: a bigint');
  assert.equal(n['neg'], -(2n ** 60n) - 7n);
  assert.deepEqual(recs[2]!.payload, { kind: 5, v: 0x1234, n: 3, seq: [1, 2, 3], s: 'hé' });
  assert.deepEqual(recs[3]!.payload, { kind: 0, v: 'zero', n: 0, seq: [], s: '' });
});

test('members left unread are stepped over: later members decode as before, and the payload leaves them out', async () => {
  // an odd-sized bit field (decoded, then dropped), a float, an inline 64-bit integer (not even read), and members
  // of a structure whose variant refers to a sibling (kept: that structure is built as it is decoded)
  const recs = await records(new Set(['a', 'f32', 'big', 'v', 's']));
  assert.deepEqual(recs.map((x) => x.name), ['bits', 'numbers', 'shapes', 'shapes']);
  assert.deepEqual(recs[0]!.payload, { b: -1234, c: 0xabc, d: 7 });
  assert.deepEqual(recs[1]!.payload, { f64be: -2.25e-300, neg: -(2n ** 60n) - 7n });
  assert.deepEqual(recs[2]!.payload, { kind: 5, v: 0x1234, n: 3, seq: [1, 2, 3], s: 'hé' });
  assert.deepEqual(recs[3]!.payload, { kind: 0, v: 'zero', n: 0, seq: [], s: '' });
});
