/**
 * @module features/sequences/sequences.test
 * Segmenters on hand-built event streams whose right answer is known by construction (the real strace recording is
 * in `http.test.ts`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FieldValue, Phase, SyscallEvent } from '../../trace/event.js';
import {
  ConnectionSegmenter, ProcessSegmenter, RequestSegmenter, ThreadSegmenter, WindowSegmenter, fdOf, mirrorEnds,
  segment, segmentAll,
} from './index.js';

let clock = 0n;
function ev(pid: number, tid: number, name: string, fd?: FieldValue, ret?: number, phase: Phase = 'complete'): SyscallEvent {
  clock += 1000n;
  const args: Record<string, FieldValue> = fd === undefined ? {} : { fd };
  const e: SyscallEvent = { ts: clock, cpu: 0, pid, tid, proc: 'p', name, phase, args };
  if (phase !== 'entry' && ret !== undefined) e.ret = ret;
  return e;
}
const names = (s: { events: SyscallEvent[] }) => s.events.map((e) => e.name);

test('fdOf reads numeric, bigint and strace-decorated descriptors, not hex pointers', () => {
  assert.equal(fdOf(ev(1, 1, 'read', 4)), 4);
  assert.equal(fdOf(ev(1, 1, 'read', 7n)), 7);
  assert.equal(fdOf(ev(1, 1, 'read', '5<TCP:[127.0.0.1:80->127.0.0.1:4000]>')), 5);
  assert.equal(fdOf({ ...ev(1, 1, 'futex'), args: { arg0: '0x7f00' } }), undefined);
  assert.equal(fdOf({ ...ev(1, 1, 'read'), args: { arg0: '0x7f00' } }), undefined);
  assert.equal(fdOf({ ...ev(1, 1, 'read'), args: { args: ['9<pipe:[1]>', 'x'] } }), 9);
  assert.equal(fdOf({ ...ev(1, 1, 'brk'), args: { args: ['0'] } }), undefined, 'brk(0) takes no descriptor');
});

test('thread segmenter: one sequence per tid, ended by exit and exit_group', () => {
  const seg = new ThreadSegmenter(100, false);
  const out = segmentAll([
    ev(1, 1, 'open'), ev(1, 2, 'read'), ev(1, 1, 'close'), ev(1, 2, 'exit'), ev(1, 1, 'write'),
    ev(1, 3, 'brk'), ev(1, 1, 'exit_group'), ev(9, 9, 'read'),
  ], seg);
  assert.deepEqual(out.map((s) => [s.id, names(s)]), [
    ['tid:2#0', ['read', 'exit']],
    ['tid:1#0', ['open', 'close', 'write', 'exit_group']],
    ['tid:3#0', ['brk']],
    ['tid:9#0', ['read']],
  ]);
  assert.equal(seg.counts.sequences, 4);
  assert.equal(seg.counts.events, 8);
});

test('contiguous thread (trace) segmenter ends a sequence when another tid appears, not at exits', () => {
  const out: string[] = [];
  const seg = new ThreadSegmenter(100, true);
  const got: string[][] = [];
  for (const e of [ev(0, 0, 'a'), ev(0, 0, 'exit_group'), ev(0, 0, 'b'), ev(1, 1, 'c'), ev(2, 2, 'd'), ev(2, 2, 'e')]) {
    const o: { id: string; events: SyscallEvent[] }[] = [];
    seg.push(e, o);
    for (const s of o) { out.push(s.id); got.push(names(s)); }
  }
  assert.deepEqual(out, ['tid:0#0', 'tid:1#0'], 'emitted as soon as the next trace starts');
  const rest: { id: string; events: SyscallEvent[] }[] = [];
  seg.flush(rest);
  assert.deepEqual([...got, ...rest.map(names)], [['a', 'exit_group', 'b'], ['c'], ['d', 'e']]);
});

test('cap truncates and counts', () => {
  const seg = new ProcessSegmenter(3);
  const out = segmentAll([1, 2, 3, 4, 5].map(() => ev(7, 8, 'x')), seg);
  assert.equal(out.length, 1);
  assert.equal(out[0].events.length, 3);
  assert.equal(out[0].truncated, true);
  assert.equal(seg.counts.truncated, 1);
  assert.equal(seg.counts.droppedByCap, 2);
});

test('window segmenter: disjoint and overlapping windows', () => {
  const evs = ['a', 'b', 'c', 'd', 'e'].map((n) => ev(1, 1, n));
  assert.deepEqual(segmentAll(evs, new WindowSegmenter(2, 2)).map(names), [['a', 'b'], ['c', 'd'], ['e']]);
  assert.deepEqual(segmentAll(evs, new WindowSegmenter(3, 1)).map(names), [['a', 'b', 'c'], ['b', 'c', 'd'], ['c', 'd', 'e']]);
  assert.deepEqual(segmentAll(evs.slice(0, 4), new WindowSegmenter(2, 2)).map(names), [['a', 'b'], ['c', 'd']]);
});

test('connection segmenter: accept → close, current-connection attribution, other threads unassigned', () => {
  const seg = new ConnectionSegmenter(100);
  const out = segmentAll([
    ev(1, 1, 'epoll_wait'), // before any connection: unassigned
    ev(1, 1, 'accept4', 3, 5), ev(1, 1, 'read', 5, 10), ev(1, 1, 'openat', -100, 6), ev(1, 1, 'write', 5, 10),
    ev(1, 2, 'futex'), // another thread with no connection
    ev(1, 1, 'close', 6, 0), // not the connection's descriptor: still inside it
    ev(1, 1, 'close', 5, 0), ev(1, 1, 'epoll_wait'),
  ], seg);
  assert.equal(out.length, 1);
  assert.equal(out[0].id, 'conn:1:5#0');
  assert.deepEqual(names(out[0]), ['accept4', 'read', 'openat', 'write', 'close', 'close']);
  assert.equal(seg.counts.unassigned, 3);
});

test('request segmenter: keep-alive connection with 3 requests gives 3 sequences', () => {
  const seg = new RequestSegmenter(100);
  const out = segmentAll([
    ev(1, 1, 'accept4', 3, 5), ev(1, 1, 'fcntl', 5, 0),
    ev(1, 1, 'recvfrom', 5, 80), ev(1, 1, 'openat', -100, 6), ev(1, 1, 'sendto', 5, 100), ev(1, 1, 'sendto', 5, 9),
    ev(1, 1, 'recvfrom', 5, 80), ev(1, 1, 'sendto', 5, 100), ev(1, 1, 'epoll_wait'),
    ev(1, 1, 'read', 5, -11), // EAGAIN: no request starts
    ev(1, 1, 'read', 5, 40), ev(1, 1, 'read', 5, 40), ev(1, 1, 'writev', 5, 200),
    ev(1, 1, 'recvfrom', 5, 0), ev(1, 1, 'shutdown', 5, 0), ev(1, 1, 'close', 5, 0),
  ], seg);
  assert.deepEqual(out.map(names), [
    ['recvfrom', 'openat', 'sendto', 'sendto'],
    ['recvfrom', 'sendto'],
    ['read', 'read', 'writev'],
  ]);
  assert.deepEqual(out.map((s) => s.id), ['req:1:5#0.0', 'req:1:5#0.1', 'req:1:5#0.2']);
  // accept, fcntl, epoll_wait, read(EAGAIN), and the EOF read + shutdown + close after the last response write
  assert.equal(seg.counts.unassigned, 7);
});

test('request segmenter on raw entry/exit events keeps the read entry with its request', () => {
  const seg = new RequestSegmenter(100);
  const out = segmentAll([
    ev(1, 1, 'accept4', 3, undefined, 'entry'), ev(1, 1, 'accept4', undefined, 5, 'exit'),
    ev(1, 1, 'read', 5, undefined, 'entry'), ev(1, 1, 'read', undefined, 30, 'exit'),
    ev(1, 1, 'write', 5, undefined, 'entry'), ev(1, 1, 'write', undefined, 30, 'exit'),
    ev(1, 1, 'read', 5, undefined, 'entry'), ev(1, 1, 'read', undefined, 30, 'exit'),
    ev(1, 1, 'write', 5, undefined, 'entry'), ev(1, 1, 'write', undefined, 30, 'exit'),
    ev(1, 1, 'close', 5, undefined, 'entry'), ev(1, 1, 'close', undefined, 0, 'exit'),
  ], seg);
  assert.equal(out.length, 2);
  for (const s of out) assert.deepEqual(s.events.map((e) => `${e.name}:${e.phase}`), ['read:entry', 'read:exit', 'write:entry', 'write:exit']);
});

test('mirrorEnds matches the two ends of one socket', () => {
  assert.equal(mirrorEnds('UNIX-STREAM:[10->11]', 'UNIX-STREAM:[11->10]'), true);
  assert.equal(mirrorEnds('TCP:[127.0.0.1:5->127.0.0.1:9000]', 'TCP:[127.0.0.1:9000->127.0.0.1:5]'), true);
  assert.equal(mirrorEnds('UNIX-STREAM:[10->11]', 'UNIX-STREAM:[12->13]'), false);
  assert.equal(mirrorEnds('/tmp/x', 'UNIX-STREAM:[12->13]'), undefined);
  assert.equal(mirrorEnds('UNIX-STREAM:[73110->73095]', 'UNIX-STREAM:[73095->73110,"/run/php.sock"]'), true);
  assert.equal(mirrorEnds('TCPv6:[[::1]:80->[::1]:5000]', 'TCPv6:[[::1]:5000->[::1]:80]'), true);
  assert.equal(mirrorEnds('UNIX-STREAM:[73110]', 'UNIX-STREAM:[73095->73110]'), undefined);
});

/**
 * A web server (pid 1) forwarding each request to a worker (pid 2, another program) over a connected socket;
 * `workerProc` names the worker's process (the server's is `p`).
 */
