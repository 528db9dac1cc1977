/**
 * @module features/windows/vocabulary
 * Syscall names → column indexes ("indexes instead of names"). Fitted on training data; once frozen, names it has
 * never seen go to one shared slot (index 0, `<unk>`) and are counted.
 */

export const UNKNOWN = '<unk>';

export class SyscallVocabulary {
  private readonly byName = new Map<string, number>();
  private readonly names: string[] = [UNKNOWN];
  private isFrozen = false;
  /** How many lookups of unseen names went to the unknown slot since the vocabulary was frozen. */
  unknownLookups = 0;
  /** The distinct unseen names met while frozen (at most 1,000 kept, for reports). */
  readonly unknownNames = new Set<string>();

  /** A vocabulary that grows with every new name until `freeze()`. */
  static growing(): SyscallVocabulary {
    return new SyscallVocabulary();
  }

  /** A frozen vocabulary of exactly these names (in this order, after `<unk>`). */
  static of(names: Iterable<string>): SyscallVocabulary {
    const v = new SyscallVocabulary();
    for (const n of names) v.index(n);
    v.freeze();
    return v;
  }

  get frozen(): boolean {
    return this.isFrozen;
  }

  /** Number of slots, the unknown slot included. */
  get size(): number {
    return this.names.length;
  }

  freeze(): this {
    this.isFrozen = true;
    return this;
  }

  /** The slot of `name`: adds it while growing; the unknown slot (0) for unseen names once frozen. */
  index(name: string): number {
    const i = this.byName.get(name);
    if (i !== undefined) return i;
    if (name === UNKNOWN) return 0;
    if (this.isFrozen) {
      this.unknownLookups++;
      if (this.unknownNames.size < 1000) this.unknownNames.add(name);
      return 0;
    }
    const j = this.names.length;
    this.names.push(name);
    this.byName.set(name, j);
    return j;
  }

  /** The slot of `name` without adding or counting anything; undefined if unseen. */
  lookup(name: string): number | undefined {
    return name === UNKNOWN ? 0 : this.byName.get(name);
  }

  name(index: number): string {
    const n = this.names[index];
    if (n === undefined) throw new RangeError(`vocabulary has no slot ${index} (size ${this.names.length})`);
    return n;
  }

  /** All names by slot, `<unk>` first. */
  list(): readonly string[] {
    return this.names;
  }

  toJSON(): { names: string[]; frozen: boolean } {
    return { names: this.names.slice(1), frozen: this.isFrozen };
  }

  static fromJSON(j: { names: string[]; frozen: boolean }): SyscallVocabulary {
    if (!j || !Array.isArray(j.names) || j.names.some((n) => typeof n !== 'string')) {
      throw new TypeError('vocabulary JSON: `names` must be an array of strings');
    }
    const v = new SyscallVocabulary();
    for (const n of j.names) v.index(n);
    if (v.size !== j.names.length + 1) throw new TypeError('vocabulary JSON: duplicate names');
    if (j.frozen) v.freeze();
    return v;
  }
}
