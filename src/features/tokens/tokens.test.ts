/**
 * @module features/tokens/tokens.test
 * Vocabulary fitting, field tokens and sequence encoding on small sequences whose ids follow from the rules; the
 * extra fields `lat` and `size` on real events of the committed web-server sample (HTTPS vs plain HTTP), and the
 * joint tokenizer (one vocabulary over `name|lat|size`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SyscallEvent } from '../../trace/event.js';
import type { Sequence } from '../sequences/sequence.js';
import { openData } from '../dataset.js';
import { projectData } from '../../testing/paths.js';
import {
  BYTE_COUNT_SYSCALLS, END, EXTRA_TOKEN_FIELDS, KNOWN_TOKEN_FIELDS, START, TOKEN_FIELDS, TRUNCATE, Tokenizer, UNKNOWN, Vocabulary,
  dtBucket, fieldToken, latencyToken, retClass, sizeToken,
} from './index.js';

function ev(ts: bigint, name: string, ret?: number): SyscallEvent {
  const e: SyscallEvent = { ts, cpu: 0, pid: 10, tid: 11, proc: 'nginx', name, phase: 'complete', args: {} };
  if (ret !== undefined) e.ret = ret;
  return e;
}

test('dtBucket is the bit length of the delta, 0 for none', () => {
  assert.deepEqual([0n, -5n, 1n, 2n, 3n, 4n, 1023n, 1024n].map(dtBucket), [0, 0, 1, 2, 2, 3, 10, 11]);
  assert.equal(dtBucket(1n << 60n), 41);
});

test('retClass', () => {
  assert.equal(retClass(ev(0n, 'read', 5)), 'success');
  assert.equal(retClass(ev(0n, 'read', -11)), 'error');
  assert.equal(retClass(ev(0n, 'mmap', -5000)), 'success', 'an address above -4096 is not an errno');
  assert.equal(retClass(ev(0n, 'exit_group')), 'none');
});

test('Vocabulary: frequency order, ties by string, min count to <unk>, JSON round trip', () => {
  const v = Vocabulary.fit(new Map([['read', 5], ['write', 2], ['close', 2], ['rare', 1]]), 2);
  assert.equal(v.size, 5 + 3);
  assert.deepEqual([v.id('read'), v.id('close'), v.id('write'), v.id('rare'), v.id('never')], [5, 6, 7, UNKNOWN, UNKNOWN]);
  assert.equal(v.token(6), 'close');
  assert.equal(v.token(START), '<s>');
  assert.equal(v.unknownCount, 1);
  const w = Vocabulary.fromJSON(JSON.parse(JSON.stringify(v)));
  assert.equal(w.id('write'), 7);
  assert.throws(() => v.token(99), RangeError);
});

test('Tokenizer encodes every field with start/end and truncate markers', () => {
  const a: Sequence = { id: 'a', events: [ev(1000n, 'read', 3), ev(1004n, 'write', -32), ev(1004n, 'read', 0)] };
  const b: Sequence = { id: 'b', events: [ev(0n, 'openat', 3)], truncated: true };
  const tok = new Tokenizer(['name', 'dt', 'ret', 'proc'], 1).fit([a, b]);
  // names: read ×2, openat ×1, write ×1 → read=5, openat=6, write=7
  assert.deepEqual([...tok.encodeField(a, 'name')], [START, 5, 7, 5, END]);
  assert.deepEqual([...tok.encodeField(b, 'name')], [START, 6, TRUNCATE]);
  // dt tokens of a: '0' (first), '3' (4 ns), '0' → '0' ×3 (with b) = 5, '3' = 6
  assert.deepEqual([...tok.encodeField(a, 'dt')], [START, 5, 6, 5, END]);
  // ret: success ×3 = 5, error = 6
  assert.deepEqual([...tok.encodeField(a, 'ret')], [START, 5, 6, 5, END]);
  const all = tok.encode(a);
  assert.equal(all.length, 4);
  assert.deepEqual([...all[3]], [START, 5, 5, 5, END]);
  const unseen: Sequence = { id: 'c', events: [ev(0n, 'ptrace', 0)] };
  assert.deepEqual([...tok.encodeField(unseen, 'name')], [START, UNKNOWN, END]);
  const back = Tokenizer.fromJSON(JSON.parse(JSON.stringify(tok)));
  assert.deepEqual(back.encode(a).map((x) => [...x]), all.map((x) => [...x]));
  assert.throws(() => tok.vocabulary('pid'), RangeError);
  assert.throws(() => new Tokenizer(['name', 'bogus' as 'name'], 1), RangeError);
  assert.throws(() => Tokenizer.fromJSON({ ...tok.toJSON(), magic: 'x' as 'syscall-anomaly/tokenizer' }));
});

/** The first `n` request sequences of a committed web-server set (perf `syscalls:*`, paired: latency and ret). */
async function webRequests(set: string, n: number): Promise<Sequence[]> {
  const src = openData({ kind: 'trace', arg: set, path: projectData('web-novelty', `${set}.jsonl.gz`) },
    { segmentation: 'request', maxLength: 10_000, pairing: 'paired', lenient: false });
  const out: Sequence[] = [];
  for await (const s of src) {
    out.push(s);
    if (out.length === n) break;
  }
  return out;
}

