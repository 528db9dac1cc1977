/**
 * @module trace/strace/syntax
 * Small pure pieces of strace's text syntax used by the parser: character classes, numbers and durations, errno
 * names, the argument fields (`raw`, `fd`, `path`), quoted C strings and the process name an `execve` gives.
 */
import type { FieldValue } from '../event.js';
import { FIRST_ARG_FD } from './fdcalls.js';

export const C_SPACE = 32;
export const C_0 = 48;
export const C_9 = 57;
/** The kernel's comm holds 15 characters. */
export const COMM_LEN = 15;

export function isDigit(c: number): boolean {
  return c >= C_0 && c <= C_9;
}

export function isThreadClone(name: string, raw: string): boolean {
  return (name === 'clone' || name === 'clone3') && raw.includes('CLONE_THREAD');
}

export function validName(name: string): boolean {
  if (name.length === 0) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (!((c >= 97 && c <= 122) || (c >= C_0 && c <= C_9) || c === 95 || (c >= 65 && c <= 90))) return false;
  }
  return true;
}

export function isHex(c: number): boolean {
  return (c >= C_0 && c <= C_9) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);
}

export function twoDigits(s: string, p: number): number {
  const a = s.charCodeAt(p) - C_0;
  const b = s.charCodeAt(p + 1) - C_0;
  if (a < 0 || a > 9 || b < 0 || b > 9) return -1;
  return a * 10 + b;
}

export function toNumberIfSafe(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/**
 * The digits of a decimal fraction s[f0, q) as nanoseconds (digits past the ninth are dropped); undefined unless
 * the range is one or more digits.
 */
export function fractionNs(s: string, f0: number, q: number): number | undefined {
  let j = f0;
  let frac = 0;
  while (j < q) {
    const d = s.charCodeAt(j) - C_0;
    if (d < 0 || d > 9) return undefined;
    if (j - f0 < 9) frac = frac * 10 + d;
    j++;
  }
  if (j === f0) return undefined;
  for (let k = j - f0; k < 9; k++) frac *= 10;
  return frac;
}

/** "0.000123" (s.us) or "0.000123456" → ns; undefined unless it is exactly digits '.' digits. */
export function parseDuration(s: string, p: number, q: number): number | undefined {
  let i = p;
  let sec = 0;
  while (i < q) {
    const d = s.charCodeAt(i) - C_0;
    if (d < 0 || d > 9) break;
    sec = sec * 10 + d;
    i++;
  }
  if (i === p || i === q || s.charCodeAt(i) !== 46) return undefined;
  const frac = fractionNs(s, i + 1, q);
  return frac === undefined ? undefined : sec * 1e9 + frac;
}

/** Reads an errno name (E[A-Z0-9_]+) at p, returning it when followed by a space, "(" or the end. */
export function readErrno(s: string, p: number, end: number): string | undefined {
  if (s.charCodeAt(p) !== 69 /* E */) return undefined;
  let q = p + 1;
  while (q < end) {
    const c = s.charCodeAt(q);
    if ((c >= 65 && c <= 90) || (c >= C_0 && c <= C_9) || c === 95) q++;
    else break;
  }
  if (q < end && s.charCodeAt(q) !== C_SPACE) return undefined;
  return s.slice(p, q);
}

/** The args of an entry or a finished call: the raw text, and the first argument when it is an fd. */
export function makeArgs(name: string, raw: string): Record<string, FieldValue> {
  const args: Record<string, FieldValue> = { raw };
  const n = raw.length;
  let q = 0;
  while (q < n && isDigit(raw.charCodeAt(q))) q++;
  if (q === 0 || q > 10) return args;
  const c = q < n ? raw.charCodeAt(q) : 44;
  if (c === 60 /* < */) {
    // decorated fd: "3</etc/passwd>, ..." — the decoration ends at the '>' before ", " (or at the end)
    let g = raw.indexOf('>, ', q + 1);
    if (g < 0) {
      g = n - 1;
      while (g > q && raw.charCodeAt(g) === C_SPACE) g--;
      if (raw.charCodeAt(g) !== 62) return args;
    }
    args.fd = +raw.slice(0, q);
    args.path = raw.slice(q + 1, g);
    return args;
  }
  if ((c === 44 /* , */ || c === C_SPACE) && FIRST_ARG_FD.has(name)) args.fd = +raw.slice(0, q);
  return args;
}

/**
 * The name an exec gives the process: basename of the file path (first string argument), as the kernel's comm.
 * When strace cut the path short (`"…"...`), argv[0] is used instead if it is whole.
 */
export function execName(raw: string): string | undefined {
  const first = readCString(raw, raw.indexOf('"'));
  if (first === undefined) return undefined;
  let path = first.text;
  if (first.truncated) {
    const argv0 = readCString(raw, raw.indexOf('"', first.end));
    if (argv0 !== undefined && !argv0.truncated && raw.lastIndexOf('[', argv0.start) > first.end) path = argv0.text;
  }
  const base = path.slice(path.lastIndexOf('/') + 1);
  return base.length > COMM_LEN ? base.slice(0, COMM_LEN) : base;
}

/** Reads a strace-quoted C string starting at the quote at `p`. */
export function readCString(s: string, p: number): { text: string; start: number; end: number; truncated: boolean } | undefined {
  if (p < 0) return undefined;
  let q = p + 1;
  let escaped = false;
  const n = s.length;
  while (q < n) {
    const c = s.charCodeAt(q);
    if (c === 92 /* \ */) { escaped = true; q += 2; continue; }
    if (c === 34 /* " */) break;
    q++;
  }
  if (q >= n) return undefined;
  const body = s.slice(p + 1, q);
  return { text: escaped ? unescapeC(body) : body, start: p, end: q + 1, truncated: s.startsWith('...', q + 1) };
}

/** Undoes strace's C escapes (\n \t \" \\ \ooo \xHH); bytes are decoded as UTF-8. */
export function unescapeC(body: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < body.length; i++) {
    const c = body.charCodeAt(i);
    if (c !== 92) {
      if (c < 128) bytes.push(c);
      else for (const b of Buffer.from(body[i], 'utf8')) bytes.push(b);
      continue;
    }
    const d = body[++i];
    switch (d) {
      case 'n': bytes.push(10); break;
      case 't': bytes.push(9); break;
      case 'r': bytes.push(13); break;
      case 'v': bytes.push(11); break;
      case 'f': bytes.push(12); break;
      case 'x': {
        bytes.push(parseInt(body.slice(i + 1, i + 3), 16) & 255);
        i += 2;
        break;
      }
      default:
        if (d >= '0' && d <= '7') {
          let j = i;
          while (j < i + 3 && j < body.length && body[j] >= '0' && body[j] <= '7') j++;
          bytes.push(parseInt(body.slice(i, j), 8) & 255);
          i = j - 1;
        } else if (d !== undefined) bytes.push(d.charCodeAt(0) & 255);
    }
  }
  return Buffer.from(bytes).toString('utf8');
}
