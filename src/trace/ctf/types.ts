/**
 * @module trace/ctf/types
 * The CTF type model shared by both metadata front ends (TSDL for CTF 1.8, JSON fragments for CTF 2) and the
 * binary decoder. The front ends produce a `TraceClass`; the decoder only ever sees these shapes.
 */

export type ByteOrder = 'le' | 'be';

/** Fixed-size integer: any bit size 1..64, any alignment (bits). */
export interface IntClass {
  kind: 'int';
  size: number;
  align: number;
  signed: boolean;
  byteOrder: ByteOrder;
  /** Preferred display base: 2, 8, 10 or 16. */
  base: number;
  /** A character encoding makes arrays/sequences of 8-bit ints strings (TSDL `encoding = UTF8`). */
  encoding: 'none' | 'utf8';
  /** Name of the clock this integer maps to (`map = clock.monotonic.value`, CTF 2 role `default-clock-timestamp`). */
  mappedClock?: string;
  /** What the decoder must do with the value (see `Role`). */
  roles?: Role[];
}

/**
 * Field roles, named as in CTF 2. The CTF 2 front end copies them from the metadata; the TSDL front end assigns them
 * by member name and scope (packet header `magic`, `uuid`, `stream_id`, `stream_instance_id`; packet context
 * `content_size`, `packet_size`, `timestamp_begin`, `timestamp_end`, `events_discarded`, `packet_seq_num`; event
 * header `id` and `timestamp` at any depth — e.g. inside LTTng's compact/extended variant — and any event-header
 * integer mapped to a clock). The decoder acts on roles only, so both front ends feed it the same way. When a role
 * occurs twice in one scope (LTTng's compact header: outer `id` = 31, inner extended `id`), the last value decoded wins.
 */
export type Role =
  | 'packet-magic-number'
  | 'metadata-stream-uuid'
  | 'data-stream-class-id'
  | 'data-stream-id'
  | 'packet-content-size'
  | 'packet-total-size'
  | 'default-clock-timestamp'
  | 'packet-end-default-clock-timestamp'
  | 'discarded-event-record-counter-snapshot'
  | 'packet-sequence-number'
  | 'event-record-class-id';

/** CTF 2 variable-length integer (unsigned or signed LEB128), always byte-aligned. */
export interface VarIntClass {
  kind: 'varint';
  signed: boolean;
  base: number;
  mappedClock?: string;
  roles?: Role[];
}

/** One mapping of an enumeration: a label and the inclusive ranges of the container value it covers. */
export interface EnumMapping {
  label: string;
  ranges: Array<[bigint, bigint]>;
}

export interface EnumClass {
  kind: 'enum';
  container: IntClass | VarIntClass;
  mappings: EnumMapping[];
}

export interface FloatClass {
  kind: 'float';
  /** Total bits: 32 or 64 (TSDL exp_dig + mant_dig). */
  size: 32 | 64;
  align: number;
  byteOrder: ByteOrder;
}

/** Null-terminated string. */
export interface StringClass {
  kind: 'string';
}

/** CTF 2 `static-length-string` / `dynamic-length-string`: a byte run of known length decoded up to its first NUL. */
export interface BlobStringClass {
  kind: 'bstring';
  /** Fixed length in bytes, or a reference to an earlier integer field that holds it. */
  length: number | FieldRef;
}

/** CTF 2 BLOB (static- or dynamic-length byte array), decoded as a Uint8Array. */
export interface BlobClass {
  kind: 'blob';
  length: number | FieldRef;
  /** `metadata-stream-uuid` on the packet header's UUID. */
  roles?: Role[];
}

export interface ArrayClass {
  kind: 'array';
  /** Fixed length, or a reference to an earlier integer field (a TSDL sequence / CTF 2 dynamic-length array). */
  length: number | FieldRef;
  element: FieldClass;
  /** Minimum alignment of the array itself in bits (CTF 2 `minimum-alignment`); elements keep their own. */
  align: number;
  /** `metadata-stream-uuid` on TSDL's `uint8_t uuid[16]` packet-header member. */
  roles?: Role[];
}

