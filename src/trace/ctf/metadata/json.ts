/**
 * @module trace/ctf/metadata/json
 * A small JSON parser for CTF 2 metadata fragments. Unlike `JSON.parse` it keeps integers beyond 2^53 exact (as
 * bigint: enumeration ranges and clock offsets may be full 64-bit values) and records the text position of every
 * object and array, so semantic errors can name the byte offset of the offending fragment part.
 */

export type Json = null | boolean | number | bigint | string | Json[] | JsonObject;
export interface JsonObject {
  [key: string]: Json;
}

export class JsonSyntaxError extends Error {
  constructor(
    readonly pos: number,
    message: string,
  ) {
    super(message);
  }
}

const NUMBER = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;

/**
 * Parses `text[start, end)` as one JSON value; `positions` receives the UTF-16 index of every object and array.
 * Objects have no prototype, so any key (`__proto__` included) is an ordinary property.
 */
export function parseJson(text: string, start: number, end: number, positions: WeakMap<object, number>): Json {
  let i = start;
  const ws = () => {
    while (i < end) {
      const c = text.charCodeAt(i);
      if (c === 32 || c === 9 || c === 10 || c === 13) i++;
      else break;
    }
  };
  const fail = (msg: string): never => {
    throw new JsonSyntaxError(i, msg);
  };
  const found = () => (i >= end ? 'end of fragment' : JSON.stringify(text[i]));

  const str = (): string => {
    const s = i;
    i++;
    for (;;) {
      if (i >= end) {
        i = s;
        fail('unterminated string');
      }
      const c = text.charCodeAt(i);
      if (c === 34) break;
      if (c === 92) i += 2;
      else if (c < 0x20) fail('control character in string');
      else i++;
    }
    i++;
    try {
      return JSON.parse(text.slice(s, i)) as string;
    } catch {
      i = s;
      return fail('invalid escape in string');
    }
  };

  const value = (depth: number): Json => {
    if (depth > 512) fail('nesting too deep');
    ws();
    if (i >= end) fail('unexpected end of fragment, expected a value');
    const c = text[i]!;
    if (c === '{') {
      const obj = Object.create(null) as JsonObject;
      positions.set(obj, i);
      i++;
      ws();
      if (text[i] === '}') {
        i++;
        return obj;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail(`expected a property name but found ${found()}`);
        const key = str();
        ws();
        if (text[i] !== ':') fail(`expected ':' but found ${found()}`);
        i++;
        obj[key] = value(depth + 1);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return obj;
        }
        fail(`expected ',' or '}' but found ${found()}`);
      }
    }
    if (c === '[') {
      const arr: Json[] = [];
      positions.set(arr, i);
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return arr;
      }
      for (;;) {
        arr.push(value(depth + 1));
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return arr;
        }
        fail(`expected ',' or ']' but found ${found()}`);
      }
    }
    if (c === '"') return str();
    if (text.startsWith('true', i)) {
      i += 4;
      return true;
    }
    if (text.startsWith('false', i)) {
      i += 5;
      return false;
    }
    if (text.startsWith('null', i)) {
      i += 4;
      return null;
    }
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(text);
    if (m && m.index === i && i + m[0].length <= end) {
      i += m[0].length;
      if (m[1] === undefined && m[2] === undefined) {
        const n = Number(m[0]);
        return Number.isSafeInteger(n) ? n : BigInt(m[0]);
      }
      return Number(m[0]);
    }
    return fail(`unexpected ${found()}`);
  };

  const v = value(0);
  ws();
  if (i < end) fail(`unexpected ${found()} after the JSON value`);
  return v;
}

export function isObject(v: Json | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
