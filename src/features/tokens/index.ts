/**
 * @module features/tokens
 * Token tuples (Fournier's seven fields) and per-field vocabularies with special tokens, for the language models.
 */
export * from './vocabulary.js';
export * from './tokenizer.js';
