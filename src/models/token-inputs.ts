/**
 * @module models/token-inputs
 * The token inputs of a neural language model's graph run, shared by the LSTM's chunk feeder (`./lstm/chunks.ts`)
 * and the attention models' feeder (`./transformer/model.ts`): one int64 id buffer per field `tok_<field>` [B, T], the
 * positions `pos` [B, T] and the targets [B, T] (the next syscall name; −1 where there is none), refilled every run.
 */
import * as ort from 'onnxruntime-node';
import type { Sequence } from './training.js';

export class TokenInputs {
  readonly toks: BigInt64Array[];
  readonly pos: BigInt64Array;
  readonly targets: BigInt64Array;

  /** Buffers of `size` = B · T slots for `fieldCount` fields. */
  constructor(fieldCount: number, size: number) {
    this.toks = Array.from({ length: fieldCount }, () => new BigInt64Array(size)); // each [B, T]
    this.pos = new BigInt64Array(size); // [B, T]
    this.targets = new BigInt64Array(size); // [B, T]
  }

  /** Empties every slot (ids and positions 0, no target). */
  clear(): void {
    this.targets.fill(-1n);
    this.pos.fill(0n);
    for (const t of this.toks) t.fill(0n);
  }

  /** Slot `at` takes position `p` of `seq` as input and its next name as target (`target` false: input only). */
  put(at: number, seq: Sequence, p: number, target = true): void {
    for (let f = 0; f < this.toks.length; f++) this.toks[f]![at] = BigInt(seq[f]![p]!);
    if (!target) return;
    this.pos[at] = BigInt(p);
    this.targets[at] = BigInt(seq[0]![p + 1]!);
  }

  /** tok_<field>, targets and (when `withPos`) pos as [B, T] tensors. */
  tokenFeeds(fields: readonly { name: string }[], B: number, T: number, withPos: boolean): Record<string, ort.Tensor> {
    const out: Record<string, ort.Tensor> = { targets: new ort.Tensor('int64', this.targets, [B, T]) };
    fields.forEach((f, i) => { out[`tok_${f.name}`] = new ort.Tensor('int64', this.toks[i]!, [B, T]); });
    if (withPos) out['pos'] = new ort.Tensor('int64', this.pos, [B, T]);
    return out;
  }
}
