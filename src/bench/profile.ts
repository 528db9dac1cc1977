/**
 * @module bench/profile
 * The call-profile model (`src/models/profile/`) against scikit-learn's `OneClassSVM` on the same job, in the same
 * run: fit on ADFA-LD's 833 Training traces, score its 5,118 Validation and Attack traces (`bench/profile_sklearn_parity.py
 * time`, Debian's python3-sklearn). Each side is timed from the traces' call lists, read before timing, to the result:
 * ours builds the name vocabulary, the square-rooted call shares and fits libsvm's one-class SVM (libsvm-js, WebAssembly),
 * then scores every trace (`logProbsMany`); scikit-learn builds the same shares with NumPy and fits its native libsvm,
 * then `score_samples`. Median of 3 each. The support vectors' count and the sum of the surprises must agree (the
 * fit's parity is tested in `profile.test.ts`), so both did the same work.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { findModelKind, passesOver, perplexityMany, resolveSettings } from '../models/language-model.js';
import { PROFILE_KIND, type ProfileModel } from '../models/profile/profile.js';
import { adfaSets } from '../testing/adfa-sample.js';
import { projectRoot } from '../testing/paths.js';
import { formatTable, median } from './util.js';

interface SklearnTimes {
  fit_s: number;
  score_s: number;
  support_vectors: number;
  scored: number;
  surprise_sum: number;
}

export async function benchProfile(): Promise<void> {
  const { train, validation, attack } = await adfaSets();
  const scored = [...validation, ...attack];
  const settings = resolveSettings(findModelKind('profile')!, new Map());
  const fits: number[] = [];
  const scores: number[] = [];
  let model: ProfileModel | undefined;
  let surpriseSum = 0;
  for (let run = 0; run < 3; run++) {
    const t0 = performance.now();
    model = (await PROFILE_KIND.fit({ train: passesOver(train) }, settings)) as ProfileModel;
    const t1 = performance.now();
    const ppl = await perplexityMany(model, scored);
    const t2 = performance.now();
    fits.push((t1 - t0) / 1000);
    scores.push((t2 - t1) / 1000);
    surpriseSum = ppl.reduce((a, p) => a + Math.log(p), 0);
  }
  const py = JSON.parse(execFileSync('/usr/bin/python3', [join(projectRoot(), 'bench', 'profile_sklearn_parity.py'), 'time'],
    { encoding: 'utf8', maxBuffer: 1 << 20 })) as SklearnTimes;
  const sv = model!.svm.alpha.length;
  if (py.support_vectors !== sv || py.scored !== scored.length || Math.abs(py.surprise_sum - surpriseSum) > 1e-6 * Math.abs(surpriseSum)) {
    throw new Error(`the two sides did different work: support vectors ${sv} / ${py.support_vectors}, traces ${scored.length} / ${py.scored}, ` +
      `surprise sums ${surpriseSum} / ${py.surprise_sum}`);
  }
  const [fit, score] = [median(fits), median(scores)];
  console.log(`ADFA-LD: fit on ${train.length} Training traces (${sv} support vectors on both sides), score ${scored.length} ` +
    `Validation and Attack traces; ν ${settings.nu}, γ ${settings.gamma}; median of 3; ratio = scikit-learn seconds / ours`);
  console.log(formatTable(['step', 'ours s', 'scikit-learn s', 'ratio'], [
    ['fit', fit.toFixed(3), py.fit_s.toFixed(3), `${(py.fit_s / fit).toFixed(2)}×`],
    ['score', score.toFixed(3), py.score_s.toFixed(3), `${(py.score_s / score).toFixed(2)}×`],
  ]));
}
