/**
 * @module cli/convert
 * `syscall-anomaly convert <trace> -o out.jsonl`: any supported trace → the project's canonical JSONL events.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { writeJsonl } from '../trace/jsonl/jsonl.js';
import { openTrace } from '../trace/open.js';
import type { PairingMode, SyscallEvent, SyscallSource } from '../trace/event.js';
import { progress } from './run.js';

export async function convertCommand(path: string, out: string, pairing: PairingMode, lenient: boolean): Promise<void> {
  const src = await openTrace(path, pairing, { lenient, follow: false });
  const stream = out === '-' ? process.stdout : createWriteStream(out);
  const p = progress('events');
  const n = await writeJsonl(counted(src, p.tick), stream);
  p.done();
  if (stream !== process.stdout) {
    stream.end();
    await once(stream, 'finish');
  }
  const c = src.counts;
  process.stderr.write(
    `${n.toLocaleString('en-US')} syscall events written (${c.events.toLocaleString('en-US')} records read; `
    + `${c.unmatchedEntries + c.unmatchedExits} unmatched, ${c.lost} lost, ${c.skipped} skipped)\n`,
  );
}

async function* counted(src: SyscallSource, tick: (n: number) => void): AsyncIterable<SyscallEvent> {
  let n = 0;
  for await (const ev of src) {
    if ((++n & 0xffff) === 0) tick(n);
    yield ev;
  }
}
