/**
 * @module trace/ctf/stream
 * One CTF data stream file → its packets → its event records, in file order (which CTF requires to be time order
 * within a stream). The byte source reads the file in bounded chunks, so memory stays flat whatever the trace size.
 *
 * Damage handling: by default the first problem throws a `TraceError` naming the file and byte offset. In lenient
 * mode a damaged packet is skipped (counted) and decoding resumes at the next packet when its size is known. In
 * follow mode a packet that extends past the current end of file is waited for (the trace is still being written).
 */
import { open, type FileHandle } from 'node:fs/promises';
import { Cursor } from './cursor.js';
import { compileStruct, compileStructForRoles, onlyRoles, type CompileContext, type Decoder } from './decoder.js';
import type { EventClass, FieldClass, FieldRef, Scope, StreamClass, StructClass, TraceClass } from './types.js';
import { TraceError } from '../errors.js';

const CTF_MAGIC = 0xc1fc1fc1;

/** One decoded event record. */
export interface CtfEventRecord {
  name: string;
  eventClass: EventClass;
  streamClass: StreamClass;
  /** The stream file it came from. */
  stream: CtfStreamReader;
  /** Default clock value in cycles, or -1 when the stream has no clock. */
  cycles: number;
  /** Nanoseconds from the clock's origin (Unix epoch when the clock says so); 0n without a clock. */
  ts: bigint;
  packetContext: Record<string, unknown> | undefined;
  /** The event header's values; undefined when the header holds only role fields (id, timestamp), used up here. */
  header: Record<string, unknown> | undefined;
  commonContext: Record<string, unknown> | undefined;
  specificContext: Record<string, unknown> | undefined;
  payload: Record<string, unknown> | undefined;
}

/** How a reader treats damage and growth. */
export interface ReadMode {
  /** Skip damaged packets (counted) instead of failing. */
  lenient: boolean;
  /** Wait for a packet that extends past the end of file to be completed, instead of failing. */
  follow: boolean;
}

export interface StreamCounts {
  events: number;
  packets: number;
  lost: number;
  skippedPackets: number;
  skippedBytes: number;
}

/** Per-stream-class compiled decoders. */
interface CompiledStream {
  packetContext?: Decoder;
  header?: Decoder;
  commonContext?: Decoder;
  /** Event classes by id; their decoders are compiled on first use (a kernel trace declares ~1,200 classes). */
  events: Map<number, CompiledEvent>;
}

interface CompiledEvent {
  cls: EventClass;
  /** Records of this class decoded so far (all streams of the trace). */
  count: number;
  /** Compiles on first call, then returns the same decoders. */
  decoders: () => { context?: Decoder; payload?: Decoder };
  /** The decoders once compiled (read first on the hot path). */
  compiled?: { context?: Decoder; payload?: Decoder };
}

/** Compiles every decoder of a trace once; shared by all its stream files. */
export class CompiledTrace {
  readonly packetHeader?: Decoder;
  readonly streams = new Map<number, CompiledStream>();

  /** Event records decoded so far per event-class name. */
  recordCounts(into: Map<string, number>): void {
    for (const cs of this.streams.values()) {
      for (const ev of cs.events.values()) if (ev.count) into.set(ev.cls.name, (into.get(ev.cls.name) ?? 0) + ev.count);
    }
  }
  /** Per stream class: ns = offsetNs + cycles * nsPerCycle (exact when freq is 1 GHz). */
  readonly clocks = new Map<number, { offsetNs: bigint; freq: bigint }>();
  /**
   * Payload members the consumer will not read (`CtfReader.leaveUnread`): stepped over and left out of payloads.
   * Read when an event class's decoders are compiled, on its first record: set before reading.
   */
  unreadPayload: ReadonlySet<string> | undefined;

