/**
 * @module models/soft-targets
 * Soft targets: what a student learns from a teacher at each predicted token, α · the teacher's next-token
 * distribution + (1 − α) · the observed token (temperature 1), for distillation (`lstm/distill.ts`) and for lifelong
 * updates, whose teacher is the old model (`update.ts`). Teachers are `LanguageModel`s with `distributionMany` (the
 * n-gram, the LSTM, the Transformer and the Longformer). The teacher's vocabulary is mapped onto the student's by
 * token string (a token the teacher does not know takes the teacher's `<unk>` probability), and each mapped row is
 * renormalised.
 */
import type { Sequence as EventSequence } from '../features/sequences/sequence.js';
import { N_SPECIAL, type Vocabulary } from '../features/tokens/vocabulary.js';
import { SCORE_BATCH } from './language-model.js';
import { SOFT_TARGET_MEMORY, SoftTargets } from './training.js';

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
 * The soft targets of `train` (`encoded`: the student's encoding of it), `SCORE_BATCH` sequences per teacher call:
 * {@link softTargets} of each, held in memory up to `memoryBytes` and in a temporary file beyond (`SoftTargets`:
 * `release()` it after training), and what giving them cost.
 */
export async function teacherTargets(dist: (seqs: readonly EventSequence[]) => Promise<Float32Array[]>, train: readonly EventSequence[],
  encoded: readonly Int32Array[][], map: Int32Array, teacherV: number, alpha: number,
  memoryBytes = SOFT_TARGET_MEMORY): Promise<{ soft: SoftTargets; info: DistillInfo }> {
  const soft = new SoftTargets(map.length, memoryBytes);
  let tokens = 0;
  const t0 = performance.now();
  try {
    for (let i = 0; i < train.length; i += SCORE_BATCH) {
      const rows = await dist(train.slice(i, i + SCORE_BATCH));
      rows.forEach((r, j) => {
        const s = softTargets(r, teacherV, map, encoded[i + j]![0]!, alpha);
        tokens += s.length / map.length;
        soft.add(s);
      });
    }
  } catch (e) {
    soft.release();
    throw e;
  }
  return { soft, info: { alpha, tokens, teacherSeconds: (performance.now() - t0) / 1000 } };
}
