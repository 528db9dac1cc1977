/**
 * @module features/windows/windows
 * Sliding windows of N syscalls over a whole stream, or per process or per thread, each turned into a sparse vector
 * indexed by syscall slot: counts, total durations (ns, from the latency of `complete` events), or both.
 * Memory stays bounded: each stream/process/thread keeps only a ring of its last N events' contributions (slot,
 * latency, timestamp) and one counter pair per slot.
 */
import type { SyscallEvent } from '../../trace/event.js';
import { SyscallVocabulary } from './vocabulary.js';

/** What a window is split by: the whole stream, each process (`pid`), or each thread (`tid`). */
export type WindowSplit = 'stream' | 'process' | 'thread';
/** What each window's vector holds per syscall slot. */
export type WindowFeatures = 'counts' | 'durations' | 'both';

/** How windows are cut and what they hold. Build with `windowConfig()`, which fills defaults and validates. */
export interface WindowConfig {
  /** Syscalls per window, ≥ 1. Default 10,000 (the paper's setting). */
  readonly size: number;
  /** Syscalls between the starts of consecutive windows, ≥ 1. Default = size (no overlap); > size skips events. */
  readonly stride: number;
  /** Default 'stream'. */
  readonly split: WindowSplit;
  /**
   * 'counts': calls per slot; 'durations': summed latency (ns) per slot; 'both': interleaved, column 2·slot is the
   * count and 2·slot+1 the duration. Default 'counts'.
   */
  readonly features: WindowFeatures;
  /**
   * When true, each stream/process/thread that ends with events not covered by a full window yields one more window
   * of its last (up to `size`) events — so a trace shorter than `size` still gives one row. Default false.
   */
  readonly partial: boolean;
}

const SPLITS: readonly WindowSplit[] = ['stream', 'process', 'thread'];
const FEATURES: readonly WindowFeatures[] = ['counts', 'durations', 'both'];

/** A validated config: `size` default 10,000, `stride` default = size, split 'stream', features 'counts', partial false. */
export function windowConfig(fields: Partial<WindowConfig> = {}): WindowConfig {
  const known = new Set(['size', 'stride', 'split', 'features', 'partial']);
  for (const k of Object.keys(fields)) if (!known.has(k)) throw new TypeError(`window config: unknown field '${k}'`);
  const size = fields.size ?? 10_000;
  const stride = fields.stride ?? size;
  const split = fields.split ?? 'stream';
  const features = fields.features ?? 'counts';
  const partial = fields.partial ?? false;
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`window config: size must be an integer ≥ 1, got ${size}`);
  if (!Number.isInteger(stride) || stride < 1) throw new RangeError(`window config: stride must be an integer ≥ 1, got ${stride}`);
  if (!SPLITS.includes(split)) throw new RangeError(`window config: split must be one of ${SPLITS.join(', ')}, got '${split}'`);
  if (!FEATURES.includes(features)) throw new RangeError(`window config: features must be one of ${FEATURES.join(', ')}, got '${features}'`);
  if (typeof partial !== 'boolean') throw new TypeError('window config: partial must be a boolean');
  return Object.freeze({ size, stride, split, features, partial });
}

/** Columns per vocabulary slot. */
export function columnsPerSlot(features: WindowFeatures): number {
  return features === 'both' ? 2 : 1;
}

/** Column names for a vocabulary: the syscall name, or `count:name` / `ns:name` pairs for 'both'. */
export function featureNames(vocab: SyscallVocabulary, features: WindowFeatures): string[] {
  const out: string[] = [];
  for (const n of vocab.list()) {
    if (features === 'both') out.push(`count:${n}`, `ns:${n}`);
    else out.push(n);
  }
  return out;
}

/** One window's vector and where it came from. */
export interface Window {
  /** 'all', 'pid:<n>' or 'tid:<n>'. */
  readonly key: string;
  /** 0-based window number within its key. */
  readonly index: number;
  /** Events in the window (= size except for a partial window). */
  readonly events: number;
  readonly startTs: bigint;
  readonly endTs: bigint;
  /** Ascending column indexes of the non-zero entries. */
  readonly indices: Uint32Array;
  readonly values: Float64Array;
}

