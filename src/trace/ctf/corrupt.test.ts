/**
 * @module trace/ctf/corrupt.test
 * Deliberately damaged copies of real traces: truncated packets, wrong magic, corrupt metadata, sizes past the end
 * of file, unknown event ids, random byte flips. Each gives a `TraceError` naming the file and byte offset (never
 * another exception, never a hang); `lenient` decodes up to the damage and counts what it skipped.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync, chmodSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { sharedData } from '../../testing/paths.js';
import { TraceError } from '../errors.js';
import { CtfReader } from './trace.js';

function copyTrace(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `sa-corrupt-${name}-`));
  cpSync(sharedData('ctf', name), dir, { recursive: true });
  for (const f of readdirSync(dir)) if (statSync(join(dir, f)).isFile()) chmodSync(join(dir, f), 0o644);
  return dir;
}

async function decodeAll(dir: string, lenient: boolean): Promise<{ events: number; skipped: number }> {
  const r = await CtfReader.open(dir, { lenient, follow: false });
  let events = 0;
  for await (const b of r.batches()) events += b.length;
  return { events, skipped: r.counts.skippedPackets };
}

/** Runs `fn` and returns its TraceError, failing on success, on any other error, or after `ms` (a hang). */
async function traceError(fn: () => Promise<unknown>, ms = 20_000): Promise<TraceError> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, rej) => { timer = setTimeout(() => rej(new Error('decoder hung')), ms); });
  try {
    await Promise.race([fn(), hang]);
  } catch (e) {
    assert.ok(e instanceof TraceError, `expected TraceError, got ${(e as Error).stack}`);
    return e;
  } finally {
    clearTimeout(timer);
  }
  assert.fail('expected a TraceError');
}

test('truncated stream file: error names the file and the packet offset; lenient keeps the events before it', async () => {
  const dir = copyTrace('bug446190');
  try {
    const f = join(dir, 'channel0_1');
    const size = statSync(f).size;
    const cut = Math.floor(size / 2) + 123;
    truncateSync(f, cut);
    const e = await traceError(() => decodeAll(dir, false));
    assert.equal(e.file, f);
    assert.ok(e.offset >= 0 && e.offset < cut, `offset ${e.offset} within the file`);
    assert.match(e.message, /channel0_1:byte \d+: packet declares \d+ bytes but the file ends/);
    const full = await decodeAll(sharedData('ctf', 'bug446190'), false);
    const partial = await decodeAll(dir, true);
    assert.ok(partial.events > 0 && partial.events < full.events, `${partial.events} of ${full.events}`);
    assert.equal(partial.skipped, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('wrong packet magic is reported with its offset', async () => {
  const dir = copyTrace('many-threads');
  try {
    const f = join(dir, 'channel0_3');
    const buf = readFileSync(f);
    buf.writeUInt32LE(0xdeadbeef, 0);
    writeFileSync(f, buf);
    const e = await traceError(() => decodeAll(dir, false));
    assert.equal(e.file, f);
    assert.equal(e.offset, 0);
    assert.match(e.reason, /bad packet magic 0xdeadbeef/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('corrupt or truncated metadata names the metadata file', async () => {
  const dir = copyTrace('many-threads');
  try {
    const m = join(dir, 'metadata');
    const orig = readFileSync(m);
    writeFileSync(m, orig.subarray(0, Math.floor(orig.length / 3)));
    let e = await traceError(() => decodeAll(dir, false));
    assert.equal(e.file, m);
    const garbage = Buffer.from(orig);
    garbage.fill(0x41, 0, 4);
    writeFileSync(m, garbage);
    e = await traceError(() => decodeAll(dir, false));
    assert.equal(e.file, m);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('random damage to stream bytes: a TraceError or a clean decode, never a crash or a hang', async () => {
  const dir = copyTrace('bug446190');
  const f = join(dir, 'channel0_0');
  const orig = readFileSync(f);
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ at: fc.nat({ max: orig.length - 1 }), byte: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 8 }),
        fc.boolean(),
        async (flips, truncate) => {
          const buf = Buffer.from(orig);
          for (const { at, byte } of flips) buf[at] = byte;
          writeFileSync(f, truncate ? buf.subarray(0, flips[0]!.at) : buf);
          try {
            await decodeAll(dir, false);
          } catch (e) {
            assert.ok(e instanceof TraceError, `not a TraceError: ${(e as Error).stack}`);
            assert.ok(e.offset >= 0 && e.offset <= orig.length, `offset ${e.offset}`);
            assert.ok(!e.message.includes('\n'), 'one line');
          }
          // Lenient mode never throws on damaged packets.
          await decodeAll(dir, true);
        },
      ),
      { numRuns: 60, seed: 446190 },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
