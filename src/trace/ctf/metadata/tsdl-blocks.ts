/**
 * @module trace/ctf/metadata/tsdl-blocks
 * The top-level TSDL blocks (`trace`, `env`, `clock`, `stream`, `event`; `callsite` is ignored) and the assembly of
 * the final `TraceClass`: events attached to their streams, `native` byte orders resolved, clock maps and field
 * references checked, roles assigned.
 */
import { checkFieldRefs, normalizeUuid, smallest } from './common.js';
import { assignTsdlRoles } from './roles.js';
import { describeToken, TsdlSyntaxError, type Token } from './tsdl-lexer.js';
import { boolValue, byteOrderValue, failAt, intValue, NATIVE, smallInt, textValue, type Entry, type Pending } from './tsdl-values.js';
import type { ByteOrder, ClockClass, EventClass, FieldRef, StreamClass, StructClass, TraceClass } from '../types.js';

interface PendingEvent {
  ec: EventClass;
  streamId: number;
  tok: Token;
}

export class TraceBuilder {
  private traceByteOrder?: ByteOrder;
  private uuid?: string;
  private packetHeader?: StructClass;
  private readonly env: Record<string, string | number | bigint> = {};
  private readonly clocks = new Map<string, ClockClass>();
  private readonly streams = new Map<number, StreamClass>();
  private readonly events: PendingEvent[] = [];

  /** Applies one parsed top-level block. */
  block(kind: string, entries: Map<string, Entry>, kindTok: Token): void {
    switch (kind) {
      case 'trace':
        return this.traceBlock(entries);
      case 'env':
        return this.envBlock(entries);
      case 'clock':
        return this.clockBlock(entries, kindTok);
      case 'stream':
        return this.streamBlock(entries, kindTok);
      case 'event':
        return this.eventBlock(entries, kindTok);
      default:
        return; // callsite: informational only
    }
  }

  /** The trace class, once the whole text is parsed. `refInfo` locates each field reference for error messages. */
  finish(hint: ByteOrder | undefined, pending: Pending, refInfo: WeakMap<FieldRef, { pos: number; text: string }>): TraceClass {
    const byteOrder = this.traceByteOrder ?? hint ?? 'le';
    if (this.streams.size === 0 && this.events.length > 0) this.streams.set(0, { id: 0, events: new Map() });
    for (const { ec, streamId, tok } of this.events) {
      const sc = this.streams.get(streamId);
      if (!sc) failAt(tok, `event "${ec.name}" refers to stream ${streamId}, which is not declared`);
      if (sc.events.has(ec.id)) failAt(tok, `duplicate event id ${ec.id} in stream ${streamId}`);
      sc.events.set(ec.id, ec);
    }
    const tc: TraceClass = {
      version: '1.8',
      byteOrder,
      env: this.env,
      clocks: this.clocks,
      streams: new Map([...this.streams.entries()].sort((a, b) => a[0] - b[0])),
    };
    if (this.uuid !== undefined) tc.uuid = this.uuid;
    if (this.packetHeader) tc.packetHeader = this.packetHeader;

    for (const x of pending.natives) if (x.byteOrder === NATIVE) x.byteOrder = byteOrder;
    for (const { clock, tok } of pending.clockMaps) {
      if (!this.clocks.has(clock)) failAt(tok, `integer mapped to unknown clock '${clock}'`);
    }
    checkFieldRefs(tc, (ref, reason) => {
      const info = refInfo.get(ref);
      throw new TsdlSyntaxError(info?.pos ?? 0, `${reason} (in reference "${info?.text ?? ref.path.join('.')}")`);
    });
    assignTsdlRoles(tc);
    return tc;
  }

  private rootStruct(e: Entry | undefined, what: string): StructClass | undefined {
    if (!e) return undefined;
    if (!e.type) failAt(e.tok, `${what} must be assigned a type with ':='`);
    if (e.type.kind !== 'struct') failAt(e.tok, `${what} must be a structure, not a ${e.type.kind}`);
    return e.type;
  }

