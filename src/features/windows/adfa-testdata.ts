/**
 * @module features/windows/adfa-testdata
 * Test/bench support until `trace/adfa` lands: reads ADFA-LD straight from its zip with yauzl and turns each trace
 * file (space-separated i386 syscall numbers) into `SyscallEvent`s named `nr_<number>` (phase 'entry', no timing:
 * ADFA-LD has none), and into one count-vector window per trace through the real windowing code.
 */
import yauzl from 'yauzl';
import type { SyscallEvent } from '../../trace/event.js';
import { TraceError } from '../../trace/errors.js';
import { SyscallVocabulary } from './vocabulary.js';
import { windowConfig } from './windows.js';
import { WindowSet, WindowSetBuilder } from './windowset.js';

/** One ADFA-LD trace. */
export interface AdfaTrace {
  /** 'Training' | 'Validation' | 'Attack'. */
  split: 'Training' | 'Validation' | 'Attack';
  /** Attack kind ('Adduser', 'Hydra_FTP', …) or 'normal'. */
  kind: string;
  /** The attack folder (e.g. 'Adduser_3') or, for normal traces, the file name: the unit held out together. */
  group: string;
  file: string;
  calls: number[];
}

/** Every trace in the zip, in zip order. */
export async function readAdfaZip(zipPath: string): Promise<AdfaTrace[]> {
  const zip = await yauzl.openPromise(zipPath, { lazyEntries: true });
  const out: AdfaTrace[] = [];
  try {
    for (;;) {
      const entry = await new Promise<yauzl.Entry | null>((res, rej) => {
        const onEntry = (e: yauzl.Entry) => { cleanup(); res(e); };
        const onEnd = () => { cleanup(); res(null); };
        const onErr = (err: Error) => { cleanup(); rej(err); };
        const cleanup = () => { zip.off('entry', onEntry); zip.off('end', onEnd); zip.off('error', onErr); };
        zip.on('entry', onEntry);
        zip.on('end', onEnd);
        zip.on('error', onErr);
        zip.readEntry();
      });
      if (!entry) break;
      const name = entry.fileName;
      if (name.endsWith('/') || !name.endsWith('.txt')) continue;
      const parts = name.split('/');
      let split: AdfaTrace['split'];
      let kind = 'normal';
      let group = parts[parts.length - 1];
      if (parts.includes('Training_Data_Master')) split = 'Training';
      else if (parts.includes('Validation_Data_Master')) split = 'Validation';
      else if (parts.includes('Attack_Data_Master')) {
        split = 'Attack';
        group = parts[parts.length - 2];
        kind = group.replace(/_\d+$/, '');
      } else continue;
      const stream = await zip.openReadStreamPromise(entry);
      const chunks: Buffer[] = [];
      for await (const c of stream) chunks.push(c as Buffer);
      const text = Buffer.concat(chunks).toString('latin1');
      const calls: number[] = [];
      for (const tok of text.split(/\s+/)) {
        if (!tok) continue;
        const n = Number(tok);
        if (!Number.isInteger(n) || n < 0) throw new TraceError(`${zipPath}!${name}`, -1, `not a syscall number: '${tok.slice(0, 20)}'`, 1);
        calls.push(n);
      }
      out.push({ split, kind, group, file: name, calls });
    }
  } finally {
    zip.close();
  }
  return out;
}

/** A trace as events: one 'entry' per call, ts = position (ns), named `nr_<number>`. */
export function* adfaEvents(t: AdfaTrace): Generator<SyscallEvent> {
  for (let i = 0; i < t.calls.length; i++) {
    yield { ts: BigInt(i), cpu: 0, pid: 1, tid: 1, proc: '', name: `nr_${t.calls[i]}`, phase: 'entry', args: {} };
  }
}

/**
 * One count vector per trace (window = whole trace: size ≥ longest trace, partial windows kept), labelled 'normal'
 * or 'attack', grouped by attack folder (normal traces: one group each). The vocabulary is fitted on all traces given.
 */
export async function adfaCountSet(traces: AdfaTrace[]): Promise<WindowSet> {
  const longest = traces.reduce((m, t) => Math.max(m, t.calls.length), 1);
  const b = new WindowSetBuilder(SyscallVocabulary.growing(), windowConfig({ size: longest, partial: true }), ['normal', 'attack']);
  for (const t of traces) {
    const n = await b.add(adfaEvents(t), t.split === 'Attack' ? 'attack' : 'normal', t.group);
    if (n !== 1) throw new Error(`ADFA trace ${t.file} gave ${n} windows`);
  }
  return b.build();
}
