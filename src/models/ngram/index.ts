/**
 * @module models/ngram
 * The n-gram language model (interpolated modified Kneser-Ney), its sequence scorer and its incremental scorer.
 */
export * from './ngram.js';
export * from './scorer.js';
export * from './incremental.js';
