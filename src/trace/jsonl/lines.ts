/**
 * @module trace/jsonl/lines
 * Line splitting for the text sources (JSONL, strace): reads a byte stream in large chunks, decodes UTF-8 across
 * chunk boundaries, and yields the lines of each chunk as one batch, so a reader pays one `await` per chunk rather
 * than per line. Memory is bounded by the chunk size plus the longest line; a line longer than `maxLineLength`
 * is not accumulated: it comes out as `null` (so line numbers stay right) and the caller reports or skips it.
 * A trailing `\r` is removed (CRLF files); a final line without `\n` is still yielded.
 */
import { createReadStream } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import type { Readable } from 'node:stream';
import { TraceError } from '../errors.js';

/** Lines longer than this (UTF-16 code units) come out as `null`. */
export const DEFAULT_MAX_LINE = 64 * 1024 * 1024;

/** A line, or `null` for a line over the length limit. */
export type Line = string | null;

/** Passes `input` through, turning a read failure (a missing file, EISDIR…) into a TraceError naming the file. */
async function* readOrFail<T>(input: AsyncIterable<T>, file: string, at: () => number): AsyncGenerator<T> {
  try {
    yield* input;
  } catch (e) {
    if (e instanceof TraceError) throw e;
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'no such file or directory' : err.message;
    throw new TraceError(file, at(), `cannot read: ${why}`);
  }
}

/** Opens `path` (or stdin for '-') for reading in 1 MiB chunks. */
export function openText(path: string): Readable {
  if (path === '-') return process.stdin;
  return createReadStream(path, { highWaterMark: 1 << 20 });
}

/**
 * Yields the lines of `input` in batches (one batch per chunk that completes at least one line).
 * The consumer must not keep the batch array: it is reused.
 */
export async function* readLines(input: AsyncIterable<Buffer | string>, file: string, maxLineLength = DEFAULT_MAX_LINE): AsyncGenerator<Line[]> {
  const decoder = new StringDecoder('utf8');
  let bytes = 0;
  let carry = '';
  let overlong = false; // the current (unfinished) line has passed the limit and is being dropped
  const batch: Line[] = [];
  for await (const chunk of readOrFail(input, file, () => bytes)) {
    bytes += chunk.length;
    const text = typeof chunk === 'string' ? chunk : decoder.write(chunk);
    if (text.length === 0) continue;
    let start = 0;
    let nl = text.indexOf('\n');
    if (nl < 0) {
      // No line ends in this chunk: accumulate (or keep dropping).
      if (!overlong) {
        carry += text;
        if (carry.length > maxLineLength) { overlong = true; carry = ''; }
      }
      continue;
    }
    batch.length = 0;
    while (nl >= 0) {
      if (overlong) {
        batch.push(null);
        overlong = false;
      } else {
        let line = carry.length > 0 ? carry + text.slice(start, nl) : text.slice(start, nl);
        carry = '';
        if (line.length > maxLineLength) batch.push(null);
        else {
          if (line.charCodeAt(line.length - 1) === 13) line = line.slice(0, -1);
          batch.push(line);
        }
      }
      start = nl + 1;
      nl = text.indexOf('\n', start);
    }
    if (start < text.length && !overlong) {
      carry = text.slice(start);
      if (carry.length > maxLineLength) { overlong = true; carry = ''; }
    }
    yield batch;
  }
  const rest = carry + decoder.end();
  batch.length = 0;
  if (overlong) batch.push(null);
  else if (rest.length > 0) {
    if (rest.length > maxLineLength) batch.push(null);
    else batch.push(rest.charCodeAt(rest.length - 1) === 13 ? rest.slice(0, -1) : rest);
  }
  if (batch.length > 0) yield batch;
}

/**
 * Turns a generator of event batches into a per-event async iterator without a generator step per event: `next()`
 * answers from the current batch with an already-resolved promise and only awaits the producer between batches.
 * `return()` (a consumer's `break`) closes the producer, so its `finally` releases the input.
 * The producer must yield a fresh array each time (the consumer reads it after the producer has moved on).
 */
export function flattenBatches<T>(batches: AsyncGenerator<T[], void, undefined>): AsyncIterator<T> {
  let buf: T[] = [];
  let i = 0;
  let finished = false;
  const fill = async (): Promise<IteratorResult<T>> => {
    while (!finished) {
      const r = await batches.next();
      if (r.done) break;
      if (r.value.length > 0) {
        buf = r.value;
        i = 1;
        return { value: buf[0], done: false };
      }
    }
    finished = true;
    buf = [];
    return { value: undefined, done: true };
  };
  return {
    next(): Promise<IteratorResult<T>> {
      if (i < buf.length) return Promise.resolve({ value: buf[i++], done: false });
      return fill();
    },
    async return(): Promise<IteratorResult<T>> {
      finished = true;
      buf = [];
      await batches.return(undefined);
      return { value: undefined, done: true };
    },
  };
}