export interface StructMember {
  name: string;
  type: FieldClass;
}

export interface StructClass {
  kind: 'struct';
  /** Alignment in bits: the maximum of the members' alignments and any explicit `align(N)`. */
  align: number;
  members: StructMember[];
}

export interface VariantOption {
  /** The option's name: with TSDL it is also the enum label that selects it. */
  name: string;
  type: FieldClass;
  /** CTF 2: the selector values that pick this option. Absent with TSDL (selected by the tag's enum label). */
  ranges?: Array<[bigint, bigint]>;
}

export interface VariantClass {
  kind: 'variant';
  /** The tag (TSDL, an enum field) or selector (CTF 2, an integer or enum field). */
  tag: FieldRef;
  options: VariantOption[];
}

/** CTF 2 optional: present when a boolean/integer selector says so. */
export interface OptionalClass {
  kind: 'optional';
  selector: FieldRef;
  /** For integer selectors, the values that mean "present"; absent for boolean selectors (present when non-zero). */
  ranges?: Array<[bigint, bigint]>;
  type: FieldClass;
}

/** CTF 2 fixed-length boolean. */
export interface BoolClass {
  kind: 'bool';
  size: number;
  align: number;
  byteOrder: ByteOrder;
}

export type FieldClass =
  | IntClass
  | VarIntClass
  | EnumClass
  | FloatClass
  | StringClass
  | BlobStringClass
  | BlobClass
  | ArrayClass
  | StructClass
  | VariantClass
  | OptionalClass
  | BoolClass;

/** The root scopes a field reference may start from. */
export type Scope =
  | 'packet.header'
  | 'packet.context'
  | 'event.header'
  | 'event.common-context'
  | 'event.specific-context'
  | 'event.payload';

/**
 * A reference to an earlier field (sequence length, variant tag, optional selector).
 * - `absolute`: from a root scope (TSDL `stream.event.context.x`, CTF 2 `origin`).
 * - `relative`: TSDL relative path (`len`, `x.y`): looked up from the innermost enclosing structure outwards, then in
 *   the enclosing root scopes, the way babeltrace does.
 */
export type FieldRef =
  | { kind: 'absolute'; scope: Scope; path: string[] }
  | { kind: 'relative'; path: string[] };

export interface ClockClass {
  name: string;
  /** Ticks per second. */
  freq: bigint;
  /** Offset of the clock's origin from the Unix epoch: seconds + cycles (in this clock's ticks). */
  offsetSeconds: bigint;
  offsetCycles: bigint;
  /** False when the clock's origin is not the Unix epoch (then timestamps are only relative). */
  originIsUnixEpoch: boolean;
  description?: string;
}

export interface EventClass {
  /** Event class id within its stream; 0 when the stream has only one event class and no id field. */
  id: number;
  name: string;
  loglevel?: number;
  /** Event-specific context (TSDL `event { context := ... }`). */
  context?: StructClass;
  payload?: StructClass;
}

export interface StreamClass {
  id: number;
  packetContext?: StructClass;
  eventHeader?: StructClass;
  /** Context common to every event of the stream (TSDL `stream { event.context := ... }`). */
  eventCommonContext?: StructClass;
  /** The clock that event-header timestamps map to, when known. */
  defaultClock?: string;
  events: Map<number, EventClass>;
}

export interface TraceClass {
  /** 'ctf1.8' or 'ctf2' — which front end produced this. */
  version: '1.8' | '2';
  byteOrder: ByteOrder;
  uuid?: string;
  packetHeader?: StructClass;
  /** Trace environment (`env { hostname = "x"; domain = "kernel"; ... }`). */
  env: Record<string, string | number | bigint>;
  clocks: Map<string, ClockClass>;
  streams: Map<number, StreamClass>;
}
