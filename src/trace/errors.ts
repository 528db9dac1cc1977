/**
 * @module trace/errors
 * The one error type for bad input: it names the file and the byte offset (or line), and the CLI prints it on one
 * line with exit code 2. `TracerError`: a tracer that `watch` starts (strace, perf) could not start or failed before
 * giving any event — said in one line, exit code 2 too.
 */

export class TraceError extends Error {
  constructor(
    readonly file: string,
    /** Byte offset in `file`, or -1 when a line is given instead. */
    readonly offset: number,
    readonly reason: string,
    /** 1-based line number for text formats. */
    readonly line?: number,
  ) {
    super(`${file}:${line !== undefined ? `line ${line}` : `byte ${offset}`}: ${reason}`);
    this.name = 'TraceError';
  }
}

export function isTraceError(e: unknown): e is TraceError {
  return e instanceof TraceError;
}

/** A tracer (strace, perf) that could not start or failed before giving events; the message says why and how to fix it. */
export class TracerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TracerError';
  }
}
