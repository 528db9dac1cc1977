/**
 * @module features/windows
 * Sliding syscall windows → sparse count/duration vectors, and labelled window sets.
 */
export * from './vocabulary.js';
export * from './sparse.js';
export * from './windows.js';
export * from './windowset.js';
export * from './npy.js';
