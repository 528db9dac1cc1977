/**
 * @module trace/jsonl/jsonl
 * The project's canonical interchange format for syscall events, written and read as JSON Lines.
 *
 * Line 1 is the header `{"format":"syscall-anomaly-events","version":1}`; every further line is one event with the
 * `SyscallEvent` fields in this order: `ts, cpu, pid, tid, proc, name, phase, args[, ret][, latency]`.
 *
 * Exactness (JSON numbers are doubles, so integers past 2^53 and some numbers cannot be JSON numbers):
 * - `ts` is always a decimal string of the bigint: `"ts":"1700000000123456789"`.
 * - `ret` is a JSON number when it is a number, a decimal string when it is a bigint (`"ret":"18446744073709551615"`).
 * - Inside `args` (and for `ret`/`latency` numbers JSON cannot hold) values are tagged objects with one key:
 *   `{"$big":"<decimal>"}` for a bigint, `{"$num":"NaN"|"Infinity"|"-Infinity"|"-0"}` for those numbers; a genuine
 *   object whose only key is `$big`, `$num` or `$obj` is written wrapped as `{"$obj":{…}}`. Everything else is plain
 *   JSON. So write → read gives back deep-equal events (bigint stays bigint, number stays number, -0 stays -0).
 *
 * Reading: a file without the header is accepted (hand-written files); blank lines are skipped. Each record is
 * validated: `ts` (decimal string, or a safe integer number), `name` (non-empty string) and `phase`
 * ('entry'|'exit'|'complete') are required; `cpu`/`pid`/`tid` default to -1, `proc` to '', `args` to {}; types are
 * checked and unknown keys refused. A bad line throws `TraceError(file, -1, reason, line)`, or is counted in
 * `skipped` when lenient. Counts: `entry` → syscallEntries, `exit` → syscallExits, `complete` → one of each plus
 * `completed`, as the strace reader counts its finished lines.
 *
 * Gzip: a file that starts with the gzip magic (1f 8b) is decompressed while it streams (`file.jsonl.gz`, as
 * `gzip` writes it); damaged compressed data throws a TraceError naming the file. Stdin is read as plain text.
 */
import { open as openFile } from 'node:fs/promises';
import { pipeline, type Readable } from 'node:stream';
import { createGunzip, gunzipSync, constants as zlibConstants } from 'node:zlib';
import type { FieldValue, Phase, ReaderCounts, SyscallEvent, SyscallSource } from '../event.js';
import { emptyCounts } from '../event.js';
import { TraceError } from '../errors.js';
import { flattenBatches, openText, readLines } from './lines.js';

export const JSONL_FORMAT = 'syscall-anomaly-events';
export const JSONL_VERSION = 1;
const HEADER = `{"format":"${JSONL_FORMAT}","version":${JSONL_VERSION}}`;

// ---------------------------------------------------------------------------------------------------------------
// writing

/**
 * Writes the header and then every event, one per line, to `out`, waiting for 'drain' when `out` asks to
 * (back-pressure). Does not end `out`. Resolves to the number of events written.
 */
export async function writeJsonl(events: AsyncIterable<SyscallEvent>, out: NodeJS.WritableStream): Promise<number> {
  let failed: Error | undefined;
  const onError = (e: Error) => { failed = e; };
  out.on('error', onError);
  try {
    let buf = HEADER + '\n';
    let n = 0;
    for await (const ev of events) {
      buf += encodeEvent(ev) + '\n';
      n++;
      if (buf.length >= 1 << 16) {
        await write(out, buf, () => failed);
        buf = '';
      }
    }
    if (buf.length > 0) await write(out, buf, () => failed);
    if (failed) throw failed;
    return n;
  } finally {
    out.removeListener('error', onError);
  }
}

