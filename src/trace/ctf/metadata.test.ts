/**
 * @module trace/ctf/metadata.test
 * `readMetadata` on the shared CTF 1.8 traces (packetized LTTng kernel/UST metadata in both byte orders, perf's
 * plain text), checked against the TSDL text and babeltrace2's output, and the packet-level errors (truncation, bad
 * magic, compression, error offsets mapped back through the packets).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { sharedData } from '../../testing/paths.js';
import { TraceError } from '../errors.js';
import { parseMetadata, readMetadata, unpackMetadata } from './metadata.js';
import type { ArrayClass, EnumClass, FieldClass, IntClass, Role, StructClass, TraceClass, VariantClass } from './types.js';

const dir = (name: string) => sharedData('ctf', name);
const metadataFile = (name: string) => join(dir(name), 'metadata');

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

function rolesOf(fc: FieldClass): Role[] | undefined {
  if (fc.kind === 'enum') return fc.container.roles;
  if (fc.kind === 'int' || fc.kind === 'varint' || fc.kind === 'array' || fc.kind === 'blob') return fc.roles;
  return undefined;
}

function eventByName(tc: TraceClass, name: string) {
  for (const sc of tc.streams.values()) for (const ec of sc.events.values()) if (ec.name === name) return ec;
  return assert.fail(`no event class ${name}`);
}

function allEvents(tc: TraceClass) {
  return [...tc.streams.values()].flatMap((sc) => [...sc.events.values()]);
}

/** Every class reachable from `fc`. */
function* walk(fc: FieldClass | undefined): Generator<FieldClass> {
  if (!fc) return;
  yield fc;
  if (fc.kind === 'struct') for (const m of fc.members) yield* walk(m.type);
  if (fc.kind === 'variant') for (const o of fc.options) yield* walk(o.type);
  if (fc.kind === 'array') yield* walk(fc.element);
  if (fc.kind === 'enum') yield fc.container;
}

/** Packs TSDL text into metadata packets of at most `chunk` text bytes. */
function packetize(text: string, order: 'le' | 'be', chunk: number, opts: { compression?: number } = {}): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  const packets: Buffer[] = [];
  for (let off = 0; off < bytes.length; off += chunk) {
    const body = bytes.subarray(off, Math.min(bytes.length, off + chunk));
    const content = 37 + body.length;
    const total = content + 3; // some padding
    const p = Buffer.alloc(total);
    const w32 = (v: number, o: number) => (order === 'le' ? p.writeUInt32LE(v, o) : p.writeUInt32BE(v, o));
    w32(0x75d11d57, 0);
    w32(content * 8, 24);
    w32(total * 8, 28);
    p[32] = opts.compression ?? 0;
    p[35] = 1;
    p[36] = 8;
    body.copy(p, 37);
    packets.push(p);
  }
  return Buffer.concat(packets);
}

function catchTraceError(fn: () => unknown): TraceError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof TraceError, `expected a TraceError, got ${String(e)}`);
    return e;
  }
  return assert.fail('expected an error');
}

const babeltrace = spawnSync('babeltrace2', ['--version'], { encoding: 'utf8' });
const haveBabeltrace = babeltrace.status === 0;

// The 45 most frequent event names in `babeltrace2 many-threads` output (the event name column, counted with uniq -c).
const MANY_THREADS_SEEN = `sched_switch syscall_exit_clone syscall_exit_open syscall_entry_open syscall_exit_write
  syscall_entry_write syscall_exit_close syscall_entry_close syscall_exit_set_robust_list syscall_entry_set_robust_list
  syscall_entry_clone sched_process_fork sched_process_exit syscall_exit_madvise syscall_entry_madvise
  syscall_entry_exit sched_process_free sched_waking sched_wakeup irq_softirq_raise irq_softirq_exit
  irq_softirq_entry syscall_exit_futex syscall_entry_futex syscall_exit_mmap syscall_entry_mmap
  syscall_exit_mprotect syscall_entry_mprotect syscall_exit_munmap syscall_entry_munmap syscall_exit_lseek
  syscall_entry_lseek syscall_exit_read syscall_entry_read syscall_exit_ioctl syscall_entry_ioctl
  lttng_statedump_process_state syscall_exit_splice syscall_entry_splice syscall_exit_sync_file_range
  syscall_entry_sync_file_range syscall_exit_recvmsg syscall_entry_recvmsg irq_handler_exit irq_handler_entry`
  .split(/\s+/)
  .filter(Boolean);

