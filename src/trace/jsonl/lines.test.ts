/**
 * @module trace/jsonl/lines.test
 * Line splitting: any chunking of the bytes gives the same lines (UTF-8 split across chunks, CRLF, no final newline),
 * and over-long lines come out as `null` without being accumulated.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { flattenBatches, readLines } from './lines.js';

async function* chunks(buf: Buffer, cuts: number[]): AsyncGenerator<Buffer> {
  let at = 0;
  for (const c of [...cuts].sort((a, b) => a - b)) {
    if (c > at && c < buf.length) {
      yield buf.subarray(at, c);
      at = c;
    }
  }
  if (at < buf.length) yield buf.subarray(at);
}

async function collect(it: AsyncIterable<(string | null)[]>): Promise<(string | null)[]> {
  const all: (string | null)[] = [];
  for await (const b of it) all.push(...b);
  return all;
}

test('any chunking gives the same lines', async () => {
  await fc.assert(fc.asyncProperty(
    fc.array(fc.string({ unit: 'grapheme', maxLength: 12 }).map((s) => s.replace(/[\r\n]/g, '')), { maxLength: 8 }),
    fc.boolean(), fc.boolean(), fc.array(fc.nat({ max: 200 }), { maxLength: 10 }),
    async (lines, crlf, finalNewline, cuts) => {
      const text = lines.join(crlf ? '\r\n' : '\n') + (finalNewline && lines.length > 0 ? '\n' : '');
      const expected = text === '' ? [] : text.split('\n').map((l) => l.replace(/\r$/, ''));
      if (text.endsWith('\n')) expected.pop(); // a final newline ends the last line, it does not start one
      assert.deepEqual(await collect(readLines(chunks(Buffer.from(text), cuts), 'x')), expected);
    },
  ), { numRuns: 300 });
});

test('over-long lines are dropped as null, keeping line numbers', async () => {
  const text = 'short\n' + 'y'.repeat(50) + '\nok\n' + 'z'.repeat(30);
  const got = await collect(readLines(chunks(Buffer.from(text), [3, 10, 20, 40, 58, 70]), 'x', 20));
  assert.deepEqual(got, ['short', null, 'ok', null]);
});

test('flattenBatches yields every item in order and closes the producer on break', async () => {
  let closed = false;
  async function* batches(): AsyncGenerator<number[], void, undefined> {
    try {
      yield [1, 2];
      yield [];
      yield [3];
      yield [4, 5, 6];
    } finally {
      closed = true;
    }
  }
  const all: number[] = [];
  for await (const x of { [Symbol.asyncIterator]: () => flattenBatches(batches()) }) all.push(x);
  assert.deepEqual(all, [1, 2, 3, 4, 5, 6]);
  assert.ok(closed);
  closed = false;
  for await (const x of { [Symbol.asyncIterator]: () => flattenBatches(batches()) }) if (x === 3) break;
  assert.ok(closed, 'break closes the producer');
});
