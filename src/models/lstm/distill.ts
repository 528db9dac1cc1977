/**
 * @module models/lstm/distill
 * Knowledge distillation into a small LSTM student (`train --model lstm --teacher model/`): the student learns from
 * the teacher's whole next-name distribution at every position instead of the observed name alone. Its target at
 * each predicted token is q = α · P_teacher(· | prefix) + (1 − α) · onehot(observed name) (α = `--distill-alpha`,
 * default 0.7; temperature 1), and its loss is the cross-entropy against q (`Graph.softCrossEntropy`, through
 * `LstmModel.fit`'s soft targets). Early stopping and thresholds use the ordinary (hard-label) validation loss and
 * perplexity, so a student is scored and thresholded exactly like any LSTM.
 *
 * Teachers: any `LanguageModel` with `distributionMany` (the n-gram, the LSTM, the Transformer, the Longformer); the
 * soft targets are made as `../soft-targets.ts` says (the student's tokenizer is fitted on the training data as
 * usual). The student's fields (`--fields`, `auto` included) are its own: a teacher reading more fields (or fewer)
 * still gives a distribution over the same syscall names.
 */
import type { TokenField } from '../../features/tokens/tokenizer.js';
import type { LanguageModel, ModelSettings, TrainingData } from '../language-model.js';
import { teacherTargets, vocabularyMap, type DistillInfo } from '../soft-targets.js';
import { LstmLanguageModel, lstmConfig } from './adapter.js';
import { LstmModel } from './lstm.js';
import { AUTO_FIELDS, chooseFields } from './options.js';
import { neuralTokenizer, predictSetting, trainAndValid } from '../fit-data.js';

export const DEFAULT_DISTILL_ALPHA = 0.7;

/**
 * Fits an LSTM student (settings as for `--model lstm`) on the training data with the teacher's soft targets; the
 * validation sequences (or every 10th training sequence) serve early stopping as usual.
 */
export async function fitDistilledLstm(data: TrainingData, settings: ModelSettings, teacher: LanguageModel, alpha: number): Promise<{ model: LstmLanguageModel; info: DistillInfo }> {
  if (!(alpha >= 0 && alpha <= 1)) throw new RangeError(`distillation alpha must be in [0, 1], got ${alpha}`);
  if (String(settings.checkpoint ?? '') !== '') throw new RangeError('--checkpoint cannot be combined with --teacher');
  if (teacher.distributionMany === undefined) throw new RangeError(`a ${teacher.kind} teacher gives no next-token distributions (n-gram and neural teachers do)`);
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
  const { soft, info } = await teacherTargets((s) => teacher.distributionMany!(s), train, encoded, map, teacherV, alpha);
  try {
    const model = await LstmModel.fit(encoded, valid.map((s) => tokenizer.encode(s)), config, {}, soft);
    return { model: new LstmLanguageModel(model, tokenizer, settings), info };
  } finally {
    soft.release();
  }
}
