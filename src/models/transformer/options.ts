/**
 * @module models/transformer/options
 * The Transformer and Longformer model kinds' settings as `train` options (light: no onnxruntime import, so the
 * registry can list them without loading the engine). Both read the same token fields as the LSTM, with its field
 * encodings (`models/lstm/options.ts`: learned name / phase / process / return class, sinusoidal time delta / pid /
 * tid / position). Defaults are sized to train in minutes on 2 cores (the reference used d = 168, FFN 672).
 */
import type { ModelOption } from '../language-model.js';
import { even, fraction, intIn, labelSmoothingOption, opt, predictOption } from '../options.js';
import { TOKEN_FIELDS } from '../../features/tokens/tokenizer.js';
import { AUTO_FIELDS, parseFields } from '../lstm/options.js';

export const TRANSFORMER_DESCRIPTION = 'causal Transformer language model over token fields (pre-norm, SwiGLU; onnxruntime, incremental scoring)';
export const LONGFORMER_DESCRIPTION = 'Longformer-style language model: sliding-window causal attention plus a global start token (any length)';

/** The options of one attention kind (`longformer` adds --window and has no context limit). */
function attentionOptions(kind: 'transformer' | 'longformer'): ModelOption[] {
  const k = `(${kind})`;
  const out: ModelOption[] = [
    opt('fields', '--fields <list>', `token fields the model reads, name first, or 'auto' (as the LSTM's: ${TOKEN_FIELDS.join(',')} ` +
      `less pid, tid and those whose values each occur in one training sequence only) ${k}`, AUTO_FIELDS, parseFields),
    predictOption(kind),
    opt('minCount', '--min-count <n>', 'keep tokens seen at least this often in training', 1, intIn('--min-count', 1, 1_000_000)),
    opt('embed', '--embed <n>', `embedding width of the predicted unit (the syscall name) ${k}`, 64, intIn('--embed', 1, 1024)),
    opt('positionDim', '--position-dim <n>', `width of the sinusoidal position code, even; 0 = none ${k}`, 16, even('--position-dim', 0, 256)),
    opt('width', '--width <n>', `model width d, a multiple of --heads ${k}`, 64, intIn('--width', 1, 4096)),
    opt('layers', '--layers <n>', `attention blocks ${k}`, 2, intIn('--layers', 1, 24)),
    opt('heads', '--heads <n>', `attention heads ${k}`, 4, intIn('--heads', 1, 64)),
    opt('ffn', '--ffn <n>', `SwiGLU inner width ${k}`, 192, intIn('--ffn', 1, 16384)),
  ];
  if (kind === 'transformer') {
    out.push(opt('context', '--context <n>', 'attention span: each event sees at most this many events (itself included) (transformer)', 256,
      intIn('--context', 2, 8192)));
  } else {
    out.push(opt('window', '--window <n>', 'sliding attention window (itself included), besides the global start token (longformer)', 64,
      intIn('--window', 2, 4096)));
  }
  out.push(
    opt('chunk', '--chunk <n>', `tokens per training row; longer sequences train as pieces ${k}`, 256, intIn('--chunk', 2, 16384)),
    opt('batch', '--batch <n>', `rows per training step at full chunk length ${k}`, 8, intIn('--batch', 1, 1024)),
    opt('epochs', '--epochs <n>', `most training epochs ${k}`, 10, intIn('--epochs', 1, 1000)),
    opt('patience', '--patience <n>', `stop after this many epochs without a better validation loss; 0 = never ${k}`, 2, intIn('--patience', 0, 1000)),
    opt('dropout', '--dropout <x>', `dropout rate in training; 0 = none ${k}`, 0.01, fraction('--dropout', 0, 1, false)),
    opt('lr', '--lr <x>', `peak learning rate ${k}`, 0.002, fraction('--lr', 0, 1, true)),
    labelSmoothingOption(kind),
    opt('warmup', '--warmup <n>', `learning-rate warm-up steps ${k}`, 100, intIn('--warmup', 0, 1_000_000)),
    opt('seed', '--seed <n>', `seed of the initial weights and the shuffling ${k}`, 1, intIn('--seed', 0, 2 ** 31)),
    opt('threads', '--threads <n>', `onnxruntime threads ${k}`, 2, intIn('--threads', 1, 256)),
    opt('checkpoint', '--checkpoint <file>', `resume from / write this training checkpoint ${k}`, '', (t) => t),
  );
  return out;
}

export const TRANSFORMER_OPTIONS: readonly ModelOption[] = attentionOptions('transformer');
export const LONGFORMER_OPTIONS: readonly ModelOption[] = attentionOptions('longformer');
