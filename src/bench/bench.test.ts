/**
 * @module bench/bench.test
 * The bench harness's own parts: section selection, medians, tables, babeltrace2's counter output, command timing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { findOnPath } from '../trace/record/privileges.js';
import { projectData } from '../testing/paths.js';
import { babeltraceCount, folderBytes, parseCounterEvents } from './large-trace.js';
import { decodeTable } from './decode.js';
import { selectSections } from './main.js';
import { errorLine, formatTable, median, si, timeCommand } from './util.js';

test('selectSections: all by default, named ones in order, unknown names refused', () => {
  assert.deepEqual(selectSections([], ['decode', 'train']), ['decode', 'train']);
  assert.deepEqual(selectSections(['train', 'decode'], ['decode', 'train']), ['train', 'decode']);
  const bad = selectSections(['decoder'], ['decode']);
  assert.ok(!Array.isArray(bad) && /unknown bench section decoder; known: decode/.test(bad.error));
});

test('median, si, formatTable', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.ok(Number.isNaN(median([])));
  assert.equal(si(1_234_567), '1.23M');
  assert.equal(si(999), '999');
  const t = formatTable(['name', 'n'], [['a', 1], ['bbb', 1000]]).split('\n');
  assert.equal(t.length, 4);
  assert.equal(t[0], 'name     n');
  assert.equal(t[3], 'bbb   1000');
});

test('errorLine finds the error in a node stack dump', () => {
  const dump = 'node:internal/modules/esm/resolve:283\n    throw new ERR_MODULE_NOT_FOUND(\n\n' +
    "Error [ERR_MODULE_NOT_FOUND]: Cannot find module 'x.js'\n    at finalizeResolution\n\nNode.js v20.20.2\n";
  assert.equal(errorLine(dump), "Error [ERR_MODULE_NOT_FOUND]: Cannot find module 'x.js'");
  assert.equal(errorLine('TraceError: bad.ctf:byte 12: truncated\n'), 'TraceError: bad.ctf:byte 12: truncated');
  assert.equal(errorLine('something\nlast words\n'), 'last words');
});

test('parseCounterEvents takes the final count, not the periodic ones', () => {
  const out = '          10001 Event messages\n              2 Stream beginning messages\n' +
    '         586032 Event messages\n              0 Discarded event messages\n         586050 messages (TOTAL)\n';
  assert.equal(parseCounterEvents(out), 586032);
  assert.equal(parseCounterEvents('nothing'), null);
});

const demo = projectData('demo', 'http-node');
test('babeltraceCount on the demo trace equals the lines babeltrace2 prints', {
  skip: !findOnPath('babeltrace2') ? 'babeltrace2 not installed' : !existsSync(demo) ? 'no demo trace' : undefined,
}, async () => {
  const lines = execFileSync('babeltrace2', [demo], { encoding: 'utf8', maxBuffer: 64 << 20 }).split('\n').filter((l) => l);
  assert.equal(await babeltraceCount(demo), lines.length);
  assert.ok(folderBytes(demo) > 0);
});

test('timeCommand: exit status, stdout, and peak RSS when /usr/bin/time exists', async () => {
  const ok = await timeCommand([process.execPath, '-e', 'const b = Buffer.alloc(64 << 20, 1); console.log(b[5])']);
  assert.equal(ok.ok, true);
  assert.equal(ok.stdout.trim(), '1');
  if (existsSync('/usr/bin/time')) assert.ok((ok.rssKiB ?? 0) > 64 * 1024, `rss ${ok.rssKiB} KiB covers the 64 MiB buffer`);
  const bad = await timeCommand(['sh', '-c', 'echo oops >&2; exit 3']);
  assert.equal(bad.ok, false);
  assert.equal(bad.code, 3);
  assert.match(bad.stderr, /oops/);
  if (existsSync('/usr/bin/time')) assert.notEqual(bad.rssKiB, null, 'RSS read even after a non-zero exit');
  const missing = await timeCommand(['/nonexistent/cmd-xyz']);
  assert.equal(missing.ok, false);
});

test('decodeTable reports failures and count mismatches instead of figures', () => {
  const run = { ok: true, code: 0, seconds: 2, rssKiB: 2048, stdout: '', stderr: '' };
  const { table, notes } = decodeTable([{
    trace: 't', bytes: 2 ** 20, events: 1000,
    ours: { name: 'ours', runs: [], failure: 'exit 1: boom', events: null },
    babeltrace: { name: 'babeltrace2', runs: [run, { ...run, seconds: 1 }, { ...run, seconds: 4 }], failure: null, events: 1000 },
  }, {
    trace: 'u', bytes: 2 ** 20, events: 1000,
    ours: { name: 'ours', runs: [run], failure: null, events: 999 },
    babeltrace: { name: 'babeltrace2', runs: [{ ...run, seconds: 1 }], failure: null, events: 1000 },
  }]);
  const rows = table.split('\n');
  assert.match(rows[2]!, /^t\s+1\.0\s+1\.0k\s+-\s+2\.00\s+-\s+500\s+-/);
  assert.match(rows[3]!, /0\.50x/);
  assert.deepEqual(notes, ['t: ours failed: exit 1: boom', 'u: ours counted 999 events, babeltrace2 1000']);
});