  constructor(readonly cls: TraceClass, readonly metadataFile: string) {
    const roots: Array<{ scope: Scope; cls: StructClass }> = [];
    const slots: CompileContext['slots'] = new Map();
    const selfScopes: CompileContext['selfScopes'] = new Set();
    const ctx = (scope: Scope): CompileContext => ({ structs: [], roots: [...roots], scope, slots, selfScopes });
    if (cls.packetHeader) {
      this.packetHeader = compileStruct(cls.packetHeader, ctx('packet.header'));
      roots.push({ scope: 'packet.header', cls: cls.packetHeader });
    }
    for (const [id, sc] of cls.streams) {
      const r0 = roots.length;
      const cs: CompiledStream = { events: new Map() };
      if (sc.packetContext) {
        cs.packetContext = compileStruct(sc.packetContext, ctx('packet.context'));
        roots.push({ scope: 'packet.context', cls: sc.packetContext });
      }
      if (sc.eventHeader) {
        // A header of role fields only is decoded for its roles (id, timestamp) without building an object, unless
        // some field refers into it.
        cs.header = onlyRoles(sc.eventHeader) && !referencesScope(cls, 'event.header')
          ? compileStructForRoles(sc.eventHeader, ctx('event.header'))
          : compileStruct(sc.eventHeader, ctx('event.header'));
        roots.push({ scope: 'event.header', cls: sc.eventHeader });
      }
      if (sc.eventCommonContext) {
        cs.commonContext = compileStruct(sc.eventCommonContext, ctx('event.common-context'));
        roots.push({ scope: 'event.common-context', cls: sc.eventCommonContext });
      }
      const streamRoots = [...roots];
      for (const [eid, ec] of sc.events) {
        let compiled: { context?: Decoder; payload?: Decoder } | undefined;
        const decoders = () => {
          if (compiled) return compiled;
          const evRoots = [...streamRoots];
          const evCtx = (scope: Scope): CompileContext => ({ structs: [], roots: [...evRoots], scope, slots, selfScopes });
          try {
            compiled = {};
            if (ec.context) {
              compiled.context = compileStruct(ec.context, evCtx('event.specific-context'));
              evRoots.push({ scope: 'event.specific-context', cls: ec.context });
            }
            if (ec.payload) compiled.payload = compileStruct(ec.payload, evCtx('event.payload'), this.unreadPayload);
          } catch (e) {
            compiled = undefined;
            throw new TraceError(this.metadataFile, 0, `event class '${ec.name}': ${(e as Error).message}`);
          }
          return compiled;
        };
        cs.events.set(eid, { cls: ec, count: 0, decoders });
      }
      roots.length = r0;
      this.streams.set(id, cs);
      const clock = sc.defaultClock !== undefined ? cls.clocks.get(sc.defaultClock) : cls.clocks.size === 1 ? [...cls.clocks.values()][0] : undefined;
      if (clock) {
        const offsetNs = clock.offsetSeconds * 1_000_000_000n + (clock.offsetCycles * 1_000_000_000n) / clock.freq;
        this.clocks.set(id, { offsetNs, freq: clock.freq });
      }
    }
  }
}

/** Whether any field reference of the trace points into `scope` (absolutely; relative ones never reach headers). */
function referencesScope(t: TraceClass, scope: Scope): boolean {
  const seen = new Set<FieldClass>();
  const visit = (f: FieldClass | undefined): boolean => {
    if (!f || seen.has(f)) return false;
    seen.add(f);
    const hit = (r: FieldRef | number) => typeof r === 'object' && r.kind === 'absolute' && r.scope === scope;
    switch (f.kind) {
      case 'struct': return f.members.some((m) => visit(m.type));
      case 'array': return hit(f.length) || visit(f.element);
      case 'bstring': case 'blob': return hit(f.length);
      case 'variant': return hit(f.tag) || f.options.some((o) => visit(o.type));
      case 'optional': return hit(f.selector) || visit(f.type);
      default: return false;
    }
  };
  if (visit(t.packetHeader)) return true;
  for (const sc of t.streams.values()) {
    if (visit(sc.packetContext) || visit(sc.eventHeader) || visit(sc.eventCommonContext)) return true;
    for (const ec of sc.events.values()) if (visit(ec.context) || visit(ec.payload)) return true;
  }
  return false;
}

