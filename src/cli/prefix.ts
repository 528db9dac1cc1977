/**
 * @module cli/prefix
 * Where `watch` and `serve` take the per-length thresholds of running sequences from (`detect/live-thresholds.ts`):
 * `--calibrate <data>` (normal data scored at start-up); else the prefix perplexities `train` stored in the model
 * folder (`prefixScores`); else — folders written before those — the model's own validation data, or its held-out
 * training sequences, when the files are still where they were; none with `--no-calibrate`. One line on stderr says
 * which, and the thresholds.
 */
import { existsSync } from 'node:fs';
import { filterByPosition, openData, parseDataArg, type Reading } from '../features/dataset.js';
import type { LiveModel } from '../detect/live.js';
import type { ModelManifest } from '../models/folder.js';
import { calibratePrefixThresholds, prefixThresholdsFromScores, type PrefixThresholds } from '../detect/live-thresholds.js';
import { HOLD_OUT } from './train.js';

/** The prefix thresholds for a run of `command` (`calibrate`: the data given, false for none, undefined: the default). */
export async function prefixThresholdsFor(command: 'watch' | 'serve', model: LiveModel, manifest: ModelManifest,
  calibrate: string | false | undefined, q: number, minEvents: number, reading: Reading): Promise<PrefixThresholds | undefined> {
  const shown = (v: number): number => (model.scale ? model.scale.of(v) : v);
  const report = (p: PrefixThresholds, from: string): PrefixThresholds => {
    process.stderr.write(`${command}: prefix thresholds (q ${q}${model.scale ? `, as ${model.scale.name}s` : ''}) from ${p.sequences} normal sequences of ${from}: ` +
      `${p.points.map((x) => `${x.length} events → ${shown(x.value).toPrecision(4)}`).join(', ') || 'none (too few long sequences)'}\n`);
    return p;
  };
  const none = (): undefined => {
    process.stderr.write(`${command}: no prefix calibration: running sequences are held to the sequence threshold from ${minEvents} events on\n`);
    return undefined;
  };
  if (model.sequenceLevel) {
    process.stderr.write(`${command}: no prefix thresholds: the ${model.kind} model judges whole sequences, which alert when they end\n`);
    return undefined;
  }
  if (calibrate === false) return none();
  const scored = async (arg: string, heldOut: boolean): Promise<PrefixThresholds> => {
    const seqs = openData(parseDataArg(arg), reading);
    return calibratePrefixThresholds(model, heldOut ? filterByPosition(seqs, (i) => i % HOLD_OUT === HOLD_OUT - 1) : seqs,
      q, minEvents, manifest.segmentation.maxLength);
  };
  if (calibrate !== undefined) return report(await scored(calibrate, false), calibrate);
  const stored = manifest.prefixScores && prefixThresholdsFromScores(manifest.prefixScores, q, minEvents);
  if (stored) return report(stored, `the model's ${manifest.prefixScores!.on} data (stored by train)`);
  const t = manifest.training;
  const found = (arg: string): boolean => existsSync(parseDataArg(arg).path);
  if (t.valid !== undefined && found(t.valid.data)) return report(await scored(t.valid.data, false), `${t.valid.data} (the model's validation data)`);
  if (t.valid === undefined && t.heldOut > 0 && found(t.train.data)) {
    return report(await scored(t.train.data, true), `${t.train.data} (the model's held-out training sequences)`);
  }
  return none();
}
