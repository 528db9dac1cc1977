/**
 * @module trace/live/sources
 * Where `watch` reads events from, live:
 * - a recorded trace file or folder (any format `openTrace` reads), read as fast as it can be;
 * - stdin (`--input -`): the project's JSONL (e.g. `convert … -o -`) or strace text, told apart on the first bytes
 *   (not gzipped: the JSONL reader decompresses files only);
 * - strace, started by us: `strace -f -yy -ttt -T -p PID` (attach) or `strace … -- command…` (start), its trace
 *   piped straight into the strace parser (`-o '|cat >&3'`: strace's output command writes into our pipe on fd 3,
 *   so the traced command's own stdout/stderr stay separate; no temporary file).
 * Each source is a `SyscallSource` (counts final once iteration ends) with `stop()`, which ends it early (detaches
 * strace, closes stdin) so that the iteration ends cleanly.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import { TraceError, TracerError } from '../errors.js';
import { emptyCounts, type PairingMode, type ReaderCounts, type SyscallEvent, type SyscallSource } from '../event.js';
import { flattenBatches, readLines } from '../jsonl/lines.js';
import { openJsonl, looksLikeJsonl, isGzip } from '../jsonl/jsonl.js';
import { openTrace } from '../open.js';
import { looksLikeStrace, openStrace, StraceParser } from '../strace/strace.js';

export interface LiveSource extends SyscallSource {
  /** Ends the source early; iteration then ends (what was read is kept). */
  stop(): void;
}

/** A recorded trace (file or folder). */
export async function fileSource(path: string, pairing: PairingMode, lenient: boolean): Promise<LiveSource> {
  const src = await openTrace(path, pairing, { lenient, follow: false });
  let stopped = false;
  return {
    format: src.format, path: src.path, counts: src.counts,
    stop: () => { stopped = true; },
    async *[Symbol.asyncIterator]() {
      for await (const ev of src) {
        yield ev;
        if (stopped) return;
      }
    },
  };
}

/** The first chunk of stdin, pushed back so that a reader sees the whole stream. */
async function peekStdin(): Promise<Buffer> {
  const stdin = process.stdin;
  const chunk = await new Promise<Buffer | null>((resolve, reject) => {
    const onReadable = (): void => {
      const c = stdin.read() as Buffer | null;
      if (c === null) return; // not yet
      done();
      resolve(c);
    };
    const onEnd = (): void => { done(); resolve(null); };
    const onError = (e: Error): void => { done(); reject(e); };
    const done = (): void => {
      stdin.off('readable', onReadable);
      stdin.off('end', onEnd);
      stdin.off('error', onError);
    };
    stdin.on('readable', onReadable);
    stdin.on('end', onEnd);
    stdin.on('error', onError);
  });
  if (chunk === null) return Buffer.alloc(0);
  stdin.unshift(chunk);
  return chunk;
}

/** stdin: JSONL (plain or gzipped) or strace text. */
export async function stdinSource(pairing: PairingMode, lenient: boolean): Promise<LiveSource> {
  const head = await peekStdin();
  let src: SyscallSource;
  if (head.length === 0) throw new TraceError('<stdin>', 0, 'empty input: not a trace');
  if (isGzip(head)) throw new TraceError('<stdin>', 0, 'gzip-compressed input on stdin: decompress it first (zcat FILE | … --input -) or give the file');
  if (looksLikeJsonl(head)) src = openJsonl('-', lenient);
  else if (looksLikeStrace(head)) src = openStrace('-', pairing, lenient);
  else throw new TraceError('<stdin>', 0, 'unknown format on stdin (expected syscall-anomaly JSONL or strace -f -ttt -T text)');
  return {
    format: src.format, path: '<stdin>', counts: src.counts,
    stop: () => { process.stdin.destroy(); },
    [Symbol.asyncIterator]: () => src[Symbol.asyncIterator](),
  };
}

/** The strace command line for attaching to `pid` or starting `command`. */
export function straceArgs(target: { pid: number } | { command: string[] }): string[] {
  const base = ['-f', '-yy', '-ttt', '-T', '-o', '|cat >&3'];
  return 'pid' in target ? [...base, '-p', String(target.pid)] : [...base, '--', ...target.command];
}

/** strace started by us, streaming into the strace parser. */
export function straceSource(target: { pid: number } | { command: string[] }, pairing: PairingMode, lenient: boolean): LiveSource {
  const label = 'pid' in target ? `strace -p ${target.pid}` : `strace -- ${target.command.join(' ')}`;
  const counts: ReaderCounts = emptyCounts();
  let child: ChildProcess | undefined;
  let stopped = false;
  const stop = (): void => {
    stopped = true;
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGTERM'); // strace detaches and exits
  };
  return {
    format: 'strace', path: label, counts, stop,
    [Symbol.asyncIterator]: () => flattenBatches(batches()),
  };

  async function* batches(): AsyncGenerator<SyscallEvent[], void, undefined> {
    const c = spawn('strace', straceArgs(target), { stdio: ['inherit', 'inherit', 'pipe', 'pipe'] });
    child = c;
    let stderr = '';
    c.stderr!.setEncoding('utf8');
    c.stderr!.on('data', (d: string) => { if (stderr.length < 64 * 1024) stderr += d; });
    const spawned = new Promise<Error | null>((resolve) => {
      c.once('spawn', () => resolve(null));
      c.once('error', (e) => resolve(e));
    });
    const exited = new Promise<number | null>((resolve) => c.once('close', (code) => resolve(code)));
    const err = await spawned;
    if (err !== null) {
      const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'strace is not installed (apt-get install strace)' : err.message;
      throw new TracerError(`${label}: cannot start: ${why}`);
    }
    if (stopped) stop();
    const parser = new StraceParser(label, pairing, lenient, counts);
    let lineNo = 0;
    try {
      for await (const batch of readLines(c.stdio[3] as Readable, label)) {
        const out: SyscallEvent[] = [];
        for (const line of batch) {
          lineNo++;
          if (line === null) parser.bad(lineNo, 'line too long');
          else parser.line(line, lineNo, out);
        }
        yield out;
      }
      const out: SyscallEvent[] = [];
      parser.end(out);
      yield out;
      const code = await exited;
      if (code !== 0 && !stopped && lineNo === 0) {
        const first = stderr.split('\n').find((l) => l.trim() !== '') ?? `exit code ${code}`;
        const hint = /Operation not permitted|ptrace/.test(first) ? ' (strace needs ptrace permission: root, or kernel.yama.ptrace_scope=0)' : '';
        throw new TracerError(`${label}: ${first.replace(/^strace: /, '')}${hint}`);
      }
    } finally {
      stop();
    }
  }
}