test('the seven fields stay the default list; lat and size are extra known fields', () => {
  assert.deepEqual(TOKEN_FIELDS, ['name', 'phase', 'dt', 'proc', 'pid', 'tid', 'ret']);
  assert.deepEqual(EXTRA_TOKEN_FIELDS, ['lat', 'size']);
  assert.deepEqual(KNOWN_TOKEN_FIELDS, [...TOKEN_FIELDS, 'lat', 'size']);
});

test('lat: log2 bucket of each real call\'s latency; none without one', async () => {
  const seqs = await webRequests('normal', 50);
  let n = 0;
  for (const s of seqs) {
    for (const e of s.events) {
      assert.ok(e.latency !== undefined, 'paired perf events carry a latency');
      assert.equal(fieldToken('lat', e, undefined), String(dtBucket(BigInt(e.latency!))));
      n++;
    }
  }
  assert.ok(n > 1000);
  const first = seqs[0]!.events[0]!;
  assert.equal(latencyToken({ ...first, latency: undefined }), 'none');
  assert.equal(latencyToken({ ...first, latency: 1024 }), '11');
});

test('size: byte counts of real reads and writes bucketed, errors as e<errno>, addresses and pids never', async () => {
  const seqs = await webRequests('normal', 50);
  const seen = new Map<string, Set<string>>();
  for (const s of seqs) {
    for (const e of s.events) {
      const t = sizeToken(e);
      let m = seen.get(e.name);
      if (!m) seen.set(e.name, (m = new Set()));
      m.add(t);
      const r = Number(e.ret);
      if (!BYTE_COUNT_SYSCALLS.has(e.name)) assert.equal(t, 'none', `${e.name} ret ${r}`);
      else if (r >= 0) assert.equal(t, String(dtBucket(BigInt(r))));
      else assert.equal(t, `e${-r}`);
    }
  }
  // Apache's non-blocking reads that find nothing: EAGAIN (11); mmap returns an address, getpid a pid: no size.
  assert.ok(seen.get('read')!.has('e11'));
  assert.deepEqual([...seen.get('mmap')!], ['none']);
  assert.deepEqual([...(seen.get('getpid') ?? new Set(['none']))], ['none']);
  assert.ok([...seen.get('writev')!].every((t) => /^\d+$/.test(t)));
});