function fastcgiStream(labels: boolean, workerProc = 'php-fpm'): SyscallEvent[] {
  const srvEnd = labels ? '7<UNIX-STREAM:[100->101]>' : 7;
  const wrkEnd = labels ? '4<UNIX-STREAM:[101->100]>' : 4;
  const w = (e: SyscallEvent) => ({ ...e, proc: workerProc });
  return [
    ev(1, 1, 'accept4', 3, 5), ev(1, 1, 'recvfrom', 5, 80),
    ev(1, 1, 'socket', undefined, 7), ev(1, 1, 'connect', srvEnd, 0),
    w(ev(2, 2, 'accept', 3, 4)), // the worker accepts the backend connection
    ev(1, 1, 'write', srvEnd, 300),
    w(ev(2, 2, 'read', wrkEnd, 300)), w(ev(2, 2, 'openat', -100, 5)), w(ev(2, 2, 'write', wrkEnd, 500)),
    ev(1, 1, 'read', srvEnd, 500), ev(1, 1, 'close', srvEnd, 0),
    w(ev(2, 2, 'read', wrkEnd, 0)), w(ev(2, 2, 'close', wrkEnd, 0)),
    ev(1, 1, 'sendto', 5, 400), ev(1, 1, 'close', 5, 0),
  ];
}

