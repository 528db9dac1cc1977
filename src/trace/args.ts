/**
 * @module trace/args
 * Syscall arguments out of decoded CTF payloads, shared by the LTTng and perf interpreters.
 */
import { NO_ARGS, type FieldValue } from './event.js';

/**
 * A function that copies the named members of a payload into a new object literal. Generated once per event class
 * so that every event of the class gets one object of one shape, without a per-field loop (keys are JSON-quoted).
 */
export function argsCopier(names: readonly string[]): (p: Record<string, unknown>) => Record<string, FieldValue> {
  if (names.length === 0) return () => NO_ARGS as Record<string, FieldValue>;
  const body = `return { ${names.map((n) => `${JSON.stringify(n)}: p[${JSON.stringify(n)}]`).join(', ')} };`;
  return names.includes('__proto__')
    ? (p) => Object.fromEntries(names.map((n) => [n, p[n]])) as Record<string, FieldValue>
    : new Function('p', body) as (p: Record<string, unknown>) => Record<string, FieldValue>;
}