test('size tells a TLS record from a plain request: the request read is 79 bytes over HTTPS, 57 over HTTP', async () => {
  const sizesOf = (seqs: Sequence[]) => new Set(seqs.flatMap((s) => s.events.filter((e) => e.name === 'read').map((e) => Number(e.ret))));
  const tls = sizesOf(await webRequests('normal', 40));
  const plain = sizesOf(await webRequests('ssl', 40));
  assert.ok(tls.has(79) && !tls.has(57));
  assert.ok(plain.has(57) && !plain.has(79));
  // 79 and 57 fall in different log2 buckets (7: 64..127, 6: 32..63), so the size token differs
  assert.equal(dtBucket(79n), 7);
  assert.equal(dtBucket(57n), 6);
});

test('joint tokenizer: one vocabulary over name|lat|size, JSON round trip', async () => {
  const seqs = await webRequests('normal', 30);
  const tok = new Tokenizer(['name', 'lat', 'size'], 1, 3).fit(seqs);
  assert.equal(tok.jointName, 'name|lat|size');
  const v = tok.vocabulary('name|lat|size');
  const ids = tok.encodeField(seqs[0]!, 'name|lat|size');
  const e0 = seqs[0]!.events[0]!;
  assert.equal(v.token(ids[1]!), `${e0.name}|${latencyToken(e0)}|${sizeToken(e0)}`);
  assert.equal(tok.firstId(e0, undefined), ids[1]);
  assert.deepEqual(tok.encode(seqs[0]!).map((x) => [...x]), [[...ids]]);
  assert.ok(v.size > new Tokenizer(['name'], 1).fit(seqs).vocabulary('name').size);
  assert.throws(() => tok.vocabulary('name'), /no field 'name'/);
  const j = JSON.parse(JSON.stringify(tok));
  assert.equal(j.joint, true);
  assert.deepEqual(Object.keys(j.vocabularies), ['name|lat|size']);
  const back = Tokenizer.fromJSON(j);
  assert.deepEqual([...back.encodeField(seqs[1]!, 'name|lat|size')], [...tok.encodeField(seqs[1]!, 'name|lat|size')]);
  // a plain tokenizer's JSON is unchanged: no joint key
  assert.equal('joint' in new Tokenizer(['name'], 1).fit(seqs).toJSON(), false);
});

test('a tokenizer joining its leading fields: the predicted unit name|lat|size, then one vocabulary per other field', async () => {
  const seqs = await webRequests('normal', 30);
  const tok = new Tokenizer(['name', 'lat', 'size', 'phase', 'dt'], 1, 3).fit(seqs);
  assert.deepEqual(tok.unitNames, ['name|lat|size', 'phase', 'dt']);
  assert.deepEqual(tok.predicted, ['name', 'lat', 'size']);
  assert.equal(tok.jointName, 'name|lat|size');
  assert.equal(tok.joint, false);
  const enc = tok.encode(seqs[0]!);
  assert.equal(enc.length, 3);
  // the same ids as a joint tokenizer of the predicted fields and plain ones of the others
  const joint = new Tokenizer(['name', 'lat', 'size'], 1, 3).fit(seqs);
  const plain = new Tokenizer(['phase', 'dt'], 1).fit(seqs);
  assert.deepEqual([...enc[0]!], [...joint.encodeField(seqs[0]!, 'name|lat|size')]);
  assert.deepEqual([...enc[2]!], [...plain.encodeField(seqs[0]!, 'dt')]);
  // event by event (incremental scoring) as in full
  const evs = seqs[0]!.events;
  const ids = new Int32Array(3 * evs.length);
  evs.forEach((e, i) => tok.eventIds(e, evs[i - 1], ids, 3 * i));
  for (let i = 0; i < evs.length; i++) assert.deepEqual([...ids.subarray(3 * i, 3 * i + 3)], enc.map((u) => u[i + 1]));
  const j = JSON.parse(JSON.stringify(tok));
  assert.equal(j.joined, 3);
  assert.equal('joint' in j, false);
  const back = Tokenizer.fromJSON(j);
  assert.deepEqual(back.encode(seqs[1]!).map((x) => [...x]), tok.encode(seqs[1]!).map((x) => [...x]));
  assert.throws(() => new Tokenizer(['name', 'lat'], 1, 3), /joined must be an integer in 1\.\.2/);
});