for (const labels of [true, false]) {
  test(`request segmenter links a FastCGI-style worker request (${labels ? 'strace -yy ends' : 'no socket labels'})`, () => {
    const seg = new RequestSegmenter(100);
    const out = segmentAll(fastcgiStream(labels), seg);
    assert.equal(out.length, 1, 'the worker request is merged, not emitted alone');
    assert.deepEqual(out[0].events.map((e) => `${e.pid}:${e.name}`), [
      '1:recvfrom', '1:socket', '1:connect', '1:write', '2:read', '2:openat', '2:write', '1:read', '1:close', '1:sendto',
    ]);
    assert.equal(seg.counts.linkedWorkers, 1);
  });
}

test('request segmenter without socket names does not link a peer of the same program (Apache prefork children)', () => {
  // Process 2 is another `p` (a prefork sibling) whose client connection arrives while process 1 waits on its database.
  const seg = new RequestSegmenter(100);
  const out = segmentAll(fastcgiStream(false, 'p'), seg);
  assert.equal(out.length, 2, 'two requests of their own');
  assert.equal(seg.counts.linkedWorkers, 0);
  for (const s of out) assert.equal(new Set(s.events.map((e) => e.pid)).size, 1);
});

test('request segmenter: TLS-like leading exchanges join the first request that does work; trailing data is no request', () => {
  const seg = new RequestSegmenter(100);
  const out = segmentAll([
    ev(1, 1, 'accept4', 3, 5),
    ev(1, 1, 'read', 5, 300), ev(1, 1, 'getpid', undefined, 1), ev(1, 1, 'writev', 5, 1300), // ClientHello → ServerHello…
    ev(1, 1, 'read', 5, -11), ev(1, 1, 'poll', undefined, 1),
    ev(1, 1, 'read', 5, 80), ev(1, 1, 'fcntl', 8, 0), ev(1, 1, 'writev', 5, 287), // Finished → session ticket
    ev(1, 1, 'read', 5, 79), ev(1, 1, 'newfstatat', -100, 0), ev(1, 1, 'writev', 5, 200), // the request: does work
    ev(1, 1, 'read', 5, 79), ev(1, 1, 'openat', -100, 6), ev(1, 1, 'writev', 5, 200), // a second request
    ev(1, 1, 'read', 5, 24), ev(1, 1, 'read', 5, 0), // close_notify, then end of stream
    ev(1, 1, 'close', 5, 0),
  ], seg);
  assert.deepEqual(out.map((s) => s.id), ['req:1:5#0.0', 'req:1:5#0.3']);
  assert.deepEqual(names(out[0]), ['read', 'getpid', 'writev', 'read', 'poll', 'read', 'fcntl', 'writev', 'read', 'newfstatat', 'writev']);
  assert.deepEqual(names(out[1]), ['read', 'openat', 'writev']);
  assert.equal(seg.counts.unassigned, 1 + 3, 'the accept; the close_notify read, the EOF read and the close');
});

