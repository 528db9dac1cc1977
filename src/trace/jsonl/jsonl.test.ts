/**
 * @module trace/jsonl/jsonl.test
 * JSONL: exact round trip of random events (fast-check), back-pressure on a slow writer, validation errors with line
 * numbers, a file without header, stdin, sniffing, a round trip of real strace events, and gzipped files.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import fc from 'fast-check';
import type { FieldValue, SyscallEvent } from '../event.js';
import { isTraceError } from '../errors.js';
import { openStrace } from '../strace/strace.js';
import { gzipSync } from 'node:zlib';
import { detectFormat, openTrace } from '../open.js';
import { decodeEvent, isGzip, looksLikeJsonl, openJsonl, writeJsonl } from './jsonl.js';

const dir = mkdtempSync(join(tmpdir(), 'jsonl-test-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
let fileNo = 0;

async function* from<T>(items: Iterable<T>): AsyncGenerator<T> {
  for (const x of items) yield x;
}

async function toFile(events: SyscallEvent[]): Promise<string> {
  const path = join(dir, `e${fileNo++}.jsonl`);
  const out = createWriteStream(path);
  const n = await writeJsonl(from(events), out);
  assert.equal(n, events.length);
  await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
  return path;
}

async function readAll(path: string, lenient = false) {
  const src = openJsonl(path, lenient);
  const events: SyscallEvent[] = [];
  for await (const e of src) events.push(e);
  return { src, events };
}

// Field values: every FieldValue kind, with the awkward cases (bigint past 2^64, NaN, ±Infinity, -0, lone
// surrogates, keys that look like the format's tags or like __proto__).
const key = fc.oneof(fc.string(), fc.constantFrom('$big', '$num', '$obj', '__proto__', 'raw', ''));
const { value: fieldValue } = fc.letrec<{ value: FieldValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.double(),
    fc.integer(),
    fc.bigInt({ min: -(1n << 70n), max: 1n << 70n }),
    fc.string({ unit: 'binary' }),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(key, tie('value'), { maxKeys: 4, noNullPrototype: true }),
  ),
}));
const eventArb: fc.Arbitrary<SyscallEvent> = fc
  .record({
    ts: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
    cpu: fc.integer({ min: -1, max: 1024 }),
    pid: fc.integer({ min: -1, max: 2 ** 31 }),
    tid: fc.integer({ min: -1, max: 2 ** 31 }),
    proc: fc.string({ unit: 'binary', maxLength: 20 }),
    name: fc.string({ minLength: 1, maxLength: 20 }),
    phase: fc.constantFrom('entry' as const, 'exit' as const, 'complete' as const),
    args: fc.dictionary(key, fieldValue, { maxKeys: 5, noNullPrototype: true }),
    ret: fc.option(fc.oneof(fc.integer(), fc.double(), fc.bigInt({ min: -(1n << 64n), max: 1n << 64n })), { nil: undefined }),
    latency: fc.option(fc.oneof(fc.nat(), fc.double()), { nil: undefined }),
  })
  .map((e) => {
    const ev: SyscallEvent = { ts: e.ts, cpu: e.cpu, pid: e.pid, tid: e.tid, proc: e.proc, name: e.name, phase: e.phase, args: e.args };
    if (e.ret !== undefined) ev.ret = e.ret;
    if (e.latency !== undefined) ev.latency = e.latency;
    return ev;
  });

test('round trip is exact for random events (fast-check)', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(eventArb, { maxLength: 8 }), async (events) => {
      const path = await toFile(events);
      const text = readFileSync(path, 'utf8');
      assert.equal(text.split('\n')[0], '{"format":"syscall-anomaly-events","version":1}');
      const { src, events: back } = await readAll(path);
      assert.deepStrictEqual(back, events);
      assert.equal(src.counts.events, events.length);
      assert.equal(src.counts.completed, events.filter((e) => e.phase === 'complete').length);
      rmSync(path);
    }),
    { numRuns: 150 },
  );
});

test('exact integers: ts and bigint values are decimal strings, never doubles', async () => {
  const ev: SyscallEvent = {
    ts: 1700000000123456789n, cpu: 0, pid: 1, tid: 2, proc: 'p', name: 'read', phase: 'complete',
    args: { big: 18446744073709551615n, small: 3, neg0: -0, nan: NaN, tag: { $big: 'not a bigint' } },
    ret: 9007199254740993n, latency: 1234,
  };
  const path = await toFile([ev]);
  const line = readFileSync(path, 'utf8').split('\n')[1];
  assert.ok(line.includes('"ts":"1700000000123456789"'));
  assert.ok(line.includes('"ret":"9007199254740993"'));
  assert.ok(line.includes('{"$big":"18446744073709551615"}'));
  assert.ok(line.includes('{"$obj":{"$big":"not a bigint"}}'));
  assert.deepStrictEqual((await readAll(path)).events, [ev]);
});

test('writeJsonl waits for drain on a slow writer, and every byte arrives', async () => {
  const chunks: string[] = [];
  let refused = 0;
  const slow = new Writable({
    highWaterMark: 1024,
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString());
      setTimeout(cb, 1);
    },
  });
  const origWrite = slow.write.bind(slow);
  slow.write = ((c: unknown, ...rest: unknown[]) => {
    const ok = (origWrite as (...a: unknown[]) => boolean)(c, ...rest);
    if (!ok) refused++;
    return ok;
  }) as typeof slow.write;
  const events: SyscallEvent[] = Array.from({ length: 5000 }, (_, i) => ({
    ts: BigInt(i), cpu: 0, pid: 1, tid: 1, proc: 'x', name: 'getpid', phase: 'complete', args: { raw: 'x'.repeat(20) }, ret: i, latency: 1,
  }));
  let inFlight = 0;
  let maxBuffered = 0;
  async function* watched() {
    for (const e of events) {
      maxBuffered = Math.max(maxBuffered, slow.writableLength);
      inFlight++;
      yield e;
    }
  }
  assert.equal(await writeJsonl(watched(), slow), 5000);
  await new Promise<void>((resolve) => slow.end(resolve));
  assert.ok(refused > 0, 'the writer asked to wait');
  assert.ok(maxBuffered < 256 * 1024, `bounded buffering (${maxBuffered} bytes)`);
  const lines = chunks.join('').split('\n');
  assert.equal(lines.length, 5002); // header + 5000 + final ''
  assert.equal(inFlight, 5000);
  assert.deepStrictEqual(decodeEvent(JSON.parse(lines[4321])), events[4320]);
});

test('hand-written files: no header, defaults, blank lines; bad records name the line', async () => {
  const path = join(dir, 'hand.jsonl');
  writeFileSync(path, '\n{"ts":5,"name":"open","phase":"entry"}\n\n{"ts":"6","name":"open","phase":"exit","ret":3,"tid":7}\n');
  const { events } = await readAll(path);
  assert.deepStrictEqual(events, [
    { ts: 5n, cpu: -1, pid: -1, tid: -1, proc: '', name: 'open', phase: 'entry', args: {} },
    { ts: 6n, cpu: -1, pid: -1, tid: 7, proc: '', name: 'open', phase: 'exit', args: {}, ret: 3 },
  ]);

  const cases: [string, RegExp][] = [
    ['{"ts":"1","name":"x","phase":"begin"}', /phase/],
    ['{"ts":1.5,"name":"x","phase":"entry"}', /ts/],
    ['{"ts":"1","name":"x","phase":"entry","colour":"red"}', /unknown field "colour"/],
    ['{"ts":"1","name":"x","phase":"entry","args":{"a":{"$big":"12x"}}}', /\$big/],
    ['{"ts":"1","name":"x","phase":"entry","pid":"7"}', /pid/],
    ['{"ts":"1","name":"x"', /not JSON/],
    ['[1,2]', /object/],
  ];
  for (const [bad, why] of cases) {
    const p = join(dir, 'bad.jsonl');
    writeFileSync(p, `{"format":"syscall-anomaly-events","version":1}\n{"ts":"1","name":"ok","phase":"entry"}\n${bad}\n`);
    await assert.rejects(readAll(p), (e: unknown) => {
      assert.ok(isTraceError(e), String(e));
      assert.equal(e.file, p);
      assert.equal(e.line, 3, bad);
      assert.match(e.reason, why);
      return true;
    });
    const lenient = await readAll(p, true);
    assert.equal(lenient.events.length, 1);
    assert.equal(lenient.src.counts.skipped, 1);
  }
  const future = join(dir, 'v2.jsonl');
  writeFileSync(future, '{"format":"syscall-anomaly-events","version":2}\n');
  await assert.rejects(readAll(future), /unsupported version 2/);
});

test('reads stdin when the path is "-"', async () => {
  const path = await toFile([
    { ts: 1n, cpu: 0, pid: 1, tid: 1, proc: 'a', name: 'read', phase: 'entry', args: { fd: 3 } },
    { ts: 2n, cpu: 0, pid: 1, tid: 1, proc: 'a', name: 'read', phase: 'exit', args: {}, ret: 10 },
  ]);
  const mod = new URL('./jsonl.js', import.meta.url).href;
  const script = `const { openJsonl } = await import(${JSON.stringify(mod)}); const s = openJsonl('-', false); const names = [];
    for await (const e of s) names.push(e.name + ':' + e.phase); console.log(JSON.stringify({ names, n: s.counts.events }));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { input: readFileSync(path), encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { names: ['read:entry', 'read:exit'], n: 2 });
});

test('looksLikeJsonl', () => {
  assert.ok(looksLikeJsonl(Buffer.from('{"format":"syscall-anomaly-events","version":1}\n{"ts":"1"')));
  assert.ok(looksLikeJsonl(Buffer.from('{"ts":"1","name":"read","phase":"entry"}\n')));
  assert.ok(looksLikeJsonl(Buffer.from('{"format":"syscall-anomaly-events","version":1,"x":"' + 'a'.repeat(100))));
  assert.ok(!looksLikeJsonl(Buffer.from('{"some":"other json"}\n')));
  assert.ok(!looksLikeJsonl(Buffer.from('1234  1700000000.123456 read(3, "", 1) = 0 <0.000001>\n')));
  assert.ok(!looksLikeJsonl(Buffer.from('6 6 63 6 42 120 ')));
});

test('real strace events survive write → read unchanged', { skip: spawnSync('strace', ['-V']).error ? 'strace is not installed' : false }, async () => {
  const st = join(dir, 'st.txt');
  const r = spawnSync('strace', ['-f', '-ttt', '-T', '-yy', '-o', st, 'sh', '-c', 'cat /etc/hostname >/dev/null'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const events: SyscallEvent[] = [];
  for await (const e of openStrace(st, 'paired', false)) events.push(e);
  assert.ok(events.length > 50);
  const path = await toFile(events);
  assert.deepStrictEqual((await readAll(path)).events, events);
});


test('gzipped JSONL: read while it streams, sniffed by openTrace; damage and non-JSONL gzip are TraceErrors', async () => {
  const events: SyscallEvent[] = Array.from({ length: 3000 }, (_, i) => ({
    ts: 1_700_000_000_000_000_000n + BigInt(i), cpu: i % 2, pid: 7, tid: 7 + (i % 3), proc: 'srv', name: i % 2 ? 'read' : 'write',
    phase: 'complete', args: { fd: 3, raw: `3, "x${i}"` }, ret: i, latency: 1000 + i,
  }));
  const plain = await toFile(events);
  const gz = join(dir, 'events.jsonl.gz');
  writeFileSync(gz, gzipSync(readFileSync(plain)));
  assert.ok(isGzip(readFileSync(gz)));
  assert.ok(!isGzip(readFileSync(plain)));
  const { events: back, src } = await readAll(gz);
  assert.deepEqual(back, events);
  assert.equal(src.counts.events, events.length);
  assert.equal(await detectFormat(gz), 'jsonl');
  const viaOpen: SyscallEvent[] = [];
  for await (const e of await openTrace(gz, 'paired', { lenient: false, follow: false })) viaOpen.push(e);
  assert.deepEqual(viaOpen, events);

  const cut = join(dir, 'cut.jsonl.gz');
  const whole = readFileSync(gz);
  writeFileSync(cut, whole.subarray(0, whole.length >> 1));
  await assert.rejects(readAll(cut), (e: unknown) => isTraceError(e) && /cut\.jsonl\.gz/.test((e as Error).message));
  const other = join(dir, 'text.gz');
  writeFileSync(other, gzipSync(Buffer.from('hello world\n')));
  await assert.rejects(detectFormat(other), (e: unknown) => isTraceError(e) && /gzip/.test((e as Error).message));
});
