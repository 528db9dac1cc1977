/**
 * @module trace/adfa/adfa
 * The ADFA Linux Dataset (ADFA-LD, Creech & Hu, UNSW Canberra): each trace file is one process run as
 * space-separated **i386** system-call numbers. Reads the dataset straight from `ADFA-LD.zip` (entries streamed with
 * yauzl, nothing unpacked), from an unpacked folder, or one trace file.
 *
 * Layout: `Training_Data_Master/UTD-*.txt` (normal), `Validation_Data_Master/UVD-*.txt` (normal),
 * `Attack_Data_Master/<Kind>_<n>/UAD-*.txt` (attacks; kinds Adduser, Hydra_FTP, Hydra_SSH, Java_Meterpreter,
 * Meterpreter, Web_Shell). A trace's `path` is relative to the folder that holds these three (e.g.
 * `Attack_Data_Master/Adduser_1/UAD-Adduser-1-2783.txt`); files outside them (the dataset's syscall list, `__MACOSX`
 * resource forks) are not traces. Traces come in sorted `path` order (code-unit order), so the 1-based trace index
 * is stable.
 *
 * Numbers are named with our i386 table (`i386.ts`). The `ADFA-LD+Syscall+List.txt` inside the dataset (also
 * `../shared/data/adfa-ld/syscall-list.txt`) is not the i386 table but asm-generic's `unistd.h` (the table of
 * arm64/riscv, read = 63): it does not describe these traces, whose numbers are i386 ones (3 read, 4 write, 5 open,
 * 102 socketcall, 192 mmap2, 252 exit_group — and 245–259, used by the traces, do not exist in asm-generic).
 *
 * Events (`openAdfa`): one `entry` per number, `ts` = index within the trace (as ns), `cpu` 0, `pid` = `tid` = the
 * 1-based trace index, `proc` = the trace's `path`, `args` {}. A number with no i386 name becomes `sys_<n>` and is
 * counted in `unknownNumbers`. A token that is not a number throws `TraceError` naming the trace and its line.
 */
