/**
 * @module features/sequences
 * Segmenters: turn a stream of `SyscallEvent`s into finished sequences (per thread, process, trace, window,
 * connection or request), with bounded memory and counts of what was truncated or left out.
 */
import type { SyscallEvent } from '../../trace/event.js';
import { ConnectionSegmenter } from './connection.js';
import { RequestSegmenter } from './request.js';
import { streamSequences, type Segmenter, type SequenceStream } from './sequence.js';
import { ProcessSegmenter, ThreadSegmenter, WindowSegmenter } from './simple.js';

export * from './sequence.js';
export { ConnectionSegmenter, ConnectionEngine, READ_CALLS, WRITE_CALLS, ACCEPT_CALLS } from './connection.js';
export { RequestSegmenter, mirrorEnds } from './request.js';
export { ProcessSegmenter, ThreadSegmenter, WindowSegmenter } from './simple.js';

/**
 * How to cut a stream into sequences.
 * - `thread`: per tid, ended by `exit`/`exit_group`; `trace`: per tid for sources whose threads are contiguous
 *   (ADFA-LD: one trace file = one tid), ended as soon as another tid appears;
 * - `process`: per pid; `window`: disjoint windows of `maxLen` events;
 * - `connection`: accept → close; `request`: one request/response on a connection, with linked workers.
 */
export type Segmentation = 'thread' | 'trace' | 'process' | 'window' | 'connection' | 'request';

export const SEGMENTATIONS: readonly Segmentation[] = ['thread', 'trace', 'process', 'window', 'connection', 'request'];

/** A fresh segmenter; `maxLen` caps each sequence (for `window`: the window size). */
export function createSegmenter(kind: Segmentation, maxLen: number): Segmenter {
  switch (kind) {
    case 'thread': return new ThreadSegmenter(maxLen, false);
    case 'trace': return new ThreadSegmenter(maxLen, true);
    case 'process': return new ProcessSegmenter(maxLen);
    case 'window': return new WindowSegmenter(maxLen, maxLen);
    case 'connection': return new ConnectionSegmenter(maxLen);
    case 'request': return new RequestSegmenter(maxLen);
  }
}

/** Segments an event stream; sequences are yielded as soon as each is finished. */
export function segment(events: AsyncIterable<SyscallEvent>, kind: Segmentation, maxLen: number): SequenceStream {
  return streamSequences(events, createSegmenter(kind, maxLen));
}
