/**
 * @module detect/explain.test
 * Aggregation of per-event surprise (sums worked out by hand) and the HTML view (self-contained, escaped, coloured).
 * The attention view, with a small fake attention provider over a real request of the committed web-server sample:
 * each flagged event lists the events it attended to (names and weights from the real events), the HTML outlines
 * them on hover / target with CSS only, and rows that look forward in time are refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SyscallEvent } from '../trace/event.js';
import type { Sequence } from '../features/sequences/sequence.js';
import { openData } from '../features/dataset.js';
import { projectData } from '../testing/paths.js';
import { MAX_HTML_ROWS, attachAttention, explain, explanationHtml, type AttentionProvider, type AttentionRow } from './explain.js';

function ev(i: number, name: string, args: SyscallEvent['args'] = {}): SyscallEvent {
  return { ts: BigInt(1_000_000 + i * 1000), cpu: 0, pid: 7, tid: 8, proc: 'httpd', name, phase: 'complete', args, ret: 0 };
}

const seq: Sequence = {
  id: 'req:7:5#0.0',
  events: [ev(0, 'read', { fd: 5, path: 'TCP:[a->b]' }), ev(1, 'openat', { raw: 'AT_FDCWD, "/etc/<shadow>"' }), ev(2, 'read'), ev(3, 'execve')],
};

test('explain aggregates per syscall and per field', () => {
  const name = [0.5, 2.0, 0.25, 6.0, 1.0]; // last = end token
  const ret = [0.1, 0.2, 0.1, 0.4, 0.2];
  const e = explain(seq, { name, ret }, 2);
  assert.equal(e.events, 4);
  assert.equal(e.totalNll, 9.75 + 1.0);
  assert.equal(e.score, 10.75 / 5);
  assert.equal(e.endNll, 1.2);
  assert.deepEqual(e.perEvent, [0.6, 2.2, 0.35, 6.4]);
  assert.deepEqual(e.bySyscall.map((s) => [s.name, s.count, +s.totalNll.toFixed(10), +s.maxNll.toFixed(10)]), [
    ['execve', 1, 6.4, 6.4], ['openat', 1, 2.2, 2.2], ['read', 2, 0.95, 0.6],
  ]);
  assert.equal(e.byField[0].field, 'name');
  assert.equal(+e.byField[0].share.toFixed(10), +(9.75 / 10.75).toFixed(10));
  assert.deepEqual(e.top.map((t) => [t.index, t.name]), [[3, 'execve'], [1, 'openat']]);
  assert.equal(e.top[0].fields.ret, 0.4);
  assert.throws(() => explain(seq, { name: [1, 2] }, 1), RangeError);
  assert.throws(() => explain(seq, { name, ret: [1, 1, 1, 1] }, 1), RangeError);
  const one = explain(seq, { name: [1, 1, 1, 1] }, 10);
  assert.equal(one.endNll, undefined);
  assert.equal(one.top.length, 4);
  assert.equal(one.perField, undefined);
});

test('HTML view is self-contained, escaped and coloured by surprise', () => {
  const e = explain(seq, { name: [0.5, 2.0, 0.25, 6.0, 1.0], ret: [0, 0, 0, 0, 0] }, 2);
  const html = explanationHtml(seq, e, 'Request <1>');
  assert.ok(html.startsWith('<!DOCTYPE html>'));
  assert.ok(!/<script|<link|src=|url\(|https?:/i.test(html), 'no scripts, links or external assets');
  assert.ok(html.includes('&quot;/etc/&lt;shadow&gt;&quot;'), 'arguments are escaped');
  assert.ok(html.includes('Request &lt;1&gt;'));
  assert.ok(!html.includes('<shadow>'));
  const alpha = (name: string) => {
    const m = new RegExp(`rgba\\(220,38,38,([0-9.]+)\\)"[^\\n]*<td class="name">${name}<`).exec(html);
    assert.ok(m, `row of ${name}`);
    return Number(m![1]);
  };
  assert.ok(alpha('execve') > alpha('openat') && alpha('openat') > alpha('read'));
  assert.equal(alpha('execve'), 0.88);
});

test('HTML of a very long sequence shows the neighbourhoods of the top events only', () => {
  const n = MAX_HTML_ROWS * 3;
  const long: Sequence = { id: 'long', events: Array.from({ length: n }, (_, i) => ev(i, i === 9000 ? 'ptrace' : 'read')) };
  const nll = Array.from({ length: n }, (_, i) => (i === 9000 ? 9 : 0.1));
  const html = explanationHtml(long, explain(long, { name: nll }, 1), 'long');
  assert.ok(html.includes('>ptrace<'));
  assert.equal((html.match(/<tr id="e\d+" style=/g) ?? []).length, 51);
  assert.ok(html.includes('… 8975 events not shown …'));
});

/** A fake attention model: each token attends to the two events before it (0.6, 0.3) and to the start (0.1). */
const fakeProvider: AttentionProvider = {
  async attentionMany(seqs, topK) {
    return seqs.map((s) => Array.from({ length: s.events.length + 1 }, (_, t): AttentionRow => {
      const to = [t - 1, t - 2, -1].filter((j, k) => j >= -1 && (k === 2 || j >= 0)).slice(0, topK);
      return { from: t, to, weight: to.map((j) => (j === -1 ? 0.1 : j === t - 1 ? 0.6 : 0.3)) };
    }));
  },
};

