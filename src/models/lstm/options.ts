/**
 * @module models/lstm/options
 * The LSTM model kind's settings as `train` options (light: no onnxruntime import, so the registry can list them
 * without loading the engine), and the field encodings it uses: learned embeddings for the syscall name, phase,
 * process and return class; sinusoidal codes for the time-delta bucket, pid, tid and the position in the sequence.
 *
 * The size and training defaults suit the web-server demo. On ADFA-LD (`eval/adfa-lstm.ts`, Training_Data_Master
 * only) they give ROC AUC 0.815 (Validation vs Attack); `--hidden 256 --chunk 32 --batch 16 --lr 0.01 --dropout 0.3
 * --epochs 20 --patience 3 --position-dim 0` gives 0.846 there (training 307 s at load 0.4–2.9), but as defaults such
 * settings drop the demo's (first, loaded-machine sample's) connection, cpu and ssl AUCs from 0.75 / 0.72 / 0.66 to 0.48 / 0.38 / 0.30 (`--lr 0.01`
 * alone: ADFA-LD 0.832; demo 0.57 / 0.41 / 0.47).
 */
import type { ModelOption } from '../language-model.js';
import { even, fraction, intIn, labelSmoothingOption, opt, predictOption } from '../options.js';
import type { Sequence as EventSequence } from '../../features/sequences/sequence.js';
import type { SyscallEvent } from '../../trace/event.js';
import { fieldToken, KNOWN_TOKEN_FIELDS, TOKEN_FIELDS, type TokenField } from '../../features/tokens/tokenizer.js';

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
  lat: { encoding: 'learned', dim: 8 },
  size: { encoding: 'learned', dim: 8 },
};

/** The `fields` setting that lets the training data choose (see {@link chooseFields}). */
export const AUTO_FIELDS = 'auto';

/** Fields `auto` never picks: numbers the kernel hands out per run. */
export const RUN_FIELDS: readonly TokenField[] = ['pid', 'tid'];

/**
 * The fields of `auto`: the seven less pid and tid, and less those that only name a sequence — a field other than
 * `name` none of whose values occurs in two training sequences (ADFA-LD's process, which is the trace's path). Such a
 * value tells the model nothing it can use on other sequences: a test sequence's value is unknown (`<unk>`) or an
 * arbitrary number. pid and tid are left out always: they name one run's processes, so a model reading them tells
 * a restarted server from the one it was trained on — on the web-server recording the Transformer with them flags a
 * second *normal* run of the same server as novel (ROC AUC 0.85), and its "detection" of cpu, connection and ssl
 * was that (experiments/web-novelty/RESULTS.md). Give `--fields` to read them anyway. With fewer than two sequences
 * every other field is kept.
 */
export function chooseFields(train: readonly EventSequence[]): TokenField[] {
  const candidates = TOKEN_FIELDS.filter((f) => !RUN_FIELDS.includes(f));
  if (train.length < 2) return candidates;
  return candidates.filter((field) => {
    if (field === 'name') return true;
    const firstSeen = new Map<string, number>(); // value → the first sequence it occurs in
    for (let s = 0; s < train.length; s++) {
      let prev: SyscallEvent | undefined;
      for (const ev of train[s]!.events) {
        const v = fieldToken(field, ev, prev);
        prev = ev;
        const first = firstSeen.get(v);
        if (first === undefined) firstSeen.set(v, s);
        else if (first !== s) return true; // shared by two sequences
      }
    }
    return false;
  });
}

/** Token fields, comma-separated, starting with `name` (the predicted one); or `auto`. */
export function parseFields(text: string): string {
  if (text.trim() === AUTO_FIELDS) return AUTO_FIELDS;
  const fields = text.split(',').map((f) => f.trim()).filter((f) => f !== '');
  if (fields[0] !== 'name') throw new RangeError(`--fields must start with name, got '${text}'`);
  for (const f of fields) if (!KNOWN_TOKEN_FIELDS.includes(f as TokenField)) throw new RangeError(`--fields: unknown field '${f}' (known: ${KNOWN_TOKEN_FIELDS.join(', ')})`);
  if (new Set(fields).size !== fields.length) throw new RangeError(`--fields: a field is given twice in '${text}'`);
  return fields.join(',');
}

export const LSTM_OPTIONS: readonly ModelOption[] = [
  opt('fields', '--fields <list>', `token fields the LSTM reads, name first, or 'auto': ${TOKEN_FIELDS.join(',')} less pid, tid and ` +
    'those whose values each occur in one training sequence only (lstm)', AUTO_FIELDS, parseFields),
  predictOption('lstm'),
  opt('minCount', '--min-count <n>', 'keep tokens seen at least this often in training', 1, intIn('--min-count', 1, 1_000_000)),
  opt('embed', '--embed <n>', 'embedding width of the predicted unit (the syscall name) (lstm)', 64, intIn('--embed', 1, 1024)),
  opt('positionDim', '--position-dim <n>', 'width of the sinusoidal position code, even; 0 = none (lstm)', 8, even('--position-dim', 0, 256)),
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
  opt('lr', '--lr <x>', 'peak learning rate (lstm)', 0.003, fraction('--lr', 0, 1, true)),
  labelSmoothingOption('lstm'),
  opt('seed', '--seed <n>', 'seed of the initial weights and the shuffling (lstm)', 1, intIn('--seed', 0, 2 ** 31)),
  opt('threads', '--threads <n>', 'onnxruntime threads (lstm)', 2, intIn('--threads', 1, 256)),
  opt('checkpoint', '--checkpoint <file>', 'resume from / write this training checkpoint (lstm)', '', (t) => t),
];
