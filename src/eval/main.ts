#!/usr/bin/env node
/**
 * @module eval/main
 * `npm run eval [-- SECTION…]`: the long quality runs on ADFA-LD (`../shared/data/adfa-ld/ADFA-LD.zip`), each
 * printing its table: `ngram` — the n-gram (order 5, interpolated modified Kneser-Ney; `detect/adfa-eval.ts`), seconds;
 * `lstm` — the LSTM language model with the `train` defaults, run as `train` + `evaluate` run it (`eval/adfa-lstm.ts`), minutes; `distill` — a distilled
 * narrow LSTM beside its teacher, and ensembles, on the web sample and ADFA-LD (`eval/distill.ts`), tens of minutes;
 * `ceiling` — what other normal-only scores and more normal data give on ADFA-LD (`eval/adfa-ceiling.ts`), seconds;
 * `profile` — the call-profile model beside the LSTM, and their ensemble, on ADFA-LD (`eval/adfa-profile.ts`), minutes.
 * Without arguments all run, in that order. Exit status 1 when a section failed (the others still run), 2 for an unknown section name.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { AdfaEvalResult } from '../detect/adfa-eval.js';
import { sharedData } from '../testing/paths.js';

/** Settings of the n-gram run: order, minimum token count, events per window, false-alarm rate of the operating point. */
export const NGRAM_ADFA = { order: 5, minCount: 1, window: 10, far: 0.01 } as const;

/** The n-gram result as text: sizes, the AUC table by attack kind, the label-free operating point, times. */
export function formatAdfaNgram(r: AdfaEvalResult): string {
  const op = r.operatingPoint;
  const win = `AUC (worst ${r.window}-event window)`;
  return [
    `ADFA-LD, n-gram order ${r.order} (min count ${r.minCount}): ${r.trainTraces} training traces (${r.trainEvents} events); ` +
      `${r.validationTraces} validation, ${r.attackTraces} attack traces; vocabulary ${r.vocabulary}, ${r.ngrams} n-grams`,
    `attack kind        AUC (mean NLL)  ${win}`,
    ...Object.keys(r.aucByKind).map((k) => `${k.padEnd(17)}  ${r.aucByKind[k]!.toFixed(4).padStart(14)}  ${r.aucWindowByKind[k]!.toFixed(4).padStart(win.length)}`),
    `${'all'.padEnd(17)}  ${r.auc.toFixed(4).padStart(14)}  ${r.aucWindow.toFixed(4).padStart(win.length)}`,
    `label-free threshold (${op.far} false alarms on half the validation traces): on the other half and all attacks, ` +
      `detection ${op.detectionRate.toFixed(3)}, false alarms ${op.falseAlarmRate.toFixed(3)}, precision ${op.precision.toFixed(3)}, F1 ${op.f1.toFixed(3)}`,
    `seconds: read ${r.seconds.read.toFixed(1)}, fit ${r.seconds.fit.toFixed(1)}, score ${r.seconds.score.toFixed(1)}`,
  ].join('\n');
}

/** Sections in the order they run; each is imported when it runs (the LSTM loads onnxruntime). */
export const EVAL_SECTIONS: Record<string, () => Promise<void>> = {
  ngram: async () => {
    const { evaluateNgramOnAdfa } = await import('../detect/adfa-eval.js');
    const s = NGRAM_ADFA;
    console.log(formatAdfaNgram(await evaluateNgramOnAdfa(sharedData('adfa-ld', 'ADFA-LD.zip'), s.order, s.minCount, s.window, s.far)));
  },
  lstm: async () => {
    await (await import('./adfa-lstm.js')).evalAdfaLstm();
  },
  distill: async () => {
    await (await import('./distill.js')).evalDistill();
  },
  ceiling: async () => {
    const { adfaCeiling, formatCeiling } = await import('./adfa-ceiling.js');
    console.log(formatCeiling(await adfaCeiling(sharedData('adfa-ld', 'ADFA-LD.zip'))));
  },
  profile: async () => {
    await (await import('./adfa-profile.js')).evalAdfaProfile();
  },
};

async function main(args: string[]): Promise<number> {
  const known = Object.keys(EVAL_SECTIONS);
  const unknown = args.filter((a) => !known.includes(a));
  if (unknown.length > 0) {
    console.error(`unknown eval section ${unknown.join(', ')}; known: ${known.join(', ')}`);
    return 2;
  }
  const chosen = args.length > 0 ? known.filter((k) => args.includes(k)) : known;
  let failed = false;
  for (const name of chosen) {
    console.log(`\n== ${name} ==`);
    const t0 = performance.now();
    try {
      await EVAL_SECTIONS[name]!();
      console.log(`(${name}: ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    } catch (e) {
      failed = true;
      console.error(`${name} failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return failed ? 1 : 0;
}

if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