async function write(out: NodeJS.WritableStream, text: string, failed: () => Error | undefined): Promise<void> {
  const f = failed();
  if (f) throw f;
  if (out.write(text)) return;
  await new Promise<void>((resolve, reject) => {
    const done = (err?: Error) => {
      out.removeListener('drain', onDrain);
      out.removeListener('error', onErr);
      out.removeListener('close', onClose);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = () => done();
    const onErr = (e: Error) => done(e);
    const onClose = () => done(new Error('jsonl: output closed before all events were written'));
    out.on('drain', onDrain);
    out.on('error', onErr);
    out.on('close', onClose);
  });
}

/** One event as a JSON line (without the newline). */
export function encodeEvent(ev: SyscallEvent): string {
  if (typeof ev.ts !== 'bigint') throw new TypeError('jsonl: event ts must be a bigint');
  if (!PHASES.has(ev.phase)) throw new TypeError(`jsonl: event phase must be entry, exit or complete, got ${String(ev.phase)}`);
  for (const k of ['cpu', 'pid', 'tid'] as const) {
    if (!Number.isSafeInteger(ev[k])) throw new TypeError(`jsonl: event ${k} must be a safe integer, got ${String(ev[k])}`);
  }
  let s = `{"ts":"${ev.ts}","cpu":${ev.cpu},"pid":${ev.pid},"tid":${ev.tid},"proc":${JSON.stringify(ev.proc)},` +
    `"name":${JSON.stringify(ev.name)},"phase":"${ev.phase}","args":${JSON.stringify(encodeValue(ev.args))}`;
  if (ev.ret !== undefined) {
    s += `,"ret":${typeof ev.ret === 'bigint' ? `"${ev.ret}"` : JSON.stringify(encodeValue(ev.ret))}`;
  }
  if (ev.latency !== undefined) s += `,"latency":${JSON.stringify(encodeValue(ev.latency))}`;
  return s + '}';
}

const TAGS = new Set(['$big', '$num', '$obj']);

/** A FieldValue as plain JSON data (see the module header for the tags). Returns `v` itself when nothing changes. */
function encodeValue(v: FieldValue): unknown {
  switch (typeof v) {
    case 'number':
      if (Number.isFinite(v) && !Object.is(v, -0)) return v;
      return { $num: Object.is(v, -0) ? '-0' : String(v) };
    case 'bigint':
      return { $big: v.toString() };
    case 'string':
    case 'boolean':
      return v;
    case 'object': {
      if (v === null) return v;
      if (Array.isArray(v)) {
        let copy: unknown[] | undefined;
        for (let i = 0; i < v.length; i++) {
          const e = encodeValue(v[i]);
          if (e !== v[i] && !copy) copy = v.slice(0, i);
          if (copy) copy.push(e);
        }
        return copy ?? v;
      }
      const keys = Object.keys(v);
      let copy: Record<string, unknown> | undefined;
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i];
        const val = v[k];
        const e = encodeValue(val);
        if (e !== val && !copy) {
          copy = Object.create(null) as Record<string, unknown>;
          for (let j = 0; j < i; j++) copy[keys[j]] = v[keys[j]];
        }
        if (copy) copy[k] = e;
      }
      const obj = copy ?? v;
      return keys.length === 1 && TAGS.has(keys[0]) ? { $obj: obj } : obj;
    }
    default:
      throw new TypeError(`jsonl: cannot write a ${typeof v} field value`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// reading

/** Opens a JSONL event file ('-' for stdin) as a streaming source. */
export function openJsonl(path: string | '-', lenient: boolean): SyscallSource {
  return new JsonlReader(path, lenient);
}

class JsonlReader implements SyscallSource {
  readonly format = 'jsonl';
  readonly counts: ReaderCounts = emptyCounts();
  private used = false;

  constructor(readonly path: string, private readonly lenient: boolean) {}

  [Symbol.asyncIterator](): AsyncIterator<SyscallEvent> {
    if (this.path === '-' && this.used) throw new Error('jsonl: stdin can be read only once');
    this.used = true;
    return flattenBatches(this.batches());
  }

  private async *batches(): AsyncGenerator<SyscallEvent[], void, undefined> {
    const counts = this.counts;
    Object.assign(counts, emptyCounts());
    const input = await openMaybeGzipped(this.path);
    const file = this.path === '-' ? '<stdin>' : this.path;
    let lineNo = 0;
    let first = true;
    try {
      for await (const batch of readLines(input, file)) {
        const out: SyscallEvent[] = [];
        for (let i = 0; i < batch.length; i++) {
          lineNo++;
          let line = batch[i];
          if (line === null) {
            this.bad(file, lineNo, 'line too long');
            continue;
          }
          if (first && line.charCodeAt(0) === 0xfeff) line = line.slice(1);
          if (isBlank(line)) continue;
          let value: unknown;
          try {
            value = JSON.parse(line);
          } catch (e) {
            first = false;
            this.bad(file, lineNo, `not JSON: ${(e as Error).message}`);
            continue;
          }
          if (first) {
            first = false;
            if (isObject(value) && 'format' in value) {
              checkHeader(value, file, lineNo);
              continue;
            }
          }
          const ev = decodeEvent(value);
          if (typeof ev === 'string') {
            this.bad(file, lineNo, ev);
            continue;
          }
          counts.events++;
          if (ev.phase === 'entry') counts.syscallEntries++;
          else if (ev.phase === 'exit') counts.syscallExits++;
          else {
            counts.syscallEntries++;
            counts.syscallExits++;
            counts.completed++;
          }
          out.push(ev);
        }
        yield out;
      }
    } finally {
      if (input !== process.stdin) input.destroy();
    }
  }

  private bad(file: string, line: number, reason: string): void {
    if (this.lenient) {
      this.counts.skipped++;
      return;
    }
    throw new TraceError(file, -1, `jsonl: ${reason}`, line);
  }
}

/** Whether `head` starts with the gzip magic bytes 1f 8b. */
export function isGzip(head: Uint8Array): boolean {
  return head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
}

/**
 * The first decompressed bytes of a gzip file's head (which may stop mid-stream); an empty buffer when they cannot
 * be decompressed. For format sniffing.
 */
export function gunzipHead(head: Uint8Array): Buffer {
  try {
    return gunzipSync(head, { finishFlush: zlibConstants.Z_SYNC_FLUSH });
  } catch {
    return Buffer.alloc(0);
  }
}

/** Opens `path` as text, decompressing it while it streams when it starts with the gzip magic ('-': stdin, plain). */
async function openMaybeGzipped(path: string): Promise<Readable> {
  if (path === '-') return openText(path);
  let magic = new Uint8Array(0);
  try {
    const fh = await openFile(path, 'r');
    try {
      const buf = Buffer.alloc(2);
      const { bytesRead } = await fh.read(buf, 0, 2, 0);
      magic = buf.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
  } catch {
    return openText(path); // let the line reader report the failure to open, as for plain files
  }
  if (!isGzip(magic)) return openText(path);
  const gunzip = createGunzip();
  pipeline(openText(path), gunzip, (e) => {
    if (e && !gunzip.destroyed) gunzip.destroy(e);
  });
  return gunzip;
}

function checkHeader(h: Record<string, unknown>, file: string, line: number): void {
  if (h.format !== JSONL_FORMAT) {
    throw new TraceError(file, -1, `jsonl: header format is ${JSON.stringify(h.format)}, expected "${JSONL_FORMAT}"`, line);
  }
  if (h.version !== JSONL_VERSION) {
    throw new TraceError(file, -1, `jsonl: unsupported version ${JSON.stringify(h.version)} (this reader knows ${JSONL_VERSION})`, line);
  }
}

function isBlank(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c !== 32 && c !== 9 && c !== 13) return false;
  }
  return true;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const KNOWN = new Set(['ts', 'cpu', 'pid', 'tid', 'proc', 'name', 'phase', 'args', 'ret', 'latency']);
const PHASES: ReadonlySet<string> = new Set<Phase>(['entry', 'exit', 'complete']);
const DECIMAL = /^-?\d{1,40}$/;

/** Validates and decodes one parsed record; returns the reason as a string when it is not a valid event. */
export function decodeEvent(r: unknown): SyscallEvent | string {
  try {
    return decodeRecord(r);
  } catch (e) {
    if (e instanceof BadRecord) return e.message;
    throw e;
  }
}

class BadRecord extends Error {}

function decodeRecord(r: unknown): SyscallEvent {
  if (!isObject(r)) throw new BadRecord('a record must be a JSON object');
  for (const k in r) if (!KNOWN.has(k)) throw new BadRecord(`unknown field ${JSON.stringify(k)}`);
  let ts: bigint;
  if (typeof r.ts === 'string' && DECIMAL.test(r.ts) && r.ts[0] !== '-') ts = BigInt(r.ts);
  else if (typeof r.ts === 'number' && Number.isSafeInteger(r.ts) && r.ts >= 0) ts = BigInt(r.ts);
  else throw new BadRecord('ts must be a non-negative integer (a decimal string)');
  if (typeof r.name !== 'string' || r.name === '') throw new BadRecord('name must be a non-empty string');
  if (typeof r.phase !== 'string' || !PHASES.has(r.phase)) throw new BadRecord('phase must be "entry", "exit" or "complete"');
  const cpu = optionalInt(r.cpu, 'cpu');
  const pid = optionalInt(r.pid, 'pid');
  const tid = optionalInt(r.tid, 'tid');
  if (r.proc !== undefined && typeof r.proc !== 'string') throw new BadRecord('proc must be a string');
  let args: Record<string, FieldValue> = {};
  if (r.args !== undefined) {
    if (!isObject(r.args)) throw new BadRecord('args must be an object');
    const a = decodeValue(r.args, 'args');
    if (!isObject(a)) throw new BadRecord('args must be an object');
    args = a as Record<string, FieldValue>;
  }
  const ev: SyscallEvent = { ts, cpu, pid, tid, proc: (r.proc as string | undefined) ?? '', name: r.name, phase: r.phase as Phase, args };
  if (r.ret !== undefined) {
    if (typeof r.ret === 'string') {
      if (!DECIMAL.test(r.ret)) throw new BadRecord('ret must be a number or a decimal string');
      ev.ret = BigInt(r.ret);
    } else {
      const v = decodeValue(r.ret, 'ret');
      if (typeof v !== 'number' && typeof v !== 'bigint') throw new BadRecord('ret must be a number or a decimal string');
      ev.ret = v;
    }
  }
  if (r.latency !== undefined) {
    const v = decodeValue(r.latency, 'latency');
    if (typeof v !== 'number') throw new BadRecord('latency must be a number');
    ev.latency = v;
  }
  return ev;
}

function optionalInt(v: unknown, what: string): number {
  if (v === undefined) return -1;
  if (!Number.isSafeInteger(v)) throw new BadRecord(`${what} must be an integer`);
  return v as number;
}

/** Undoes `encodeValue` in place (the value is fresh from JSON.parse). Throws BadRecord on a malformed tag. */
function decodeValue(v: unknown, where: string): FieldValue {
  if (typeof v !== 'object' || v === null) return v as FieldValue;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = decodeValue(v[i], where);
    return v as FieldValue[];
  }
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o);
  if (keys.length === 1 && TAGS.has(keys[0])) {
    const k = keys[0];
    const t = o[k];
    if (k === '$big') {
      if (typeof t !== 'string' || !DECIMAL.test(t)) throw new BadRecord(`${where}: $big must hold a decimal string`);
      return BigInt(t);
    }
    if (k === '$num') {
      switch (t) {
        case 'NaN': return NaN;
        case 'Infinity': return Infinity;
        case '-Infinity': return -Infinity;
        case '-0': return -0;
        default: throw new BadRecord(`${where}: $num must be "NaN", "Infinity", "-Infinity" or "-0"`);
      }
    }
    if (!isObject(t)) throw new BadRecord(`${where}: $obj must hold an object`);
    return decodeMembers(t, where);
  }
  return decodeMembers(o, where);
}

function decodeMembers(o: Record<string, unknown>, where: string): FieldValue {
  for (const k of Object.keys(o)) {
    // an own data property (even "__proto__", which JSON.parse creates as one): plain assignment is safe
    o[k] = decodeValue(o[k], where);
  }
  return o as { [name: string]: FieldValue };
}

/** Format sniffing: is the first line of `head` our header, or an event record? */
export function looksLikeJsonl(head: Buffer): boolean {
  let text = head.toString('utf8', 0, Math.min(head.length, 65536));
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  let p = 0;
  while (p < text.length && /\s/.test(text[p])) p++;
  if (text[p] !== '{') return false;
  const nl = text.indexOf('\n', p);
  const line = nl < 0 ? text.slice(p) : text.slice(p, nl);
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    // a first line cut by the head's size: look at how it starts
    return nl < 0 && /^\{\s*"(?:format"\s*:\s*"syscall-anomaly-events"|ts"\s*:)/.test(line);
  }
  if (!isObject(value)) return false;
  if (value.format === JSONL_FORMAT) return true;
  return typeof decodeEvent(value) !== 'string';
}
