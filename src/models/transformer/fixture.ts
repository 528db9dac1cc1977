/**
 * @module models/transformer/fixture
 * Test material for the attention models: synthetic event sequences (two noisy programs over all seven token
 * fields), a small config per kind, and a model with seeded random weights that are far from their initial scale
 * (so that attention is not uniform and every path of the network matters).
 */
import { seededRandom } from '../../engine/graph.js';
import type { Sequence as EventSequence } from '../../features/sequences/sequence.js';
import { Tokenizer, TOKEN_FIELDS } from '../../features/tokens/tokenizer.js';
import type { SyscallEvent } from '../../trace/event.js';
import { FIELD_ENCODING } from '../lstm/options.js';
import { AttentionModel } from './model.js';
import { transformerInitialParams, type TransformerConfig } from './network.js';

const PROGRAMS = [['open', 'read', 'read', 'close'], ['socket', 'connect', 'write', 'read', 'close']];

/** `count` sequences of `min`…`max` events. */
export function events(count: number, seed: number, min = 12, max = 40): EventSequence[] {
  const rand = seededRandom(seed);
  return Array.from({ length: count }, (_, s) => {
    const prog = PROGRAMS[s % 2]!;
    const pid = 100 + (s % 2) * 50;
    let ts = 0n;
    const evs: SyscallEvent[] = Array.from({ length: min + Math.floor(rand() * (max - min + 1)) }, (_, i) => {
      ts += BigInt(1 + Math.floor(rand() * 5000));
      const name = rand() < 0.05 ? 'mmap' : prog[i % prog.length]!;
      return { ts, cpu: 0, pid, tid: pid + (i % 3), proc: s % 2 ? 'curl' : 'cat', name, phase: 'complete', args: {}, ret: name === 'connect' ? -111 : 0 };
    });
    return { id: `s${s}`, events: evs };
  });
}

/** A tokenizer over all seven fields fitted on `seqs`. */
export function fittedTokenizer(seqs: readonly EventSequence[]): Tokenizer {
  return new Tokenizer(TOKEN_FIELDS, 1).fit(seqs);
}

/** A small config of either kind for this tokenizer. */
export function smallConfig(tokenizer: Tokenizer, window: number, globalStart: boolean, over: Partial<TransformerConfig> = {}): TransformerConfig {
  return {
    fields: tokenizer.fields.map((f) => ({
      name: f, vocab: tokenizer.vocabulary(f).size, encoding: FIELD_ENCODING[f].encoding, dim: f === 'name' ? 8 : FIELD_ENCODING[f].dim,
    })),
    positionDim: 8, width: 16, layers: 2, heads: 2, ffn: 24, window, globalStart, chunk: 32, batch: 4, epochs: 1, patience: 0,
    lr: 0.01, warmupSteps: 5, weightDecay: 0.01, clipNorm: 1, labelSmoothing: 0, dropout: 0, threads: 1, seed: 3, ...over,
  };
}

/** Seeded weights at a scale where attention is far from uniform. */
export function randomParams(cfg: TransformerConfig, seed = 5): Float32Array {
  const rand = seededRandom(seed);
  return transformerInitialParams(cfg).map((x) => 4 * x + 0.1 * (rand() - 0.5));
}

export function randomModel(cfg: TransformerConfig, seed = 5): AttentionModel {
  return new AttentionModel(cfg.globalStart ? 'longformer' : 'transformer', cfg, randomParams(cfg, seed), []);
}
