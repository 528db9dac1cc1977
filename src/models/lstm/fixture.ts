/**
 * @module models/lstm/fixture
 * Test material for the LSTM: structured synthetic traces (two noisy periodic "programs"; field 1 = a learned
 * class of the syscall, field 2 = a sinusoidally coded "pid") and a small config. Run as a script
 * (`node fixture.js CHECKPOINT PAUSE_STEP`) it is the child process of the resume test: it trains with checkpoints
 * every 5 steps, prints `paused <step>` once it has taken PAUSE_STEP steps and then blocks until it is killed.
 */
import { writeSync } from 'node:fs';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { seededRandom } from '../../engine/graph.js';
import { fromTuples, LstmModel, type LstmConfig, type Sequence } from './lstm.js';

export const VOCAB = 10;
const MOTIFS = [[0, 1, 2, 3, 4, 5], [6, 2, 7, 8, 2, 9, 3]];

/** Sequences that repeat one of two motifs with 10 % random substitutions; fields: id, id mod 3, motif-dependent pid. */
export function synthetic(count: number, seed: number): Sequence[] {
  const rand = seededRandom(seed);
  return Array.from({ length: count }, () => {
    const m = rand() < 0.5 ? 0 : 1;
    const motif = MOTIFS[m]!;
    const n = 30 + Math.floor(rand() * 60);
    const start = Math.floor(rand() * motif.length);
    const pid = 20 * m + Math.floor(rand() * 5);
    const tuples = Array.from({ length: n }, (_, t) => {
      const id = rand() < 0.1 ? Math.floor(rand() * VOCAB) : motif[(start + t) % motif.length]!;
      return [id, id % 3, pid];
    });
    return fromTuples(tuples, 3);
  });
}

export const FIXTURE_CONFIG: LstmConfig = {
  fields: [
    { name: 'syscall', vocab: VOCAB, dim: 8, encoding: 'learned' },
    { name: 'argclass', vocab: 3, dim: 2, encoding: 'learned' },
    { name: 'pid', vocab: 64, dim: 4, encoding: 'sinusoidal' },
  ],
  positionDim: 4, hidden: 32, layers: 2, chunk: 16, batch: 8, epochs: 4, patience: 0,
  lr: 0.02, warmupSteps: 10, weightDecay: 0.01, clipNorm: 1, labelSmoothing: 0.05, dropout: 0.1, threads: 1, seed: 5,
};

async function child(file: string, pauseAt: number): Promise<void> {
  await LstmModel.fit(synthetic(80, 1), synthetic(16, 2), FIXTURE_CONFIG, {
    checkpoint: { file, everySteps: 5 },
    onProgress: (p) => {
      if (p.totalSteps !== pauseAt) return;
      writeSync(1, `paused ${p.totalSteps}\n`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 120_000); // until the parent kills us
    },
  });
  writeSync(1, 'finished\n');
}

if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await child(process.argv[2]!, Number(process.argv[3]));
}
