/**
 * @module features/tokens/vocabulary
 * A vocabulary for one token field: strings ↔ dense integer ids, fitted on training data with a minimum count,
 * with five special tokens at fixed ids (pad=0, unknown=1, start=2, end=3, truncate=4). Unseen or rare strings map
 * to `unknown`. Serializable to JSON.
 */

export const PAD = 0;
export const UNKNOWN = 1;
export const START = 2;
export const END = 3;
export const TRUNCATE = 4;
export const SPECIAL_TOKENS: readonly string[] = ['<pad>', '<unk>', '<s>', '</s>', '<trunc>'];
export const N_SPECIAL = SPECIAL_TOKENS.length;

export interface VocabularyJSON {
  minCount: number;
  /** Regular tokens in id order (ids start at N_SPECIAL). */
  tokens: string[];
  /** Training count of each regular token. */
  counts: number[];
  /** Training occurrences that mapped to `<unk>` (below minCount). */
  unknownCount: number;
}

export class Vocabulary {
  private readonly index = new Map<string, number>();

  private constructor(
    readonly minCount: number,
    /** Regular tokens, id = N_SPECIAL + position. */
    private readonly tokens: readonly string[],
    readonly counts: readonly number[],
    readonly unknownCount: number,
  ) {
    tokens.forEach((t, i) => this.index.set(t, N_SPECIAL + i));
  }

  /**
   * Keeps strings seen at least `minCount` times, most frequent first (ties by string order, so fitting is
   * deterministic).
   */
  static fit(counts: ReadonlyMap<string, number>, minCount: number): Vocabulary {
    if (!Number.isInteger(minCount) || minCount < 1) throw new RangeError(`minCount must be a positive integer, got ${minCount}`);
    const kept = [...counts].filter(([, c]) => c >= minCount);
    kept.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    let unknown = 0;
    for (const [, c] of counts) if (c < minCount) unknown += c;
    return new Vocabulary(minCount, kept.map((k) => k[0]), kept.map((k) => k[1]), unknown);
  }

  /**
   * This vocabulary grown by more training counts (lifelong updates, `syscall-anomaly update`): every id kept, the
   * counts of known strings summed, and the strings new here seen at least `minCount` times in `counts` appended,
   * most frequent first. A string that stayed below `minCount` before is judged on the new counts alone (only the
   * total of such occurrences was kept).
   */
  extend(counts: ReadonlyMap<string, number>): Vocabulary {
    const added = [...counts].filter(([t, c]) => !this.index.has(t) && c >= this.minCount);
    added.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    let unknown = this.unknownCount;
    for (const [t, c] of counts) if (!this.index.has(t) && c < this.minCount) unknown += c;
    return new Vocabulary(
      this.minCount,
      [...this.tokens, ...added.map((k) => k[0])],
      [...this.counts.map((c, i) => c + (counts.get(this.tokens[i]!) ?? 0)), ...added.map((k) => k[1])],
      unknown,
    );
  }

  /** Number of ids, specials included. */
  get size(): number {
    return N_SPECIAL + this.tokens.length;
  }

  /** Id of a string; `UNKNOWN` when it is not in the vocabulary. */
  id(token: string): number {
    return this.index.get(token) ?? UNKNOWN;
  }

  has(token: string): boolean {
    return this.index.has(token);
  }

  /** String of an id (special tokens as `<pad>`, `<unk>`, `<s>`, `</s>`, `<trunc>`). */
  token(id: number): string {
    if (id >= 0 && id < N_SPECIAL) return SPECIAL_TOKENS[id];
    const t = this.tokens[id - N_SPECIAL];
    if (t === undefined) throw new RangeError(`token id ${id} out of range 0..${this.size - 1}`);
    return t;
  }

  toJSON(): VocabularyJSON {
    return { minCount: this.minCount, tokens: [...this.tokens], counts: [...this.counts], unknownCount: this.unknownCount };
  }

  static fromJSON(j: VocabularyJSON): Vocabulary {
    if (!Array.isArray(j.tokens) || !Array.isArray(j.counts) || j.tokens.length !== j.counts.length) {
      throw new Error('vocabulary JSON: tokens and counts must be arrays of the same length');
    }
    if (new Set(j.tokens).size !== j.tokens.length) throw new Error('vocabulary JSON: duplicate tokens');
    return new Vocabulary(j.minCount, j.tokens, j.counts, j.unknownCount ?? 0);
  }
}
