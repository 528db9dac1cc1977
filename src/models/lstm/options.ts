/**
 * @module models/lstm/options
 * The LSTM model kind's settings as `train` options (light: no onnxruntime import, so the registry can list them
 * without loading the engine), and the field encodings it uses: learned embeddings for the syscall name, phase,
 * process and return class; sinusoidal codes for the time-delta bucket, pid, tid and the position in the sequence.
 */
import type { ModelOption, SettingValue } from '../language-model.js';
import { TOKEN_FIELDS, type TokenField } from '../../features/tokens/tokenizer.js';

export const LSTM_DESCRIPTION = 'LSTM language model over token fields (onnxruntime; early stopping, resumable checkpoints)';

/** Encoding and width of each token field (the syscall name's width is the `embed` setting). */
export const FIELD_ENCODING: Readonly<Record<TokenField, { encoding: 'learned' | 'sinusoidal'; dim: number }>> = {
  name: { encoding: 'learned', dim: 64 },
  phase: { encoding: 'learned', dim: 4 },
  dt: { encoding: 'sinusoidal', dim: 8 },
  proc: { encoding: 'learned', dim: 16 },
  pid: { encoding: 'sinusoidal', dim: 8 },
  tid: { encoding: 'sinusoidal', dim: 8 },
  ret: { encoding: 'learned', dim: 4 },
};

function intIn(flag: string, min: number, max: number): (text: string) => number {
  return (text) => {
    const v = Number(text);
    if (!/^\s*\d+\s*$/.test(text) || !Number.isSafeInteger(v) || v < min || v > max) {
      throw new RangeError(`${flag} must be an integer in ${min}..${max}, got '${text}'`);
    }
    return v;
  };
}

function positive(flag: string): (text: string) => number {
  return (text) => {
    const v = Number(text);
    if (!(v > 0 && v < 1)) throw new RangeError(`${flag} must be a number in (0, 1), got '${text}'`);
    return v;
  };
}

/** Token fields, comma-separated, starting with `name` (the predicted one). */
export function parseFields(text: string): string {
  const fields = text.split(',').map((f) => f.trim()).filter((f) => f !== '');
  if (fields[0] !== 'name') throw new RangeError(`--fields must start with name, got '${text}'`);
  for (const f of fields) if (!TOKEN_FIELDS.includes(f as TokenField)) throw new RangeError(`--fields: unknown field '${f}' (known: ${TOKEN_FIELDS.join(', ')})`);
  if (new Set(fields).size !== fields.length) throw new RangeError(`--fields: a field is given twice in '${text}'`);
  return fields.join(',');
}

const opt = (key: string, flag: string, description: string, defaultValue: SettingValue, parse: (t: string) => SettingValue): ModelOption =>
  ({ key, flag, description, defaultValue, parse });

export const LSTM_OPTIONS: readonly ModelOption[] = [
  opt('fields', '--fields <list>', 'token fields the LSTM reads, name first (lstm)', TOKEN_FIELDS.join(','), parseFields),
  opt('minCount', '--min-count <n>', 'keep tokens seen at least this often in training', 1, intIn('--min-count', 1, 1_000_000)),
  opt('embed', '--embed <n>', 'syscall-name embedding width (lstm)', 64, intIn('--embed', 1, 1024)),
  opt('positionDim', '--position-dim <n>', 'width of the sinusoidal position code, even; 0 = none (lstm)', 8, (t) => {
    const v = intIn('--position-dim', 0, 256)(t);
    if (v % 2 !== 0) throw new RangeError(`--position-dim must be even, got ${v}`);
    return v;
  }),
  opt('hidden', '--hidden <n>', 'LSTM hidden units (lstm)', 128, intIn('--hidden', 1, 4096)),
  opt('layers', '--layers <n>', 'LSTM layers (lstm)', 1, intIn('--layers', 1, 4)),
  opt('chunk', '--chunk <n>', 'truncated-BPTT chunk length (lstm)', 64, intIn('--chunk', 1, 1024)),
  opt('batch', '--batch <n>', 'sequences per training step (lstm)', 32, intIn('--batch', 1, 1024)),
  opt('epochs', '--epochs <n>', 'most training epochs (lstm)', 10, intIn('--epochs', 1, 1000)),
  opt('patience', '--patience <n>', 'stop after this many epochs without a better validation loss; 0 = never (lstm)', 2, intIn('--patience', 0, 1000)),
  opt('dropout', '--dropout <x>', 'dropout rate on the LSTM input and output in training; 0 = none (lstm)', 0.1, (t) => {
    const v = Number(t);
    if (!(v >= 0 && v < 1)) throw new RangeError(`--dropout must be a number in [0, 1), got '${t}'`);
    return v;
  }),
  opt('lr', '--lr <x>', 'peak learning rate (lstm)', 0.003, positive('--lr')),
  opt('seed', '--seed <n>', 'seed of the initial weights and the shuffling (lstm)', 1, intIn('--seed', 0, 2 ** 31)),
  opt('threads', '--threads <n>', 'onnxruntime threads (lstm)', 2, intIn('--threads', 1, 256)),
  opt('checkpoint', '--checkpoint <file>', 'resume from / write this training checkpoint (lstm)', '', (t) => t),
];