/** Reads one stream file packet by packet. `nextEvent()` is synchronous within a packet; `loadPacket()` is async. */
export class CtfStreamReader {
  readonly counts: StreamCounts = { events: 0, packets: 0, lost: 0, skippedPackets: 0, skippedBytes: 0 };
  private readonly c = new Cursor();
  private fh: FileHandle | undefined;
  private fileSize = 0;
  /** Byte offset of the next packet in the file. */
  private next = 0;
  private chunk: Buffer = Buffer.alloc(0);
  private chunkStart = 0;
  /**
   * The chunk after `chunk`, being read into `buf` at `headroom`: the bytes before it are left free so that the
   * unread tail of the current chunk (a packet that crosses the boundary) can be copied in front without copying
   * the whole read-ahead.
   */
  private prefetch: { start: number; buf: Buffer; headroom: number; data: Promise<number> } | undefined;
  /** The largest packet seen: the headroom the next read-ahead keeps. */
  private maxPacket = 0;
  private stream: CompiledStream | undefined;
  private streamClass: StreamClass | undefined;
  private clock: { offsetNs: bigint; freq: bigint } | undefined;
  private packetContext: Record<string, unknown> | undefined;
  private prevDiscarded = -1;
  private packetOpen = false;
  /** The stream instance id from the packet header (-1 when absent). */
  instanceId = -1;
  done = false;

  constructor(
    readonly file: string,
    readonly trace: CompiledTrace,
    private readonly mode: ReadMode,
    private readonly chunkSize: number,
  ) {}

  async open(): Promise<void> {
    try {
      this.fh = await open(this.file, 'r');
      this.fileSize = (await this.fh.stat()).size;
    } catch (e) {
      throw new TraceError(this.file, 0, `cannot open stream file: ${(e as Error).message}`);
    }
  }

  async close(): Promise<void> {
    if (this.prefetch) await this.prefetch.data.catch(() => undefined);
    this.prefetch = undefined;
    await this.fh?.close();
    this.fh = undefined;
  }

