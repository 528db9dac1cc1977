/**
 * @module trace/ctf/metadata/ctf2-tables
 * CTF 2 names and small helpers of the CTF 2 front end: field-location origins → scopes, role names → the model's
 * roles, babeltrace log-level names → LTTng log levels, and the trace byte order CTF 2 leaves implicit.
 */
import type { ByteOrder, FieldClass, Role, Scope, StructClass, TraceClass } from '../types.js';
import { isObject, type Json } from './json.js';

export const ORIGINS: Record<string, Scope> = {
  'packet-header': 'packet.header',
  'packet-context': 'packet.context',
  'event-record-header': 'event.header',
  'event-record-common-context': 'event.common-context',
  'event-record-specific-context': 'event.specific-context',
  'event-record-payload': 'event.payload',
};

export const ROLES: Record<string, Role> = {
  'packet-magic-number': 'packet-magic-number',
  'metadata-stream-uuid': 'metadata-stream-uuid',
  'data-stream-class-id': 'data-stream-class-id',
  'data-stream-id': 'data-stream-id',
  'packet-content-length': 'packet-content-size',
  'packet-content-size': 'packet-content-size',
  'packet-total-length': 'packet-total-size',
  'packet-total-size': 'packet-total-size',
  'default-clock-timestamp': 'default-clock-timestamp',
  'packet-end-default-clock-timestamp': 'packet-end-default-clock-timestamp',
  'discarded-event-record-counter-snapshot': 'discarded-event-record-counter-snapshot',
  'packet-sequence-number': 'packet-sequence-number',
  'event-record-class-id': 'event-record-class-id',
};

/** Babeltrace's log-level attribute names → LTTng log level numbers. */
export const LOG_LEVELS: Record<string, number> = {
  emergency: 0,
  alert: 1,
  critical: 2,
  error: 3,
  warning: 4,
  notice: 5,
  info: 6,
  'debug:system': 7,
  'debug:program': 8,
  'debug:process': 9,
  'debug:module': 10,
  'debug:unit': 11,
  'debug:function': 12,
  'debug:line': 13,
  debug: 14,
};

/** The log level of an event record class from its (user) attributes, whatever the namespace. */
export function logLevelOf(attrs: Json | undefined): number | undefined {
  if (!isObject(attrs)) return undefined;
  for (const ns of Object.values(attrs)) {
    if (!isObject(ns)) continue;
    const ll = ns['log-level'];
    if (typeof ll === 'number' && Number.isInteger(ll)) return ll;
    if (typeof ll === 'string' && LOG_LEVELS[ll] !== undefined) return LOG_LEVELS[ll];
  }
  return undefined;
}

/** The byte order of the first fixed-length field (packet header first): CTF 2 has no trace-wide byte order. */
export function traceByteOrder(tc: TraceClass): ByteOrder | undefined {
  const find = (fc: FieldClass | undefined): ByteOrder | undefined => {
    if (!fc) return undefined;
    switch (fc.kind) {
      case 'int':
      case 'float':
      case 'bool':
        return fc.byteOrder;
      case 'enum':
        return fc.container.kind === 'int' ? fc.container.byteOrder : undefined;
      case 'array':
        return find(fc.element);
      case 'optional':
        return find(fc.type);
      case 'struct':
        for (const m of fc.members) {
          const b = find(m.type);
          if (b) return b;
        }
        return undefined;
      case 'variant':
        for (const o of fc.options) {
          const b = find(o.type);
          if (b) return b;
        }
        return undefined;
      default:
        return undefined;
    }
  };
  const roots: Array<StructClass | undefined> = [tc.packetHeader];
  for (const sc of tc.streams.values()) {
    roots.push(sc.packetContext, sc.eventHeader, sc.eventCommonContext);
    for (const ec of sc.events.values()) roots.push(ec.context, ec.payload);
  }
  for (const r of roots) {
    const b = find(r);
    if (b) return b;
  }
  return undefined;
}