/** What windowing saw; nothing is dropped without being counted here. */
export interface WindowStats {
  events: number;
  windows: number;
  /** Events whose name went to the unknown slot (vocabulary frozen and name unseen). */
  unknownEvents: number;
  /** `entry`/`exit` events (no pair): counted, but add no duration. */
  unpairedEvents: number;
  /** `complete` events without a latency: counted, no duration. */
  noLatencyEvents: number;
  /** Events that fell in no window (in the gap when stride > size, or at the tail when `partial` is false). */
  eventsInNoWindow: number;
  /** Distinct streams/processes/threads. */
  keys: number;
}

export function emptyWindowStats(): WindowStats {
  return { events: 0, windows: 0, unknownEvents: 0, unpairedEvents: 0, noLatencyEvents: 0, eventsInNoWindow: 0, keys: 0 };
}

/** Per stream/process/thread state: a ring of the last `size` events and per-slot sums. */
class KeyState {
  slots: Int32Array;
  lat: Float64Array;
  ts: BigInt64Array;
  head = 0; // position of the oldest event in the ring
  len = 0;
  seen = 0; // events pushed so far
  lastEmitSeen = 0; // `seen` when the last window was emitted
  windows = 0;
  counts = new Float64Array(64);
  durs = new Float64Array(64);

  constructor(readonly key: string, capacity: number) {
    this.slots = new Int32Array(capacity);
    this.lat = new Float64Array(capacity);
    this.ts = new BigInt64Array(capacity);
  }
}

/**
 * Cuts events into windows. Feed events with `push`, then call `finish` once; both return the windows completed.
 * The vocabulary grows while not frozen (fitting on training data) and maps unseen names to `<unk>` once frozen.
 */
export class Windower {
  private readonly states = new Map<string, KeyState>();
  readonly stats: WindowStats = emptyWindowStats();
  private finished = false;

  constructor(readonly vocabulary: SyscallVocabulary, readonly config: WindowConfig) {
    windowConfig(config); // validates a hand-made config too
  }

  private keyOf(ev: SyscallEvent): string {
    switch (this.config.split) {
      case 'stream':
        return 'all';
      case 'process':
        return `pid:${ev.pid}`;
      case 'thread':
        return `tid:${ev.tid}`;
    }
  }

  push(ev: SyscallEvent): Window[] {
    if (this.finished) throw new Error('Windower.push after finish');
    const { size, stride } = this.config;
    const st = this.stats;
    st.events++;
    const key = this.keyOf(ev);
    let s = this.states.get(key);
    if (!s) {
      s = new KeyState(key, Math.min(size, 64));
      this.states.set(key, s);
      st.keys++;
    }
    const wasFrozen = this.vocabulary.frozen;
    const before = this.vocabulary.unknownLookups;
    const slot = this.vocabulary.index(ev.name);
    if (wasFrozen && this.vocabulary.unknownLookups > before) st.unknownEvents++;
    let lat = 0;
    if (ev.phase === 'complete') {
      if (typeof ev.latency === 'number' && Number.isFinite(ev.latency)) lat = ev.latency;
      else st.noLatencyEvents++;
    } else st.unpairedEvents++;

    if (slot >= s.counts.length) {
      let cap = s.counts.length;
      while (cap <= slot) cap *= 2;
      const c2 = new Float64Array(cap);
      c2.set(s.counts);
      const d2 = new Float64Array(cap);
      d2.set(s.durs);
      s.counts = c2;
      s.durs = d2;
    }
    // Drop the oldest event when the ring holds a full window.
    if (s.len === size) {
      const o = s.slots[s.head];
      s.counts[o]--;
      if (s.counts[o] === 0) s.durs[o] = 0;
      else s.durs[o] -= s.lat[s.head];
      s.head = (s.head + 1) % size;
      s.len--;
    } else if (s.len === s.slots.length) {
      this.grow(s, Math.min(size, s.slots.length * 2));
    }
    const at = (s.head + s.len) % s.slots.length;
    s.slots[at] = slot;
    s.lat[at] = lat;
    s.ts[at] = ev.ts;
    s.len++;
    s.counts[slot]++;
    s.durs[slot] += lat;
    s.seen++;
    if (s.seen >= size && (s.seen - size) % stride === 0) {
      // events between the previous window's end and this window's start were in no window
      const gap = s.seen - size - s.lastEmitSeen;
      if (gap > 0) st.eventsInNoWindow += gap;
      return [this.emit(s)];
    }
    return [];
  }

