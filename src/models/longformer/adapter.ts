/**
 * @module models/longformer/adapter
 * The Longformer-style model kind: the attention language model of `models/transformer/` with a sliding attention
 * window of w events (`--window`) computed block by block (memory and time linear in the sequence length, so
 * requests of any length score whole) plus a global start token that every position attends to; the start token
 * itself attends only to itself, so no position sees a future token (`causality.test.ts`).
 */
import type { ModelKind } from '../language-model.js';
import { attentionKind } from '../transformer/adapter.js';

export const LONGFORMER_KIND: ModelKind = attentionKind('longformer');
