/**
 * @module models/options
 * Parsers of `train` option values shared by the model kinds' option lists (`./lstm/options.ts`,
 * `./transformer/options.ts`; light: no onnxruntime import). Each returns a parser that throws RangeError naming the
 * flag and the text it got.
 */
import type { ModelOption, SettingValue } from './language-model.js';

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
    if (text.trim() === '' || !(openMin ? v > min : v >= min) || !(v < max)) throw new RangeError(`${flag} must be a number in ${openMin ? '(' : '['}${min}, ${max}), got '${text}'`);
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
