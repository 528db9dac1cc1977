/**
 * @module testing/web-sample
 * The committed web-server recordings (`data/web-novelty`, `data/web-demo`) as tests read them: one sequence per
 * HTTP request (entries paired with their exits, at most 10,000 events each), in memory.
 */
import { openData } from '../features/dataset.js';
import type { Sequence } from '../features/sequences/sequence.js';
import { projectData } from './paths.js';

/** The requests of `data/<sample>/<set>.jsonl.gz`, e.g. `webRequests('normal')`, `webRequests('io', 'web-demo')`. */
export async function webRequests(set: string, sample: 'web-novelty' | 'web-demo' = 'web-novelty'): Promise<Sequence[]> {
  const path = projectData(sample, `${set}.jsonl.gz`);
  const out: Sequence[] = [];
  for await (const s of openData({ kind: 'trace', arg: path, path }, { segmentation: 'request', maxLength: 10_000, pairing: 'paired', lenient: false })) out.push(s);
  return out;
}
