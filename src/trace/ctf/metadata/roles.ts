/**
 * @module trace/ctf/metadata/roles
 * TSDL has no roles: CTF 1.8 gives meaning to reserved member names. This assigns the CTF 2 roles the decoder acts
 * on, by member name and scope, exactly as the `Role` doc comment of `types.ts` lists them. Classes are copied before
 * a role is added, so typealiases shared between scopes (LTTng's `uint64_clock_monotonic_t` is both a packet-context
 * and an event-header type) are never mutated.
 */
import type { ArrayClass, FieldClass, Role, StreamClass, StructClass, TraceClass } from '../types.js';

const PACKET_HEADER_ROLES: Record<string, Role> = {
  magic: 'packet-magic-number',
  uuid: 'metadata-stream-uuid',
  stream_id: 'data-stream-class-id',
  stream_instance_id: 'data-stream-id',
};

const PACKET_CONTEXT_ROLES: Record<string, Role> = {
  content_size: 'packet-content-size',
  packet_size: 'packet-total-size',
  timestamp_begin: 'default-clock-timestamp',
  timestamp_end: 'packet-end-default-clock-timestamp',
  events_discarded: 'discarded-event-record-counter-snapshot',
  packet_seq_num: 'packet-sequence-number',
};

function addRoles<T extends { roles?: Role[] }>(x: T, role: Role): T {
  const roles = x.roles ?? [];
  return roles.includes(role) ? x : { ...x, roles: [...roles, role] };
}

/** The class with `role` added (a copy), or undefined when the class cannot carry an integer role. */
function withIntRole(fc: FieldClass, role: Role): FieldClass | undefined {
  switch (fc.kind) {
    case 'int':
    case 'varint':
      return addRoles(fc, role);
    case 'enum':
      return { ...fc, container: addRoles(fc.container, role) };
    default:
      return undefined;
  }
}

function isUuidArray(fc: FieldClass): fc is ArrayClass {
  return fc.kind === 'array' && fc.length === 16 && fc.element.kind === 'int' && fc.element.size === 8;
}

function topLevelRoles(st: StructClass, table: Record<string, Role>): StructClass {
  let changed = false;
  const members = st.members.map((m) => {
    const role = Object.prototype.hasOwnProperty.call(table, m.name) ? table[m.name] : undefined;
    if (!role) return m;
    let type: FieldClass | undefined;
    if (role === 'metadata-stream-uuid') {
      if (isUuidArray(m.type)) type = addRoles(m.type, role);
      else if (m.type.kind === 'blob') type = addRoles(m.type, role);
    } else {
      type = withIntRole(m.type, role);
    }
    if (!type) return m;
    changed = true;
    return { name: m.name, type };
  });
  return changed ? { ...st, members } : st;
}

function mappedClockOf(fc: FieldClass): string | undefined {
  if (fc.kind === 'int' || fc.kind === 'varint') return fc.mappedClock;
  if (fc.kind === 'enum') return fc.container.mappedClock;
  return undefined;
}

/** Event-header roles at any depth: `id`, `timestamp`, and any integer mapped to a clock. */
function headerRoles(fc: FieldClass, name: string | undefined): FieldClass {
  switch (fc.kind) {
    case 'struct':
      return { ...fc, members: fc.members.map((m) => ({ name: m.name, type: headerRoles(m.type, m.name) })) };
    case 'variant':
      return { ...fc, options: fc.options.map((o) => ({ ...o, type: headerRoles(o.type, undefined) })) };
    case 'int':
    case 'varint':
    case 'enum': {
      let out: FieldClass = fc;
      if (name === 'id') out = withIntRole(out, 'event-record-class-id')!;
      if (name === 'timestamp' || mappedClockOf(fc) !== undefined) out = withIntRole(out, 'default-clock-timestamp')!;
      return out;
    }
    default:
      return fc;
  }
}

/** The clock of the first event-header field with the default-clock-timestamp role and a mapped clock. */
function findHeaderClock(fc: FieldClass): string | undefined {
  switch (fc.kind) {
    case 'struct':
      for (const m of fc.members) {
        const c = findHeaderClock(m.type);
        if (c !== undefined) return c;
      }
      return undefined;
    case 'variant':
      for (const o of fc.options) {
        const c = findHeaderClock(o.type);
        if (c !== undefined) return c;
      }
      return undefined;
    case 'int':
    case 'varint':
    case 'enum': {
      const roles = fc.kind === 'enum' ? fc.container.roles : fc.roles;
      return roles?.includes('default-clock-timestamp') ? mappedClockOf(fc) : undefined;
    }
    default:
      return undefined;
  }
}

function streamDefaultClock(sc: StreamClass, tc: TraceClass): string | undefined {
  const fromHeader = sc.eventHeader && findHeaderClock(sc.eventHeader);
  if (fromHeader !== undefined) return fromHeader;
  const begin = sc.packetContext?.members.find((m) => m.name === 'timestamp_begin');
  const fromContext = begin && mappedClockOf(begin.type);
  if (fromContext !== undefined) return fromContext;
  if (tc.clocks.size === 1) return [...tc.clocks.keys()][0];
  return undefined;
}

/** Assigns roles in place on the trace's root structures (replacing them with role-carrying copies). */
export function assignTsdlRoles(tc: TraceClass): void {
  if (tc.packetHeader) tc.packetHeader = topLevelRoles(tc.packetHeader, PACKET_HEADER_ROLES);
  for (const sc of tc.streams.values()) {
    if (sc.packetContext) sc.packetContext = topLevelRoles(sc.packetContext, PACKET_CONTEXT_ROLES);
    if (sc.eventHeader) sc.eventHeader = headerRoles(sc.eventHeader, undefined) as StructClass;
    const clock = streamDefaultClock(sc, tc);
    if (clock !== undefined) sc.defaultClock = clock;
  }
}
