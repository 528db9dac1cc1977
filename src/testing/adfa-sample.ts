/**
 * @module testing/adfa-sample
 * ADFA-LD (`../shared/data/adfa-ld/ADFA-LD.zip`) as the profile model's test and bench read it: every trace one
 * sequence (id = its path in the zip), split by set, in memory.
 */
import { traceSequence } from '../detect/adfa-eval.js';
import type { Sequence } from '../features/sequences/sequence.js';
import { iterateAdfaTraces } from '../trace/adfa/adfa.js';
import { sharedData } from './paths.js';

/** The traces of Training_Data_Master, Validation_Data_Master and Attack_Data_Master, in the zip's sorted order. */
export async function adfaSets(): Promise<{ train: Sequence[]; validation: Sequence[]; attack: Sequence[] }> {
  const out = { train: [] as Sequence[], validation: [] as Sequence[], attack: [] as Sequence[] };
  for await (const t of iterateAdfaTraces(sharedData('adfa-ld', 'ADFA-LD.zip'))) {
    const seq = traceSequence(t.trace.path, t.index, t.names);
    (t.trace.set === 'training' ? out.train : t.trace.set === 'validation' ? out.validation : out.attack).push(seq);
  }
  return out;
}
