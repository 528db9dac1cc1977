/**
 * @module trace/ctf/follow.test
 * A trace still being written: in follow mode the reader waits at a partial last packet until the tracer completes
 * it, instead of failing; without follow mode the same state is an error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sharedData } from '../../testing/paths.js';
import { TraceError } from '../errors.js';
import { CtfReader } from './trace.js';

test('follow mode waits for a partial last packet to be completed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sa-follow-'));
  try {
    cpSync(sharedData('ctf', 'bug446190'), dir, { recursive: true });
    for (const f of readdirSync(dir)) if (statSync(join(dir, f)).isFile()) chmodSync(join(dir, f), 0o644);
    const file = join(dir, 'channel0_2');
    const full = readFileSync(file);
    const cut = full.length - 1000;
    writeFileSync(file, full.subarray(0, cut));

    await assert.rejects(async () => {
      for await (const _ of await CtfReader.open(dir, { lenient: false, follow: false }));
    }, TraceError);

    const reader = await CtfReader.open(dir, { lenient: false, follow: true });
    // The "tracer" finishes the packet a little later.
    const writer = setTimeout(() => appendFileSync(file, full.subarray(cut)), 400);
    let n = 0;
    const t0 = Date.now();
    for await (const b of reader.batches()) n += b.length;
    clearTimeout(writer);
    assert.equal(n, 31_556, 'every event once the packet is complete');
    assert.ok(Date.now() - t0 >= 350, 'it waited for the writer');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