  /** Reads [off, off+len) of the file into `buf` at `at`; returns the bytes read (less at end of file). */
  private async readInto(buf: Buffer, at: number, off: number, len: number): Promise<number> {
    let got = 0;
    while (got < len) {
      const { bytesRead } = await this.fh!.read(buf, at + got, len - got, off + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return got;
  }

  /** Reads [off, off+len) of the file (less at end of file). */
  private async readAt(off: number, len: number): Promise<Buffer> {
    const buf = Buffer.allocUnsafe(Math.max(len, 0));
    const got = await this.readInto(buf, 0, off, len);
    return got === buf.length ? buf : buf.subarray(0, got);
  }

  /**
   * Loads the bytes [off, off+len) into the chunk, reading ahead by up to `chunkSize`. While a chunk is decoded the
   * next one is already being read (double buffering), so decoding does not wait for the disk or page cache.
   */
  private async ensure(off: number, len: number): Promise<void> {
    const chunkEnd = this.chunkStart + this.chunk.length;
    if (off >= this.chunkStart && off + len <= chunkEnd) return;
    const want = Math.min(Math.max(len, this.chunkSize), this.fileSize - off);
    let buf: Buffer;
    const ahead = this.prefetch;
    this.prefetch = undefined;
    const tail = chunkEnd - off;
    if (ahead && off >= this.chunkStart && tail >= 0 && ahead.start === chunkEnd) {
      // Continue from the read-ahead: the tail of this chunk in front of the prefetched bytes (then more if needed).
      const got = await ahead.data;
      if (tail <= ahead.headroom) {
        this.chunk.copy(ahead.buf, ahead.headroom - tail, off - this.chunkStart);
        buf = ahead.buf.subarray(ahead.headroom - tail, ahead.headroom + got);
      } else {
        buf = Buffer.concat([this.chunk.subarray(off - this.chunkStart), ahead.buf.subarray(ahead.headroom, ahead.headroom + got)]);
      }
      const need = Math.min(len, this.fileSize - off);
      if (buf.length < need) buf = Buffer.concat([buf, await this.readAt(off + buf.length, need - buf.length)]);
    } else {
      if (ahead) await ahead.data.catch(() => undefined);
      buf = await this.readAt(off, want);
    }
    this.chunk = buf;
    this.chunkStart = off;
    const next = off + buf.length;
    if (!this.mode.follow && next < this.fileSize) {
      // At least one whole packet ahead: perf's packets are ~8 MiB, twice the usual chunk, and a read-ahead shorter
      // than a packet left half of each to be read (and the halves joined) while decoding waited.
      const len = Math.min(Math.max(this.chunkSize, this.maxPacket), this.fileSize - next);
      const headroom = Math.min(this.maxPacket, this.chunkSize);
      const pbuf = Buffer.allocUnsafe(headroom + len);
      const data = this.readInto(pbuf, headroom, next, len);
      data.catch(() => undefined); // a failed read-ahead is reported when (if) its bytes are needed
      this.prefetch = { start: next, buf: pbuf, headroom, data };
    }
  }

  private async refreshSize(): Promise<void> {
    this.fileSize = (await this.fh!.stat()).size;
  }

  /**
   * Decodes the next packet's header and context and positions the cursor on its first event.
   * Returns false at end of stream.
   */
  async loadPacket(): Promise<boolean> {
    for (;;) {
      const off = this.next;
      if (off >= this.fileSize) {
        if (this.mode.follow) await this.refreshSize();
        if (off >= this.fileSize) { this.done = true; return false; }
      }
      try {
        if (await this.beginPacket(off)) return true;
      } catch (e) {
        if (!(e instanceof TraceError) || !this.mode.lenient) throw e;
        this.counts.skippedPackets++;
        // Resume after this packet when its size is known, else give up on the stream.
        const size = this.c.packetSize > 0 ? this.c.packetSize / 8 : 0;
        if (size <= 0 || off + size > this.fileSize) {
          this.counts.skippedBytes += this.fileSize - off;
          this.done = true;
          return false;
        }
        this.counts.skippedBytes += size;
        this.next = off + size;
      }
    }
  }

  /** Returns true when a packet with events (or an empty one to skip) was opened at `off`. */
  private async beginPacket(off: number): Promise<boolean> {
    const c = this.c;
    const remaining = this.fileSize - off;
    await this.ensure(off, Math.min(remaining, 4096));
    // Decode header + context on a view of what we have; re-read if they need more.
    let headerBytes = Math.min(this.chunk.length - (off - this.chunkStart), remaining);
    for (;;) {
      c.setBuffer(this.chunk.subarray(off - this.chunkStart, off - this.chunkStart + headerBytes), off, this.file);
      c.contentSize = -1; c.packetSize = -1; c.streamClassId = -1; c.streamInstanceId = -1; c.discarded = -1;
      c.magic = -1; c.uuid = undefined;
      try {
        this.decodePacketPreamble();
        break;
      } catch (e) {
        if (e instanceof TraceError && headerBytes < remaining) {
          headerBytes = Math.min(remaining, headerBytes * 4);
          await this.ensure(off, headerBytes);
          continue;
        }
        throw e;
      }
    }
    const packetBytes = c.packetSize >= 0 ? Math.ceil(c.packetSize / 8) : remaining;
    const contentBits = c.contentSize >= 0 ? c.contentSize : packetBytes * 8;
    if (c.packetSize >= 0 && c.packetSize % 8 !== 0) throw c.error(`packet size ${c.packetSize} bits is not a whole number of bytes`, 0);
    if (contentBits > packetBytes * 8) throw c.error(`packet content size (${contentBits} bits) exceeds packet size (${packetBytes * 8} bits)`, 0);
    if (packetBytes === 0) throw c.error('packet of size 0', 0);
    if (off + packetBytes > this.fileSize) {
      if (this.mode.follow) {
        // The tracer is still writing this packet: wait for it.
        while (off + packetBytes > this.fileSize) {
          await new Promise((r) => setTimeout(r, 200));
          await this.refreshSize();
        }
      } else {
        throw c.error(`packet declares ${packetBytes} bytes but the file ends ${this.fileSize - off} bytes after its start`, 0);
      }
    }
    const preambleEnd = c.pos;
    if (packetBytes > this.maxPacket) this.maxPacket = packetBytes;
    await this.ensure(off, packetBytes);
    c.setBuffer(this.chunk.subarray(off - this.chunkStart, off - this.chunkStart + packetBytes), off, this.file);
    c.pos = preambleEnd;
    c.end = contentBits;
    this.next = off + packetBytes;
    this.counts.packets++;
    if (c.discarded >= 0) {
      if (this.prevDiscarded >= 0 && c.discarded > this.prevDiscarded) this.counts.lost += c.discarded - this.prevDiscarded;
      else if (this.prevDiscarded < 0) this.counts.lost += c.discarded;
      this.prevDiscarded = c.discarded;
    }
    this.packetOpen = true;
    return true;
  }

  private decodePacketPreamble(): void {
    const c = this.c;
    const t = this.trace;
    for (const k in c.scopes) delete c.scopes[k as Scope];
    if (t.packetHeader) {
      t.packetHeader(c);
      if (c.magic !== -1 && c.magic !== CTF_MAGIC) {
        throw c.error(`bad packet magic 0x${c.magic.toString(16)} (expected 0xc1fc1fc1)`, 0);
      }
      if (c.uuid && t.cls.uuid && formatUuid(c.uuid) !== t.cls.uuid.toLowerCase()) {
        throw c.error(`packet UUID ${formatUuid(c.uuid)} differs from the metadata's ${t.cls.uuid}`, 0);
      }
    }
    const scId = c.streamClassId >= 0 ? c.streamClassId : t.streams.size === 1 ? [...t.streams.keys()][0]! : 0;
    const stream = t.streams.get(scId);
    if (!stream) throw c.error(`packet names stream class ${scId}, which the metadata does not declare`, 0);
    this.stream = stream;
    this.streamClass = t.cls.streams.get(scId);
    this.clock = t.clocks.get(scId);
    this.instanceId = c.streamInstanceId;
    c.clockSet = false;
    this.packetContext = stream.packetContext ? (stream.packetContext(c) as Record<string, unknown>) : undefined;
    // TSDL packet contexts name the beginning timestamp; a partial event-header timestamp extends from it.
    const begin = this.packetContext?.['timestamp_begin'];
    if (!c.clockSet && (typeof begin === 'number' || typeof begin === 'bigint')) c.updateClock(begin, 64);
  }

  /** Decodes the next event of the open packet, or returns undefined at the end of the packet. */
  nextEvent(): CtfEventRecord | undefined {
    const c = this.c;
    if (!this.packetOpen) return undefined;
    // Padding smaller than the smallest header means the packet is over.
    if (c.pos >= c.end) { this.packetOpen = false; return undefined; }
    const stream = this.stream!;
    const start = c.pos;
    try {
      c.eventId = -1;
      const header = stream.header ? (stream.header(c) as Record<string, unknown>) : undefined;
      const commonContext = stream.commonContext ? (stream.commonContext(c) as Record<string, unknown>) : undefined;
      let id = c.eventId;
      if (id < 0) id = stream.events.size === 1 ? [...stream.events.keys()][0]! : 0;
      const ev = stream.events.get(id);
      if (!ev) throw c.error(`unknown event class id ${id} in stream class ${this.streamClass!.id}`, start);
      const dec = ev.compiled ?? (ev.compiled = ev.decoders());
      const specificContext = dec.context ? (dec.context(c) as Record<string, unknown>) : undefined;
      const payload = dec.payload ? (dec.payload(c) as Record<string, unknown>) : undefined;
      if (c.pos > c.end) throw c.error(`event '${ev.cls.name}' extends past the packet content`, start);
      // An event that occupies no bits would repeat forever: the metadata cannot describe this packet.
      if (c.pos === start) throw c.error(`event '${ev.cls.name}' has size zero`, start);
      this.counts.events++;
      ev.count++;
      const cycles = c.clockSet ? c.clock : -1;
      return {
        name: ev.cls.name, eventClass: ev.cls, streamClass: this.streamClass!, stream: this, cycles,
        ts: this.toNs(cycles), packetContext: this.packetContext, header, commonContext, specificContext, payload,
      };
    } catch (e) {
      if (!(e instanceof TraceError) || !this.mode.lenient) throw e;
      this.counts.skippedPackets++;
      this.counts.skippedBytes += Math.ceil((c.end - start) / 8);
      this.packetOpen = false;
      return undefined;
    }
  }

  toNs(cycles: number): bigint {
    const clk = this.clock;
    if (!clk || cycles < 0) return 0n;
    if (clk.freq === 1_000_000_000n) return clk.offsetNs + BigInt(cycles);
    return clk.offsetNs + (BigInt(cycles) * 1_000_000_000n) / clk.freq;
  }
}

function formatUuid(u: Uint8Array): string {
  const h = Buffer.from(u).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