import { createReadStream } from 'node:fs';
import { open, opendir, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import type { Entry, ZipFile } from 'yauzl';
import type { ReaderCounts, SyscallEvent, SyscallSource } from '../event.js';
import { emptyCounts } from '../event.js';
import { TraceError } from '../errors.js';
import { I386_SYSCALLS } from './i386.js';
import { openZip as openZipFile } from './zipreader.js';
import { flattenBatches } from '../jsonl/lines.js';

export type AdfaSet = 'training' | 'validation' | 'attack';

export interface AdfaTrace {
  /** Path relative to the dataset root, '/'-separated: `Training_Data_Master/UTD-0001.txt`. */
  path: string;
  set: AdfaSet;
  /** Attack kind for attack traces: Adduser, Hydra_FTP, Hydra_SSH, Java_Meterpreter, Meterpreter, Web_Shell. */
  attack?: string;
  /** The folder holding the file: `Training_Data_Master`, `Adduser_1`… */
  folder: string;
}

export interface AdfaSource extends SyscallSource {
  /** Occurrences of numbers with no i386 name (emitted as `sys_<n>`). */
  readonly unknownNumbers: number;
  /** Traces read so far. */
  readonly traces: number;
}

/** One trace, read whole (traces are small: the largest in ADFA-LD is 10 kB). */
export interface AdfaTraceData {
  trace: AdfaTrace;
  /** 1-based position in sorted order (the `pid`/`tid` `openAdfa` gives its events). */
  index: number;
  numbers: number[];
  names: string[];
}

const SET_FOLDERS: ReadonlyMap<string, AdfaSet> = new Map([
  ['training_data_master', 'training'],
  ['validation_data_master', 'validation'],
  ['attack_data_master', 'attack'],
]);

/** The syscall name for an i386 number (`sys_<n>` when i386 has none). */
export function adfaSyscallName(nr: number): string {
  return I386_SYSCALLS[nr] ?? `sys_${nr}`;
}

/** Opens the dataset (zip, folder) or one trace file as a source of `entry` events. */
export function openAdfa(path: string): AdfaSource {
  return new AdfaReader(path);
}

/** Lists the traces of a dataset (zip or folder) or of one trace file, in sorted path order. */
export async function listAdfaTraces(path: string): Promise<AdfaTrace[]> {
  const box = await openContainer(path);
  box.close();
  return box.items.map((i) => i.trace);
}

/**
 * One trace's syscall names. `trace` is its path relative to the dataset root (or a listed `AdfaTrace`); it may be
 * left out when `path` is a single trace file.
 */
export async function readAdfaTrace(path: string, trace?: string | AdfaTrace): Promise<string[]> {
  const box = await openContainer(path);
  try {
    const want = typeof trace === 'string' ? trace.split(sep).join('/') : trace?.path;
    const item = want === undefined
      ? (box.items.length === 1 ? box.items[0] : undefined)
      : box.items.find((i) => i.trace.path === want);
    if (!item) {
      throw new TraceError(path, 0, want === undefined
        ? `adfa: ${box.items.length} traces here: name the one to read`
        : `adfa: no trace ${JSON.stringify(want)}`);
    }
    return (await readWhole(box, item)).map(adfaSyscallName);
  } finally {
    box.close();
  }
}

/** Every trace in sorted order, each read whole: the sequence-level view (one trace = one sequence). */
export async function* iterateAdfaTraces(path: string): AsyncGenerator<AdfaTraceData> {
  const box = await openContainer(path);
  try {
    let numbers: number[] = [];
    for await (const { index, batch, end } of traceContents(box)) {
      for (const nr of batch) numbers.push(nr);
      if (!end) continue;
      yield { trace: box.items[index].trace, index: index + 1, numbers, names: numbers.map(adfaSyscallName) };
      numbers = [];
    }
  } finally {
    box.close();
  }
}

/**
 * Parses a `unistd.h`-style header (`#define __NR_<name> <number>`) into number → name. Aliases defined as other
 * macros, and `__NR3264_*`/`__NR_syscalls`/`__NR_arch_specific_syscall`, are left out.
 */
export function parseUnistdHeader(text: string): Map<number, string> {
  const table = new Map<number, string>();
  for (const line of text.split('\n')) {
    const m = /^#define\s+__NR_([A-Za-z0-9_]+)\s+(\d+)\s*$/.exec(line.trimEnd());
    if (!m || m[1] === 'syscalls' || m[1] === 'arch_specific_syscall') continue;
    table.set(Number(m[2]), m[1]);
  }
  return table;
}

// ---------------------------------------------------------------------------------------------------------------

class AdfaReader implements AdfaSource {
  readonly format = 'adfa';
  readonly counts: ReaderCounts = emptyCounts();
  unknownNumbers = 0;
  traces = 0;
  /** Index within the current trace of the next number. */
  private position = 0;

  constructor(readonly path: string) {}

  [Symbol.asyncIterator](): AsyncIterator<SyscallEvent> {
    return flattenBatches(this.batches());
  }

  private async *batches(): AsyncGenerator<SyscallEvent[], void, undefined> {
    Object.assign(this.counts, emptyCounts());
    this.unknownNumbers = 0;
    this.traces = 0;
    this.position = 0;
    const counts = this.counts;
    const box = await openContainer(this.path);
    try {
      for await (const { index, batch, end } of traceContents(box)) {
        const id = index + 1;
        const proc = box.items[index].trace.path;
        const base = this.position;
        const out: SyscallEvent[] = new Array(batch.length);
        for (let i = 0; i < batch.length; i++) {
          const nr = batch[i];
          let name = I386_SYSCALLS[nr];
          if (name === undefined) {
            name = `sys_${nr}`;
            this.unknownNumbers++;
          }
          out[i] = { ts: BigInt(base + i), cpu: 0, pid: id, tid: id, proc, name, phase: 'entry', args: {} };
        }
        counts.events += batch.length;
        counts.syscallEntries += batch.length;
        this.position = end ? 0 : base + batch.length;
        if (end) this.traces++;
        yield out;
      }
    } finally {
      box.close();
    }
  }
}

/** How many small traces are read ahead of the one being consumed (hides the zip's per-entry read latency). */
const AHEAD = 16;
/** Traces up to this size are read whole (ADFA-LD's largest is 10 kB); bigger ones are streamed. */
const SMALL = 1 << 20;

/**
 * The numbers of every trace of `box` in order, in batches; the last batch of each trace has `end` set (and may be
 * empty). Small traces are read ahead, at most AHEAD at a time.
 */
async function* traceContents(box: Container): AsyncGenerator<{ index: number; batch: number[]; end: boolean }> {
  const n = box.items.length;
  const ahead = new Map<number, Promise<number[]>>();
  for (let i = 0; i < n; i++) {
    for (let k = i; k < n && k < i + AHEAD; k++) {
      if (ahead.has(k) || box.items[k].size > SMALL) continue;
      const p = readWhole(box, box.items[k]);
      p.catch(() => {}); // rejections are seen when this trace's turn comes
      ahead.set(k, p);
    }
    const whole = ahead.get(i);
    if (whole !== undefined) {
      ahead.delete(i);
      yield { index: i, batch: await whole, end: true };
      continue;
    }
    const item = box.items[i];
    for await (const batch of traceNumbers(await box.open(item), box.label(item))) yield { index: i, batch, end: false };
    yield { index: i, batch: [], end: true };
  }
}

async function readWhole(box: Container, item: Item): Promise<number[]> {
  const all: number[] = [];
  for await (const batch of traceNumbers(await box.open(item), box.label(item))) for (const nr of batch) all.push(nr);
  return all;
}

interface Item {
  trace: AdfaTrace;
  /** zip entry, or file path */
  loc: Entry | string;
  /** bytes (uncompressed) */
  size: number;
}

interface Container {
  items: Item[];
  open(item: Item): Promise<Readable>;
  label(item: Item): string;
  close(): void;
}

async function openContainer(path: string): Promise<Container> {
  let st;
  try {
    st = await stat(path);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new TraceError(path, 0, `adfa: cannot open: ${err.code === 'ENOENT' ? 'no such file or directory' : err.message}`);
  }
  if (st.isDirectory() || (await isZip(path))) {
    const box = st.isDirectory() ? await openFolder(path) : await openZip(path);
    if (box.items.length === 0) {
      box.close();
      throw new TraceError(path, 0, 'adfa: no ADFA-LD traces here (no *.txt under Training_Data_Master, Validation_Data_Master or Attack_Data_Master, nor named UTD-/UVD-/UAD-*)');
    }
    return box;
  }
  const abs = resolve(path);
  const parts = abs.split(sep);
  const trace = describe(parts, path);
  if (!trace) throw new TraceError(path, 0, 'adfa: not an ADFA-LD trace (cannot tell its set from its folder or name)');
  return {
    items: [{ trace, loc: path, size: st.size }],
    open: async (item) => createReadStream(item.loc as string),
    label: () => path,
    close: () => {},
  };
}

async function isZip(path: string): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(4);
    const { bytesRead } = await fh.read(buf, 0, 4, 0);
    return bytesRead === 4 && buf.readUInt32LE(0) === 0x04034b50;
  } finally {
    await fh.close();
  }
}

