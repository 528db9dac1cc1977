/**
 * @module detect/explain.test
 * Aggregation of per-event surprise (sums worked out by hand) and the HTML view (self-contained, escaped, coloured).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SyscallEvent } from '../trace/event.js';
import type { Sequence } from '../features/sequences/sequence.js';
import { MAX_HTML_ROWS, explain, explanationHtml } from './explain.js';

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
  assert.equal((html.match(/<tr style=/g) ?? []).length - 1 /* the by-syscall table */ - 1, 51);
  assert.ok(html.includes('… 8975 events not shown …'));
});