  /** Ends every stream/process/thread; with `partial`, emits their tails. */
  finish(): Window[] {
    if (this.finished) return [];
    this.finished = true;
    const out: Window[] = [];
    for (const s of this.states.values()) {
      const rest = s.seen - s.lastEmitSeen;
      if (rest <= 0) continue;
      if (this.config.partial) {
        const uncovered = Math.max(0, s.seen - s.len - s.lastEmitSeen);
        this.stats.eventsInNoWindow += uncovered;
        out.push(this.emit(s));
      } else this.stats.eventsInNoWindow += rest;
    }
    this.states.clear();
    return out;
  }

  private grow(s: KeyState, cap: number): void {
    const slots = new Int32Array(cap);
    const lat = new Float64Array(cap);
    const ts = new BigInt64Array(cap);
    for (let i = 0; i < s.len; i++) {
      const j = (s.head + i) % s.slots.length;
      slots[i] = s.slots[j];
      lat[i] = s.lat[j];
      ts[i] = s.ts[j];
    }
    s.slots = slots;
    s.lat = lat;
    s.ts = ts;
    s.head = 0;
  }

  private emit(s: KeyState): Window {
    const per = columnsPerSlot(this.config.features);
    const idx: number[] = [];
    const val: number[] = [];
    for (let k = 0; k < s.counts.length; k++) {
      if (s.counts[k] === 0) continue;
      if (this.config.features === 'counts') {
        idx.push(k);
        val.push(s.counts[k]);
      } else if (this.config.features === 'durations') {
        if (s.durs[k] !== 0) {
          idx.push(k);
          val.push(s.durs[k]);
        }
      } else {
        idx.push(k * per);
        val.push(s.counts[k]);
        if (s.durs[k] !== 0) {
          idx.push(k * per + 1);
          val.push(s.durs[k]);
        }
      }
    }
    const cap = s.slots.length;
    const w: Window = {
      key: s.key,
      index: s.windows++,
      events: s.len,
      startTs: s.ts[s.head],
      endTs: s.ts[(s.head + s.len - 1) % cap],
      indices: Uint32Array.from(idx),
      values: Float64Array.from(val),
    };
    s.lastEmitSeen = s.seen;
    this.stats.windows++;
    return w;
  }
}

/** The windows of an in-memory `source`, synchronously (no promise per event). */
export function* windowsSync(
  source: Iterable<SyscallEvent>,
  vocabulary: SyscallVocabulary,
  config: WindowConfig,
  stats?: WindowStats,
): Generator<Window> {
  const w = new Windower(vocabulary, config);
  try {
    for (const ev of source) yield* w.push(ev);
    yield* w.finish();
  } finally {
    if (stats) Object.assign(stats, w.stats);
  }
}

/** The windows of `source`, lazily. `stats` (if given) is filled in when iteration ends (or stops). */
export async function* windows(
  source: AsyncIterable<SyscallEvent> | Iterable<SyscallEvent>,
  vocabulary: SyscallVocabulary,
  config: WindowConfig,
  stats?: WindowStats,
): AsyncGenerator<Window> {
  if (!(Symbol.asyncIterator in source)) {
    yield* windowsSync(source, vocabulary, config, stats);
    return;
  }
  const w = new Windower(vocabulary, config);
  try {
    for await (const ev of source) yield* w.push(ev);
    yield* w.finish();
  } finally {
    if (stats) Object.assign(stats, w.stats);
  }
}