async function openFolder(root: string): Promise<Container> {
  const files: { parts: string[]; loc: string; size: number }[] = [];
  async function walk(dir: string): Promise<void> {
    const here: string[] = [];
    for await (const ent of await opendir(dir)) {
      if (ent.name.startsWith('.') || ent.name === '__MACOSX') continue;
      const p = join(dir, ent.name);
      if (ent.isDirectory()) await walk(p);
      else if (ent.isFile() && ent.name.toLowerCase().endsWith('.txt')) here.push(p);
    }
    const sizes = await Promise.all(here.map(async (p) => (await stat(p)).size));
    // whole absolute paths, so that a root inside a set folder (`Attack_Data_Master/Adduser_1`) still tells the set
    here.forEach((p, i) => files.push({ parts: resolve(p).split(sep), loc: p, size: sizes[i] }));
  }
  await walk(root);
  const items = pickTraces(files, root);
  return {
    items,
    open: async (item) => createReadStream(item.loc as string),
    label: (item) => item.loc as string,
    close: () => {},
  };
}

async function openZip(path: string): Promise<Container> {
  let zip: ZipFile;
  try {
    zip = await openZipFile(path);
  } catch (e) {
    throw new TraceError(path, 0, `adfa: cannot read the zip: ${(e as Error).message}`);
  }
  const found: { parts: string[]; loc: Entry; size: number }[] = [];
  try {
    for await (const entry of zip.eachEntry()) {
      const name = entry.fileName;
      if (name.endsWith('/') || !name.toLowerCase().endsWith('.txt')) continue;
      const parts = name.split('/');
      if (parts.some((s) => s === '__MACOSX' || s.startsWith('.'))) continue;
      found.push({ parts, loc: entry, size: entry.uncompressedSize });
    }
  } catch (e) {
    zip.close();
    throw new TraceError(path, 0, `adfa: cannot read the zip: ${(e as Error).message}`);
  }
  return {
    items: pickTraces(found, path),
    open: (item) => zip.openReadStreamPromise(item.loc as Entry).catch((e: Error) => {
      throw new TraceError(`${path}!${(item.loc as Entry).fileName}`, 0, `adfa: cannot read the entry: ${e.message}`);
    }),
    label: (item) => `${path}!${(item.loc as Entry).fileName}`,
    close: () => { if (zip.isOpen) zip.close(); },
  };
}

