/**
 * @module features/preprocess
 * Preprocessing fitted on training data only: balancing, normalisation, Fisher-score selection, pipelines.
 */
export * from './matrix.js';
export * from './stage.js';
export * from './scale.js';
export * from './balance.js';
export * from './fisher.js';
export * from './pipeline.js';
