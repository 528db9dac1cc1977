#!/usr/bin/env node
/**
 * @module experiments/web-novelty/slice
 * Cuts a recording's JSONL events (the project's `convert` output) into the traffic blocks of `phases.tsv`
 * (`name<TAB>start ns<TAB>end ns`, wall clock, one wrk run each): an output takes the events of its blocks, i.e.
 * every event that ends at or after a block's start − 0.2 s and starts at or before its end + 1.5 s (wrk closes
 * its connections at its end, Apache closes them a few ms later; blocks are 3 s apart). Each output is gzipped
 * (`gzip -9`-level) and keeps the JSONL header line; events of the warm-up and of the gaps go nowhere.
 *
 *   node slice.mjs all.jsonl phases.tsv OUTDIR name=block[,block…] …
 *
 * Prints, per output, the events written and its size.
 */
import { createReadStream, createWriteStream, readFileSync } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { createGzip, constants } from 'node:zlib';
import { join } from 'node:path';

const [input, phasesFile, outDir, ...specs] = process.argv.slice(2);
if (!input || !phasesFile || !outDir || specs.length === 0) {
  process.stderr.write('usage: node slice.mjs all.jsonl phases.tsv OUTDIR name=block[,block…] …\n');
  process.exit(2);
}
const BEFORE = 200_000_000n;
const AFTER = 1_500_000_000n;
const phases = new Map();
readFileSync(phasesFile, 'utf8').split('\n').filter((l) => l.trim()).forEach((l, i) => {
  const [name, start, end] = l.split('\t');
  if (!name || !/^\d+$/.test(start ?? '') || !/^\d+$/.test(end ?? '')) throw new Error(`${phasesFile}:${i + 1}: want name<TAB>start ns<TAB>end ns`);
  phases.set(name, { start: BigInt(start) - BEFORE, end: BigInt(end) + AFTER });
});
const outputs = specs.map((spec) => {
  const [name, list] = spec.split('=');
  if (!name || !list) throw new Error(`bad output '${spec}': want name=block[,block…]`);
  const windows = list.split(',').map((b) => {
    const w = phases.get(b);
    if (!w) throw new Error(`${phasesFile}: no block '${b}' (have ${[...phases.keys()].join(', ')})`);
    return w;
  });
  const path = join(outDir, `${name}.jsonl.gz`);
  const gz = createGzip({ level: constants.Z_BEST_COMPRESSION });
  const file = createWriteStream(path);
  gz.pipe(file);
  return { name, windows, path, gz, file, events: 0 };
});

const lines = createInterface({ input: createReadStream(input), crlfDelay: Infinity });
let lineNo = 0;
for await (const line of lines) {
  lineNo++;
  if (lineNo === 1) {
    for (const o of outputs) o.gz.write(line + '\n');
    continue;
  }
  if (!line) continue;
  const ev = JSON.parse(line);
  const ts = BigInt(ev.ts);
  const end = ts + BigInt(ev.latency ?? 0);
  for (const o of outputs) {
    if (o.windows.some((w) => end >= w.start && ts <= w.end)) {
      o.events++;
      if (!o.gz.write(line + '\n')) await once(o.gz, 'drain');
    }
  }
}
for (const o of outputs) {
  o.gz.end();
  await once(o.file, 'finish');
  process.stdout.write(`${o.path}: ${o.events} events\n`);
}