/**
 * Keeps the files that are traces: those under a set folder when there are any, otherwise those whose name tells
 * the set (UTD-/UVD-/UAD-). Sorted by relative path.
 */
function pickTraces(files: { parts: string[]; loc: Entry | string; size: number }[], where: string): Item[] {
  const items: Item[] = [];
  const underSet = files.some((f) => f.parts.some((s) => SET_FOLDERS.has(s.toLowerCase())));
  for (const f of files) {
    const inSet = f.parts.some((s) => SET_FOLDERS.has(s.toLowerCase()));
    if (underSet && !inSet) continue;
    const trace = describe(f.parts, where);
    if (trace) items.push({ trace, loc: f.loc, size: f.size });
  }
  items.sort((a, b) => (a.trace.path < b.trace.path ? -1 : a.trace.path > b.trace.path ? 1 : 0));
  return items;
}

/** Set, attack kind, folder and relative path of a trace from its path segments; undefined if the set is unknown. */
function describe(parts: string[], where: string): AdfaTrace | undefined {
  const file = parts[parts.length - 1];
  const folder = parts.length > 1 ? parts[parts.length - 2] : basename(dirname(resolve(where)));
  let at = -1;
  for (let i = parts.length - 2; i >= 0; i--) {
    if (SET_FOLDERS.has(parts[i].toLowerCase())) { at = i; break; }
  }
  let set: AdfaSet | undefined;
  let path: string;
  if (at >= 0) {
    set = SET_FOLDERS.get(parts[at].toLowerCase());
    path = parts.slice(at).join('/');
  } else {
    const prefix = file.slice(0, 4).toUpperCase();
    set = prefix === 'UTD-' ? 'training' : prefix === 'UVD-' ? 'validation' : prefix === 'UAD-' ? 'attack' : undefined;
    path = file;
  }
  if (!set) return undefined;
  const trace: AdfaTrace = { path, set, folder };
  if (set === 'attack') {
    const kind = at >= 0 && at < parts.length - 2 ? parts[at + 1].replace(/_\d+$/, '') : attackFromFileName(file);
    if (kind) trace.attack = kind;
  }
  return trace;
}

/** `UAD-Hydra-FTP-1-1371.txt` → Hydra_FTP; `UAD-WS1-1371.txt` → Web_Shell. */
function attackFromFileName(file: string): string | undefined {
  if (/^UAD-WS\d+-/i.test(file)) return 'Web_Shell';
  const m = /^UAD-([A-Za-z-]+?)-\d+-\d+\.txt$/i.exec(file);
  return m ? m[1].replace(/-/g, '_') : undefined;
}

/** Streams the numbers of one trace, in batches (one per chunk). */
async function* traceNumbers(stream: Readable, label: string): AsyncGenerator<number[]> {
  let cur = -1;
  let line = 1;
  let offset = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      const batch: number[] = [];
      for (let i = 0; i < chunk.length; i++) {
        const c = chunk[i];
        if (c >= 48 && c <= 57) {
          cur = cur < 0 ? c - 48 : cur * 10 + (c - 48);
          if (cur > 0xffffffff) throw new TraceError(label, offset + i, 'adfa: syscall number too large', line);
        } else if (c === 32 || c === 10 || c === 13 || c === 9 || c === 11 || c === 12) {
          if (cur >= 0) { batch.push(cur); cur = -1; }
          if (c === 10) line++;
        } else {
          throw new TraceError(label, offset + i, `adfa: not a syscall number (byte 0x${c.toString(16).padStart(2, '0')})`, line);
        }
      }
      offset += chunk.length;
      if (batch.length > 0) yield batch;
    }
    if (cur >= 0) yield [cur];
  } catch (e) {
    if (e instanceof TraceError) throw e;
    throw new TraceError(label, offset, `adfa: cannot read the trace: ${(e as Error).message}`);
  } finally {
    stream.destroy();
  }
}