test('attention view: flagged events list what they attended to; the HTML outlines them on hover, CSS only', async () => {
  const path = projectData('web-demo', 'io.jsonl.gz');
  let real: Sequence | undefined;
  for await (const s of openData({ kind: 'trace', arg: path, path }, { segmentation: 'request', maxLength: 10_000, pairing: 'paired', lenient: false })) {
    if (s.events.length >= 12) {
      real = s;
      break;
    }
  }
  assert.ok(real, 'a request of at least 12 events');
  const n = real.events.length;
  const nll = real.events.map((_, i) => (i === 9 ? 5 : i === 4 ? 4 : 0.1));
  const e = explain(real, { name: [...nll, 0.2] }, 2);
  const [rows] = await fakeProvider.attentionMany([real], 3);
  const att = attachAttention(real, e, rows);
  assert.equal(e.attention, att);
  assert.deepEqual(att.map((a) => a.index), [9, 4]);
  assert.deepEqual(att[0].to, [
    { index: 8, name: real.events[8].name, weight: 0.6 }, { index: 7, name: real.events[7].name, weight: 0.3 }, { index: -1, name: '<s>', weight: 0.1 },
  ]);
  const html = explanationHtml(real, e, 'attention');
  assert.ok(!/<script/i.test(html), 'no scripts');
  assert.ok(html.includes('body:has(#e9:hover,#e9:target) #e8{outline:3px solid rgba(37,99,235,0.700)}'), 'the heaviest target outlined');
  assert.ok(html.includes('body:has(#e9:hover,#e9:target) #e8 td:last-child::after{content:" ← 0.60"'), 'its weight shown');
  assert.ok(html.includes('body:has(#e4:hover,#e4:target) #e2'));
  assert.ok(!html.includes('#e-1'), 'the start token has no row to outline');
  assert.ok(html.includes(`<tr id="e9"`) && html.includes('<a href="#e9">9</a>'), 'flagged rows are targets');
  assert.match(html, /<h2>Attention of the flagged events<\/h2>/);
  assert.ok(html.includes(`8: ${real.events[8].name} 0.60; 7: ${real.events[7].name} 0.30; start: &lt;s&gt; 0.10`));
  // a row that attends forward in time, or past the sequence, is refused
  assert.throws(() => attachAttention(real, e, [{ from: 3, to: [5], weight: [1] }]), /attention looks back/);
  assert.throws(() => attachAttention(real, e, [{ from: n, to: [n], weight: [1] }]), RangeError);
  // without attention, no attention CSS or table
  const plain = explanationHtml(real, explain(real, { name: [...nll, 0.2] }, 2), 'plain');
  assert.ok(!plain.includes(':has(') && !plain.includes('Attention of the flagged'));
});
