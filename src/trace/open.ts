/**
 * @module trace/open
 * Opens any supported trace as a `SyscallSource`, detecting the format: a CTF trace directory or a folder of them
 * (LTTng, perf `--to-ctf`), strace text, an ADFA-LD folder / zip / trace file, or the project's JSONL (plain or
 * gzipped: a file that starts with the gzip magic 1f 8b is sniffed on its decompressed head; only JSONL is read so).
 */
import { open as openFile, stat } from 'node:fs/promises';
import { TraceError } from './errors.js';
import type { PairingMode, SyscallSource } from './event.js';
import type { ReadMode } from './ctf/stream.js';
import { findCtfTraces } from './ctf/trace.js';
import { KernelCtfSource } from './kernel.js';
import { openAdfa } from './adfa/adfa.js';
import { gunzipHead, isGzip, looksLikeJsonl, openJsonl } from './jsonl/jsonl.js';
import { looksLikeStrace, openStrace } from './strace/strace.js';

export type TraceFormat = 'ctf' | 'strace' | 'adfa' | 'jsonl';

/** Reads the first bytes of a file, for sniffing. */
async function head(path: string, n = 8192): Promise<Buffer> {
  const fh = await openFile(path, 'r');
  try {
    const buf = Buffer.alloc(n);
    const { bytesRead } = await fh.read(buf, 0, n, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

export async function detectFormat(path: string): Promise<TraceFormat> {
  if (path === '-') return 'jsonl';
  let st;
  try {
    st = await stat(path);
  } catch (e) {
    throw new TraceError(path, 0, `cannot open: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`);
  }
  if (st.isDirectory()) {
    if ((await findCtfTraces(path)).length > 0) return 'ctf';
    return 'adfa';
  }
  const h = await head(path);
  if (h.length >= 4 && h.readUInt32LE(0) === 0x04034b50) return 'adfa'; // a zip: the ADFA-LD archive
  if (isGzip(h)) {
    if (looksLikeJsonl(gunzipHead(h))) return 'jsonl';
    throw new TraceError(path, 0, 'a gzip-compressed file that is not syscall-anomaly JSONL (only JSONL is read compressed: gunzip other traces first)');
  }
  if (looksLikeJsonl(h)) return 'jsonl';
  if (looksLikeStrace(h)) return 'strace';
  // An ADFA-LD trace file: nothing but syscall numbers (the sniff window may cut the last one).
  if (/^\s*\d+(\s+\d+)*\s*\d*$/.test(h.toString('latin1'))) return 'adfa';
  if (h.length === 0) throw new TraceError(path, 0, 'empty file: not a trace');
  throw new TraceError(path, 0, 'unknown trace format (expected a CTF folder, strace -f -ttt -T output, ADFA-LD, or syscall-anomaly JSONL)');
}

/** Opens `path` in its detected format. */
export async function openTrace(path: string, pairing: PairingMode, mode: ReadMode): Promise<SyscallSource> {
  const format = await detectFormat(path);
  switch (format) {
    case 'ctf': return KernelCtfSource.open(path, pairing, mode);
    case 'strace': return openStrace(path, pairing, mode.lenient);
    case 'adfa': return openAdfa(path);
    case 'jsonl': return openJsonl(path, mode.lenient);
  }
}
