/**
 * @module serve/fixture
 * For the dashboard's tests: a small model trained in seconds, through the command line, on the committed
 * web-server sample (`data/web-demo/normal.jsonl.gz`, one sequence per HTTP request), and the sample's novel set
 * to replay (`io.jsonl.gz`: request logging with fsync, which the model finds novel).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { projectData } from '../testing/paths.js';

/** The compiled command line beside this module. */
export const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'cli', 'main.js');

export interface DemoData {
  normal: string;
  novel: string;
}

export function demoData(): DemoData {
  const normal = projectData('web-demo', 'normal.jsonl.gz');
  const novel = projectData('web-demo', 'io.jsonl.gz');
  for (const f of [normal, novel]) if (!existsSync(f)) throw new Error(`committed demo data missing: ${f}`);
  return { normal, novel };
}

/**
 * Trains a model on the normal set into `dir`: by default an order-4 n-gram (about 2 s); `ngram2`: an order-2 one (a
 * second ensemble member); `transformer`: a tiny Transformer, one epoch (about 6 s), for what only attention models
 * show; `timing`: the timing model (a sequence scored as a whole); `timing-h3`: the same with `--history 3`. Throws with the command's stderr on failure.
 */
export function trainDemoModel(dir: string, kind: 'ngram' | 'ngram2' | 'transformer' | 'timing' | 'timing-h3' = 'ngram'): string {
  const { normal } = demoData();
  const settings = kind === 'ngram' ? ['--order', '4'] : kind === 'ngram2' ? ['--order', '2'] : kind === 'timing' ? [] : kind === 'timing-h3' ? ['--history', '3']
    : ['--width', '16', '--heads', '2', '--ffn', '32', '--epochs', '1'];
  const r = spawnSync(process.execPath, [CLI, 'train', '--model', kind === 'ngram2' ? 'ngram' : kind === 'timing-h3' ? 'timing' : kind, ...settings, '--train', normal, '--segment', 'request', '-o', dir], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`train failed (${r.status}): ${r.stderr}`);
  return dir;
}
