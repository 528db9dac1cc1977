/**
 * @module models/lstm/distill
 * Knowledge distillation into a small LSTM student (`train --model lstm --teacher model/`): the student learns from
 * the teacher's whole next-name distribution at every position instead of the observed name alone. Its target at
 * each predicted token is q = α · P_teacher(· | prefix) + (1 − α) · onehot(observed name) (α = `--distill-alpha`,
 * default 0.7; temperature 1), and its loss is the cross-entropy against q (`Graph.softCrossEntropy`, through
 * `LstmModel.fit`'s soft targets). Early stopping and thresholds use the ordinary (hard-label) validation loss and
 * perplexity, so a student is scored and thresholded exactly like any LSTM.
 *
 * Teachers: any `LanguageModel` with `distributionMany` (the n-gram; other kinds that add it), and the LSTM (through
 * `LstmModel.distributionMany`). The teacher's name vocabulary is mapped onto the student's by token string (the
 * student's tokenizer is fitted on the training data as usual; a name the teacher does not know takes the teacher's
 * `<unk>` probability), and each mapped row is renormalised. The student's fields (`--fields`, `auto` included) are
 * its own: a teacher reading more fields (or fewer) still gives a distribution over the same syscall names.
 */
import type { Sequence as EventSequence } from '../../features/sequences/sequence.js';
import { Tokenizer, type TokenField } from '../../features/tokens/tokenizer.js';
import { N_SPECIAL, type Vocabulary } from '../../features/tokens/vocabulary.js';
import { SCORE_BATCH, type LanguageModel, type ModelSettings, type TrainingData } from '../language-model.js';
import { LstmLanguageModel, lstmConfig } from './adapter.js';
import { LstmModel, type Sequence } from './lstm.js';
import { AUTO_FIELDS, chooseFields } from './options.js';
import { neuralTokenizer, predictSetting, trainAndValid } from '../fit-data.js';

export const DEFAULT_DISTILL_ALPHA = 0.7;

/** The most memory the soft targets of one training run may take (they are all held while it trains). */
export const SOFT_TARGET_BYTES = 2 ** 31;

/** The teacher's next-token distributions (over its predicted unit) of `seqs` (`[(T_i + 1) * V_teacher]` each), or undefined when it has none. */
export function distributionsOf(teacher: LanguageModel): ((seqs: readonly EventSequence[]) => Promise<Float32Array[]>) | undefined {
  if (teacher.distributionMany) return (seqs) => teacher.distributionMany!(seqs);
  if (teacher instanceof LstmLanguageModel) return (seqs) => teacher.model.distributionMany(seqs.map((s) => teacher.tokenizer.encode(s)));
  return undefined;
}

/** Student name id → teacher name id (by token string; unknown to the teacher → its `<unk>`). */
export function vocabularyMap(student: Vocabulary, teacher: Vocabulary): Int32Array {
  const map = new Int32Array(student.size);
  for (let id = 0; id < student.size; id++) map[id] = id < N_SPECIAL ? id : teacher.id(student.token(id));
  return map;
}

/**
 * Soft targets of one sequence in the student's vocabulary: for each predicted token t, α · (the teacher's row t
 * mapped and renormalised) + (1 − α) · onehot(names[t + 1]); `names` = the student's encoded name field `[T + 2]`.
 */
export function softTargets(teacherRows: Float32Array, teacherV: number, map: Int32Array, names: Int32Array, alpha: number): Float32Array {
  const n = names.length - 1;
  if (teacherRows.length !== n * teacherV) throw new RangeError(`teacher gave ${teacherRows.length / teacherV} rows for ${n} predicted tokens`);
  const V = map.length;
  const out = new Float32Array(n * V);
  for (let t = 0; t < n; t++) {
    let sum = 0;
    for (let v = 0; v < V; v++) sum += teacherRows[t * teacherV + map[v]];
    const k = sum > 0 ? alpha / sum : 0;
    for (let v = 0; v < V; v++) out[t * V + v] = k * teacherRows[t * teacherV + map[v]];
    out[t * V + names[t + 1]] += sum > 0 ? 1 - alpha : 1;
  }
  return out;
}

