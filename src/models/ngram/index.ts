/**
 * @module models/ngram
 * The n-gram language model (interpolated modified Kneser-Ney) and its sequence scorer.
 */
export * from './ngram.js';
export * from './scorer.js';
