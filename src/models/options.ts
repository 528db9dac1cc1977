/**
 * @module models/options
 * Parsers of `train` option values shared by the model kinds' option lists (`./lstm/options.ts`,
 * `./transformer/options.ts`; light: no onnxruntime import). Each returns a parser that throws RangeError naming the
 * flag and the text it got.
 */
import { KNOWN_TOKEN_FIELDS, type TokenField } from '../features/tokens/tokenizer.js';
import type { ModelOption, SettingValue } from './language-model.js';

/** The default predicted fields: the syscall name alone. */
export const DEFAULT_PREDICT = 'name';

/** Parses a `--predict` list: known token fields, comma-separated, `name` first, none twice. */
export function parsePredict(text: string): TokenField[] {
  const fields = text.split(',').map((f) => f.trim()).filter((f) => f !== '');
  if (fields[0] !== 'name') throw new RangeError(`--predict must start with name, got '${text}'`);
  for (const f of fields) {
    if (!KNOWN_TOKEN_FIELDS.includes(f as TokenField)) throw new RangeError(`--predict: unknown field '${f}' (known: ${KNOWN_TOKEN_FIELDS.join(', ')})`);
  }
  if (new Set(fields).size !== fields.length) throw new RangeError(`--predict: a field is given twice in '${text}'`);
  return fields as TokenField[];
}

/**
 * The `predict` option, shared by every kind: the token fields a model predicts jointly (one vocabulary over their
 * `|`-joined tokens), `name` first. `kinds`: the kinds named in the help text.
 */
export function predictOption(kinds: string): ModelOption {
  return opt('predict', '--predict <fields>', 'token fields the model predicts jointly, name first: name, or e.g. name,lat,size ' +
    `(the call's latency and byte-count buckets) (${kinds}; default name)`, DEFAULT_PREDICT, (t) => parsePredict(t).join(','));
}

/**
 * Label smoothing of the training loss (the neural kinds): the target gets 1 − x of the probability mass, the rest is
 * spread over the vocabulary. Default 0: the scores are perplexities of the data, and smoothing caps how surprising
 * a token can be.
 */
export function labelSmoothingOption(kinds: string): ModelOption {
  return opt('labelSmoothing', '--label-smoothing <x>', `label smoothing of the training loss, in [0, 1) (${kinds}; default 0)`, 0,
    fraction('--label-smoothing', 0, 1, false));
}

/** An integer in min..max (digits only). */
export function intIn(flag: string, min: number, max: number): (text: string) => number {
  return (text) => {
    const v = Number(text);
    if (!/^\s*\d+\s*$/.test(text) || !Number.isSafeInteger(v) || v < min || v > max) {
      throw new RangeError(`${flag} must be an integer in ${min}..${max}, got '${text}'`);
    }
    return v;
  };
}

/** A number in [min, max), or (min, max) when `openMin`. */
export function fraction(flag: string, min: number, max: number, openMin: boolean): (text: string) => number {
  return (text) => {
    const v = Number(text);
    if (text.trim() === '' || !(openMin ? v > min : v >= min) || !(v < max)) {
      const range = max === Infinity ? `${openMin ? '>' : '>='} ${min}` : `in ${openMin ? '(' : '['}${min}, ${max})`;
      throw new RangeError(`${flag} must be a number ${range}, got '${text}'`);
    }
    return v;
  };
}

/** An even integer in min..max. */
export function even(flag: string, min: number, max: number): (text: string) => number {
  const int = intIn(flag, min, max);
  return (t) => {
    const v = int(t);
    if (v % 2 !== 0) throw new RangeError(`${flag} must be even, got ${v}`);
    return v;
  };
}

/** A {@link ModelOption} from its parts. */
export const opt = (key: string, flag: string, description: string, defaultValue: SettingValue, parse: (t: string) => SettingValue): ModelOption =>
  ({ key, flag, description, defaultValue, parse });