test('request segmenter: exchanges that never do work stay requests of their own', () => {
  const seg = new RequestSegmenter(100);
  const out = segmentAll([
    ev(1, 1, 'accept4', 3, 5),
    ev(1, 1, 'read', 5, 30), ev(1, 1, 'write', 5, 30),
    ev(1, 1, 'read', 5, 30), ev(1, 1, 'write', 5, 30),
    ev(1, 1, 'read', 5, 30), ev(1, 1, 'write', 5, 30),
    ev(1, 1, 'close', 5, 0),
  ], seg);
  assert.deepEqual(out.map((s) => s.id), ['req:1:5#0.0', 'req:1:5#0.1', 'req:1:5#0.2']);
});

test('request segmenter does not link a worker whose socket ends do not mirror the waiting request', () => {
  const evs = fastcgiStream(true).map((e) =>
    e.pid === 2 && typeof e.args.fd === 'string' ? { ...e, args: { fd: '4<UNIX-STREAM:[555->556]>' } } : e);
  const seg = new RequestSegmenter(100);
  const out = segmentAll(evs, seg);
  assert.equal(out.length, 2);
  assert.equal(seg.counts.linkedWorkers, 0);
});

test('segment() streams sequences from an async iterable', async () => {
  async function* gen() {
    for (const e of [ev(1, 1, 'a'), ev(1, 1, 'exit'), ev(1, 2, 'b')]) yield e;
  }
  const stream = segment(gen(), 'thread', 10);
  const got = [];
  for await (const s of stream) got.push(names(s));
  assert.deepEqual(got, [['a', 'exit'], ['b']]);
  assert.equal(stream.counts.sequences, 2);
});
