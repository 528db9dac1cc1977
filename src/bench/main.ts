#!/usr/bin/env node
/**
 * @module bench/main
 * `npm run bench [-- SECTION…]`: runs every bench section (or only those named) and prints each one's table, then a
 * summary of which sections ran and how long they took. A section that throws is reported and the rest still run;
 * the exit status is 1 when any section failed, 2 for an unknown section name.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { formatTable } from './util.js';

/**
 * Sections in the order they run. Each prints its own table of ratios against the reference run in the same
 * section: babeltrace2 (decode), PyTorch with OpenBLAS (lstm, transformer), scikit-learn (sklearn, profile). Imported when run.
 */
export const SECTIONS: Record<string, () => Promise<void>> = {
  decode: async () => (await import('./decode.js')).benchDecode(),
  lstm: async () => { await (await import('./lstm.js')).benchLstmVsTorch(); },
  transformer: async () => { await (await import('./transformer.js')).benchTransformerVsTorch(); },
  sklearn: async () => { console.log(await (await import('./sklearn-parity.js')).sklearnParity([])); },
  profile: async () => (await import('./profile.js')).benchProfile(),
  watch: async () => (await import('./watch.js')).benchWatch(),
};

/** The sections to run for these arguments, or an error naming the unknown ones. */
export function selectSections(args: string[], known: string[] = Object.keys(SECTIONS)): string[] | { error: string } {
  const names = args.filter((a) => !a.startsWith('-'));
  if (names.length === 0) return known;
  const unknown = names.filter((n) => !known.includes(n));
  if (unknown.length) return { error: `unknown bench section ${unknown.join(', ')}; known: ${known.join(', ')}` };
  return names;
}

async function main(): Promise<number> {
  const chosen = selectSections(process.argv.slice(2));
  if ('error' in chosen) {
    console.error(chosen.error);
    return 2;
  }
  const summary: string[][] = [];
  let failed = false;
  for (const name of chosen) {
    console.log(`\n== ${name} ==`);
    const t0 = performance.now();
    let status = 'ok';
    try {
      await SECTIONS[name]!();
    } catch (e) {
      failed = true;
      status = `failed: ${e instanceof Error ? e.message : String(e)}`;
      console.log(`${name} ${status}`);
    }
    summary.push([name, ((performance.now() - t0) / 1000).toFixed(1), status]);
  }
  console.log('\n' + formatTable(['section', 'seconds', 'status'], summary));
  return failed ? 1 : 0;
}

if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main();
}