describe('readMetadata: LTTng kernel trace many-threads (packetized, little-endian)', async () => {
  const tc = await readMetadata(dir('many-threads'));

  it('reads the trace block, env and clock as written in the TSDL', () => {
    assert.equal(tc.version, '1.8');
    assert.equal(tc.byteOrder, 'le');
    assert.equal(tc.uuid, '69861fba-fe44-2b41-b75b-39acaf6930ec');
    assert.equal(tc.env.hostname, 'wilbrod');
    assert.equal(tc.env.tracer_name, 'lttng-modules');
    assert.equal(tc.env.kernel_release, '4.4.3-1-ARCH');
    assert.equal(tc.env.tracer_major, 2);
    assert.deepEqual([...tc.clocks.keys()], ['monotonic']);
    const clock = tc.clocks.get('monotonic')!;
    assert.equal(clock.freq, 1_000_000_000n);
    assert.equal(clock.offsetSeconds, 0n);
    assert.equal(clock.offsetCycles, 1457111225177515989n);
    assert.equal(clock.description, 'Monotonic Clock');
    assert.equal(clock.originIsUnixEpoch, true);
  });

  it('has the one stream class shared by its 8 per-CPU data streams, with 1181 event classes', () => {
    assert.deepEqual([...tc.streams.keys()], [0]);
    const sc = tc.streams.get(0)!;
    assert.equal(sc.events.size, 1181);
    assert.deepEqual(
      [...sc.events.keys()].sort((a, b) => a - b),
      Array.from({ length: 1181 }, (_, i) => i),
    );
    assert.equal(sc.defaultClock, 'monotonic');
    const names = new Set(allEvents(tc).map((e) => e.name));
    for (const n of MANY_THREADS_SEEN) assert.ok(names.has(n), `missing event class ${n}`);
    assert.equal(eventByName(tc, 'sched_switch').id, 1180);
    assert.equal(eventByName(tc, 'syscall_entry_openat').id, 242);
  });

  it('has the packet header and packet context with their roles', () => {
    const ph = tc.packetHeader!;
    assert.deepEqual(
      ph.members.map((m) => [m.name, rolesOf(m.type)]),
      [
        ['magic', ['packet-magic-number']],
        ['uuid', ['metadata-stream-uuid']],
        ['stream_id', ['data-stream-class-id']],
        ['stream_instance_id', ['data-stream-id']],
      ],
    );
    const uuid = at(ph, 'uuid') as ArrayClass;
    assert.deepEqual([uuid.length, (uuid.element as IntClass).size], [16, 8]);
    const pc = tc.streams.get(0)!.packetContext!;
    assert.deepEqual(
      pc.members.map((m) => [m.name, rolesOf(m.type)]),
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
    assert.equal((at(pc, 'timestamp_begin') as IntClass).mappedClock, 'monotonic');
  });

  it('has the compact event header: 5-bit id enum, variant on it, clock-mapped timestamps with roles', () => {
    const eh = tc.streams.get(0)!.eventHeader!;
    assert.equal(eh.align, 8);
    const id = at(eh, 'id') as EnumClass;
    assert.equal(id.kind, 'enum');
    assert.equal((id.container as IntClass).size, 5);
    assert.deepEqual(id.container.roles, ['event-record-class-id']);
    assert.deepEqual(
      id.mappings.map((m) => [m.label, m.ranges]),
      [
        ['compact', [[0n, 30n]]],
        ['extended', [[31n, 31n]]],
      ],
    );
    const v = at(eh, 'v') as VariantClass;
    assert.deepEqual(v.tag, { kind: 'relative', path: ['id'] });
    const compactTs = at(eh, 'v.compact.timestamp') as IntClass;
    assert.deepEqual([compactTs.size, compactTs.mappedClock, compactTs.roles], [27, 'monotonic', ['default-clock-timestamp']]);
    const extId = at(eh, 'v.extended.id') as IntClass;
    assert.deepEqual([extId.size, extId.roles], [32, ['event-record-class-id']]);
    const extTs = at(eh, 'v.extended.timestamp') as IntClass;
    assert.deepEqual([extTs.size, extTs.mappedClock, extTs.roles], [64, 'monotonic', ['default-clock-timestamp']]);
  });

  it('has payloads with babeltrace field names (one leading underscore stripped), arrays and sequences', () => {
    const sw = eventByName(tc, 'sched_switch').payload!;
    assert.deepEqual(
      sw.members.map((m) => m.name),
      ['prev_comm', 'prev_tid', 'prev_prio', 'prev_state', 'next_comm', 'next_tid', 'next_prio'],
    );
    const comm = at(sw, 'prev_comm') as ArrayClass;
    assert.deepEqual([comm.length, (comm.element as IntClass).encoding], [16, 'utf8']);
    assert.deepEqual([(at(sw, 'prev_state') as IntClass).size, (at(sw, 'prev_state') as IntClass).signed], [64, true]);
    const openat = eventByName(tc, 'syscall_entry_openat').payload!;
    assert.deepEqual(
      openat.members.map((m) => [m.name, m.type.kind]),
      [
        ['dfd', 'int'],
        ['filename', 'string'],
        ['flags', 'int'],
        ['mode', 'int'],
      ],
    );
    const fork = eventByName(tc, 'sched_process_fork').payload!;
    assert.deepEqual((at(fork, 'vtids') as ArrayClass).length, { kind: 'relative', path: ['_vtids_length'] });
    assert.ok(fork.members.some((m) => m.name === '_vtids_length'));
  });

  it('has both byte orders: network-order fields in a little-endian trace', () => {
    const connect = eventByName(tc, 'syscall_entry_connect').payload!;
    assert.equal((at(connect, 'family') as IntClass).byteOrder, 'le');
    assert.equal((at(connect, 'dport') as IntClass).byteOrder, 'be');
    assert.equal(((at(connect, 'v6addr') as ArrayClass).element as IntClass).byteOrder, 'be');
  });

  it('unpacks the same text as babeltrace2 --output-format=ctf-metadata', { skip: !haveBabeltrace && 'no babeltrace2' }, () => {
    const ref = spawnSync('babeltrace2', ['--output-format=ctf-metadata', dir('many-threads')], {
      encoding: 'utf8',
      maxBuffer: 1 << 26,
    });
    assert.equal(ref.status, 0);
    const { text, byteOrder, segments } = unpackMetadata(readFileSync(metadataFile('many-threads')), 'm');
    assert.equal(byteOrder, 'le');
    assert.equal(segments!.length, 76);
    assert.equal(text.trimEnd(), ref.stdout.trimEnd());
  });
});

describe('readMetadata: other CTF 1.8 traces', () => {
  it('bug446190: LTTng 2.5 kernel trace with the large event header and old syscall names', async () => {
    const tc = await readMetadata(dir('bug446190'));
    assert.equal(tc.uuid, '5d079bb9-28f0-6648-8bcf-390bb7f31523');
    assert.equal(tc.streams.get(0)!.events.size, 541);
    const exit = eventByName(tc, 'exit_syscall');
    assert.equal(exit.id, 237);
    assert.deepEqual(
      exit.payload!.members.map((m) => [m.name, (m.type as IntClass).size, (m.type as IntClass).signed]),
      [['ret', 32, true]],
    );
    for (const n of ['sys_accept', 'sys_brk', 'sys_clone', 'sys_close', 'sys_execve', 'kmem_kfree', 'rcu_utilization']) {
      eventByName(tc, n);
    }
    const eh = tc.streams.get(0)!.eventHeader!;
    const id = at(eh, 'id') as EnumClass;
    assert.deepEqual([(id.container as IntClass).size, id.container.roles], [16, ['event-record-class-id']]);
    assert.deepEqual((at(eh, 'v.compact.timestamp') as IntClass).size, 32);
    assert.equal(tc.clocks.get('monotonic')!.offsetCycles, 1412663327522716450n);
  });

  it('ctf-sequence-empty: LTTng-UST trace with a sequence and a log level', async () => {
    const tc = await readMetadata(dir('ctf-sequence-empty'));
    assert.equal(tc.env.domain, 'ust');
    const ec = eventByName(tc, 'my_provider:my_sequence_tp');
    assert.deepEqual([ec.id, ec.loglevel], [0, 13]);
    const seq = at(ec.payload, 'seq') as ArrayClass;
    assert.deepEqual(seq.length, { kind: 'relative', path: ['_seq_length'] });
    assert.deepEqual([(seq.element as IntClass).size, (seq.element as IntClass).signed, seq.align], [64, true, 64]);
    assert.deepEqual(rolesOf(at(tc.packetHeader, 'stream_instance_id')), ['data-stream-id']);
    assert.deepEqual(rolesOf(at(tc.streams.get(0)!.packetContext, 'packet_seq_num')), ['packet-sequence-number']);
  });

  it('flipping-endianness: big-endian packets and a big-endian trace', async () => {
    const buf = readFileSync(metadataFile('flipping-endianness'));
    const un = unpackMetadata(buf, 'm');
    assert.equal(un.byteOrder, 'be');
    assert.equal(un.segments!.length, 2);
    const tc = await readMetadata(dir('flipping-endianness'));
    assert.equal(tc.byteOrder, 'be');
    assert.equal(tc.uuid, 'cf1c757c-93a6-6343-be56-fe367222623c');
    assert.deepEqual(
      allEvents(tc).map((e) => e.name).sort(),
      ['irq_handler_entry', 'irq_handler_exit', 'lttng_statedump_interrupt', 'lttng_statedump_process_state', 'sched_process_fork', 'sched_switch'],
    );
    const roots: StructClass[] = [tc.packetHeader!, tc.streams.get(0)!.packetContext!, tc.streams.get(0)!.eventHeader!];
    for (const e of allEvents(tc)) roots.push(e.payload!);
    for (const r of roots) {
      for (const fc of walk(r)) if (fc.kind === 'int') assert.equal(fc.byteOrder, 'be');
    }
    assert.equal((at(tc.streams.get(0)!.eventHeader, 'v.compact.timestamp') as IntClass).size, 27);
    assert.equal(tc.streams.get(0)!.eventHeader!.align, 32);
  });

  it("perf-taskset2: plain-text TSDL in perf's layout", async () => {
    const tc = await readMetadata(dir('perf-taskset2'));
    assert.equal(tc.byteOrder, 'le');
    assert.equal(tc.env.tracer_name, 'perf');
    const clock = tc.clocks.get('perf_clock')!;
    assert.deepEqual([clock.freq, clock.offsetSeconds, clock.offsetCycles, clock.originIsUnixEpoch], [1_000_000_000n, 0n, 0n, false]);
    const sc = tc.streams.get(0)!;
    assert.equal(sc.events.size, 18);
    assert.equal(sc.defaultClock, 'perf_clock');
    for (const n of ['sched:sched_switch', 'sched:sched_wakeup', 'sched:sched_stat_runtime', 'sched:sched_migrate_task', 'sched:sched_process_exec', 'sched:sched_process_exit']) {
      eventByName(tc, n);
    }
    const eh = sc.eventHeader!;
    assert.deepEqual(rolesOf(at(eh, 'id')), ['event-record-class-id']);
    assert.deepEqual(rolesOf(at(eh, 'timestamp')), ['default-clock-timestamp']);
    assert.equal((at(eh, 'timestamp') as IntClass).mappedClock, 'perf_clock');
    assert.deepEqual(rolesOf(at(tc.packetHeader, 'uuid')), ['metadata-stream-uuid']);
    const sw = eventByName(tc, 'sched:sched_switch').payload!;
    assert.equal((at(sw, 'perf_ip') as IntClass).base, 16);
    assert.equal(at(sw, 'prev_comm').kind, 'string');
    assert.equal((at(sw, 'perf_tid') as IntClass).align, 1);
  });
});

describe('readMetadata: errors', () => {
  const buf = readFileSync(metadataFile('many-threads'));

  it('rejects a truncated metadata packet', () => {
    const err = catchTraceError(() => parseMetadata(buf.subarray(0, 2 * 4096 + 60), 'x/metadata'));
    assert.equal(err.file, 'x/metadata');
    assert.equal(err.offset, 2 * 4096);
    assert.match(err.reason, /truncated metadata packet: content_size is \d+ bytes, only 60 left/);
    const err2 = catchTraceError(() => parseMetadata(buf.subarray(0, 4096 + 20), 'x/metadata'));
    assert.equal(err2.offset, 4096);
    assert.match(err2.reason, /truncated metadata packet header/);
  });

  it('rejects a packet with the wrong magic', () => {
    const bad = Buffer.from(buf);
    bad.writeUInt32LE(0xdeadbeef, 4096);
    const err = catchTraceError(() => parseMetadata(bad, 'metadata'));
    assert.equal(err.offset, 4096);
    assert.match(err.reason, /bad metadata packet magic 0xdeadbeef/);
    const garbage = catchTraceError(() => parseMetadata(Buffer.from([1, 2, 3, 4, 5, 6]), 'metadata'));
    assert.equal(garbage.offset, 0);
    assert.match(garbage.reason, /not CTF metadata/);
  });

  it('rejects compressed or encrypted packets', () => {
    const bad = Buffer.from(buf);
    bad[4096 + 32] = 1;
    const err = catchTraceError(() => parseMetadata(bad, 'metadata'));
    assert.deepEqual([err.offset, err.reason], [4096 + 32, 'unsupported metadata packet compression scheme 1']);
    const enc = Buffer.from(buf);
    enc[33] = 2;
    assert.match(catchTraceError(() => parseMetadata(enc, 'metadata')).reason, /encryption scheme 2/);
  });

  it('maps a TSDL syntax error in a later packet back to its file offset', () => {
    const text = '/* CTF 1.8 */\ntrace { major = 1; minor = 8; byte_order = be; };\nevent { name = "x"; fields := struct { oops_t a; }; };\n';
    for (const order of ['le', 'be'] as const) {
      const packed = packetize(text, order, 40);
      const err = catchTraceError(() => parseMetadata(packed, 'metadata'));
      const pos = text.indexOf('oops_t');
      const packet = Math.floor(pos / 40);
      // Each packet: 37-byte header + 40 text bytes + 3 padding bytes.
      assert.equal(err.offset, packet * 80 + 37 + (pos % 40));
      assert.match(err.reason, /line 3:40: unknown type name 'oops_t'/);
      assert.equal(parseMetadata(packetize(text.replace('oops_t', 'string'), order, 40), 'm').byteOrder, 'be');
    }
  });

  it('takes the trace byte order from the packet magic when the trace block has none', () => {
    const text = 'event { fields := struct { integer { size = 16; } a; }; };';
    const tc = parseMetadata(packetize(text, 'be', 16), 'metadata');
    assert.equal(tc.byteOrder, 'be');
    assert.equal((at(tc.streams.get(0)!.events.get(0)!.payload, 'a') as IntClass).byteOrder, 'be');
  });

  it('reports a syntax error in plain-text metadata at its byte offset', () => {
    const text = '/* CTF 1.8 */\ntrace { major = 1; minor = 8 };\nstream { id = ; };\n';
    const err = catchTraceError(() => parseMetadata(Buffer.from(text), 'metadata'));
    assert.equal(err.offset, text.indexOf('; };'));
    assert.match(err.reason, /line 3:15: expected a value but found ';'/);
  });

  it('rejects unsupported versions and missing files', async () => {
    assert.match(catchTraceError(() => parseMetadata(Buffer.from('/* CTF 2.0 */\n'), 'm')).reason, /unsupported TSDL metadata version/);
    await assert.rejects(readMetadata('/nonexistent/trace'), (e: unknown) => e instanceof TraceError && /ENOENT/.test(e.reason));
  });

  it('reads CTF 2 metadata through the same entry point', () => {
    const bad = Buffer.from('\x1e{"type": "preamble", "version": 2}\n\x1e{"type": "trace-class",, }\n');
    const err = catchTraceError(() => parseMetadata(bad, 'metadata'));
    assert.equal(err.offset, bad.indexOf(',,') + 1);
    assert.match(err.reason, /bad JSON/);
  });
});