export interface DistillInfo {
  alpha: number;
  /** Soft-target rows computed (predicted tokens of the training sequences). */
  tokens: number;
  /** Seconds the teacher took to give them. */
  teacherSeconds: number;
}

/**
 * Fits an LSTM student (settings as for `--model lstm`) on the training data with the teacher's soft targets; the
 * validation sequences (or every 10th training sequence) serve early stopping as usual.
 */
export async function fitDistilledLstm(data: TrainingData, settings: ModelSettings, teacher: LanguageModel, alpha: number): Promise<{ model: LstmLanguageModel; info: DistillInfo }> {
  if (!(alpha >= 0 && alpha <= 1)) throw new RangeError(`distillation alpha must be in [0, 1], got ${alpha}`);
  if (String(settings.checkpoint ?? '') !== '') throw new RangeError('--checkpoint cannot be combined with --teacher');
  const dist = distributionsOf(teacher);
  if (dist === undefined) throw new RangeError(`a ${teacher.kind} teacher gives no next-token distributions (LSTM and n-gram teachers do)`);
  const { train, valid } = await trainAndValid(data);
  const fields = settings.fields === AUTO_FIELDS ? chooseFields(train) : String(settings.fields).split(',') as TokenField[];
  const tokenizer = neuralTokenizer(fields, predictSetting(settings), settings.minCount as number).fit(train);
  const unit = tokenizer.jointName;
  if (teacher.tokenizer.jointName !== unit) {
    throw new RangeError(`the teacher predicts '${teacher.tokenizer.jointName}', the student '${unit}': give the student --predict ${teacher.tokenizer.predicted.join(',')}`);
  }
  const config = lstmConfig(settings, tokenizer);
  const map = vocabularyMap(tokenizer.vocabulary(unit), teacher.tokenizer.vocabulary(unit));
  const teacherV = teacher.tokenizer.vocabulary(unit).size;
  const encoded = train.map((s) => tokenizer.encode(s));
  const { soft, info } = await teacherTargets(dist, train, encoded, map, teacherV, alpha);
  const model = await LstmModel.fit(encoded, valid.map((s) => tokenizer.encode(s)), config, {}, soft);
  return { model: new LstmLanguageModel(model, tokenizer, settings), info };
}

/**
 * The soft targets of `train` (`encoded`: the student's encoding of it), `SCORE_BATCH` sequences per teacher call:
 * {@link softTargets} of each, and what giving them cost.
 */
export async function teacherTargets(dist: (seqs: readonly EventSequence[]) => Promise<Float32Array[]>, train: readonly EventSequence[],
  encoded: readonly Int32Array[][], map: Int32Array, teacherV: number, alpha: number): Promise<{ soft: Float32Array[]; info: DistillInfo }> {
  // Held in memory for the whole training run: refuse at once what would not fit rather than fail late.
  const bytes = encoded.reduce((a, s) => a + Math.max(0, s[0]!.length - 1), 0) * map.length * 4;
  if (bytes > SOFT_TARGET_BYTES) {
    throw new RangeError(`the soft targets of ${train.length} training sequences would take ${(bytes / 2 ** 30).toFixed(1)} GiB `
      + `(predicted tokens × ${map.length} names × 4 bytes; at most ${SOFT_TARGET_BYTES / 2 ** 30} GiB): give fewer or shorter sequences`);
  }
  const soft: Float32Array[] = [];
  let tokens = 0;
  const t0 = performance.now();
  for (let i = 0; i < train.length; i += SCORE_BATCH) {
    const rows = await dist(train.slice(i, i + SCORE_BATCH));
    rows.forEach((r, j) => {
      const s = softTargets(r, teacherV, map, encoded[i + j]![0]!, alpha);
      tokens += s.length / map.length;
      soft.push(s);
    });
  }
  return { soft, info: { alpha, tokens, teacherSeconds: (performance.now() - t0) / 1000 } };
}