  private traceBlock(entries: Map<string, Entry>): void {
    for (const [key, e] of entries) {
      const v = e.value;
      if (key === 'packet.header') {
        this.packetHeader = this.rootStruct(e, 'packet.header');
        continue;
      }
      if (!v) continue;
      switch (key) {
        case 'major':
          if (intValue(v, 'major') !== 1n) failAt(v.tok, `unsupported CTF major version ${intValue(v, 'major')}`);
          break;
        case 'uuid': {
          const u = normalizeUuid(textValue(v, 'uuid'));
          if (!u) failAt(v.tok, `invalid trace uuid ${describeToken(v.tok)}`);
          this.uuid = u;
          break;
        }
        case 'byte_order': {
          const bo = byteOrderValue(v);
          if (bo === NATIVE) failAt(v.tok, "the trace byte_order must be 'le' or 'be', not 'native'");
          this.traceByteOrder = bo;
          break;
        }
      }
    }
  }

  private envBlock(entries: Map<string, Entry>): void {
    for (const [key, e] of entries) {
      if (!e.value) continue;
      this.env[key] = e.value.kind !== 'int' ? e.value.s : typeof e.value.n === 'bigint' ? smallest(e.value.n) : e.value.n;
    }
  }

  private clockBlock(entries: Map<string, Entry>, blockTok: Token): void {
    const get = (k: string) => entries.get(k)?.value;
    const nameV = get('name');
    if (!nameV) failAt(blockTok, 'clock block without a name');
    const name = textValue(nameV, 'clock name');
    const freqV = get('freq');
    const freq = freqV ? intValue(freqV, 'clock freq') : 1_000_000_000n;
    if (freq <= 0n) failAt(freqV!.tok, 'clock freq must be positive');
    const offS = get('offset_s');
    const off = get('offset');
    const absV = get('absolute');
    const clock: ClockClass = {
      name,
      freq,
      offsetSeconds: offS ? intValue(offS, 'clock offset_s') : 0n,
      offsetCycles: off ? intValue(off, 'clock offset') : 0n,
      originIsUnixEpoch: false,
    };
    // CTF 1.8 defines offset_s/offset from the Epoch; a zero offset without `absolute = true` (perf) is a clock
    // whose values are only meaningful relative to each other.
    clock.originIsUnixEpoch =
      (absV ? boolValue(absV, 'clock absolute') : false) || clock.offsetSeconds !== 0n || clock.offsetCycles !== 0n;
    const descr = get('description');
    if (descr) clock.description = textValue(descr, 'clock description');
    this.clocks.set(name, clock);
  }

  private streamBlock(entries: Map<string, Entry>, blockTok: Token): void {
    const idV = entries.get('id')?.value;
    const id = idV ? smallInt(idV, 'stream id', 0, Number.MAX_SAFE_INTEGER) : 0;
    if (this.streams.has(id)) failAt(blockTok, `duplicate stream id ${id}`);
    const sc: StreamClass = { id, events: new Map() };
    const pc = this.rootStruct(entries.get('packet.context'), 'packet.context');
    const eh = this.rootStruct(entries.get('event.header'), 'event.header');
    const ec = this.rootStruct(entries.get('event.context'), 'event.context');
    if (pc) sc.packetContext = pc;
    if (eh) sc.eventHeader = eh;
    if (ec) sc.eventCommonContext = ec;
    this.streams.set(id, sc);
  }

  private eventBlock(entries: Map<string, Entry>, blockTok: Token): void {
    const get = (k: string) => entries.get(k)?.value;
    const nameV = get('name');
    const idV = get('id');
    const sidV = get('stream_id');
    const llV = get('loglevel');
    const ec: EventClass = {
      id: idV ? smallInt(idV, 'event id', 0, Number.MAX_SAFE_INTEGER) : 0,
      name: nameV ? textValue(nameV, 'event name') : '',
    };
    if (llV) ec.loglevel = smallInt(llV, 'loglevel', -(2 ** 31), 2 ** 31);
    const ctx = this.rootStruct(entries.get('context'), 'event context');
    const fields = this.rootStruct(entries.get('fields'), 'event fields');
    if (ctx) ec.context = ctx;
    if (fields) ec.payload = fields;
    const streamId = sidV ? smallInt(sidV, 'stream_id', 0, Number.MAX_SAFE_INTEGER) : 0;
    this.events.push({ ec, streamId, tok: nameV?.tok ?? blockTok });
  }
}
