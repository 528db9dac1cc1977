/**
 * @module features/sequences/connection
 * Attribution of events to server connections, and the per-connection segmenter.
 *
 * A connection opens when `accept`/`accept4` returns descriptor F in process P and closes at `close(F)` in P (or at
 * P's `exit_group`, or end of stream). An event belongs to a connection when it works on F (any thread of P), and
 * otherwise to the connection its thread last worked on (its "current" connection: one per thread for
 * thread-per-connection servers, the most recently active one for event loops). Events of threads with no current
 * connection belong to none and are counted as unassigned.
 *
 * Works on `complete` events and on raw entry/exit pairs (an exit takes the descriptor of its thread's last entry).
 */
import type { SyscallEvent } from '../../trace/event.js';
import {
  CappedSequence, checkMaxLen, emptySegmentCounts, fdLabel, fdOf, retDecoration, retOf,
  type Segmenter, type Sequence,
} from './sequence.js';

export const READ_CALLS: ReadonlySet<string> = new Set(['read', 'readv', 'recv', 'recvfrom', 'recvmsg', 'recvmmsg']);
export const WRITE_CALLS: ReadonlySet<string> = new Set([
  'write', 'writev', 'send', 'sendto', 'sendmsg', 'sendmmsg', 'sendfile', 'sendfile64',
]);
export const ACCEPT_CALLS: ReadonlySet<string> = new Set(['accept', 'accept4']);

export type CallKind = 'accept' | 'read' | 'write' | 'close' | 'connect' | 'other';

function kindOf(name: string): CallKind {
  if (READ_CALLS.has(name)) return 'read';
  if (WRITE_CALLS.has(name)) return 'write';
  if (ACCEPT_CALLS.has(name)) return 'accept';
  if (name === 'close') return 'close';
  if (name === 'connect') return 'connect';
  return 'other';
}

/** An open server connection: descriptor `fd` returned by accept in process `pid`. */
export interface Conn<T> {
  readonly id: string;
  readonly pid: number;
  readonly fd: number;
  /** strace `-yy` decoration of the socket (e.g. `TCP:[127.0.0.1:80->127.0.0.1:5000]`), when known. */
  label: string | undefined;
  /** What the segmenter keeps per connection. */
  data: T;
}

/** How one event relates to connections. */
export interface Attribution {
  kind: CallKind;
  /** The descriptor the call works on (from its entry for raw exits). */
  fd: number | undefined;
  /** strace decoration of that descriptor, when known. */
  label: string | undefined;
  /** The call finished (exit or complete), so `ret` is its result. */
  done: boolean;
  ret: number | undefined;
  /** The descriptor is the connection's own socket (not some other file of the thread). */
  onConnFd: boolean;
  /** The descriptor is one this process `connect`ed (a client socket, e.g. to a FastCGI backend). */
  onConnectedFd: boolean;
}

interface OpenEntry {
  name: string;
  fd: number | undefined;
  label: string | undefined;
}

function procKey(ev: SyscallEvent): number {
  return ev.pid >= 0 ? ev.pid : ev.tid;
}

/**
 * The attribution engine; subclasses decide what to do with a connection's events.
 * Memory: one entry per open connection, per thread with a current connection, per connected descriptor.
 */
export abstract class ConnectionEngine<T> implements Segmenter {
  readonly counts = emptySegmentCounts();
  /** pid → fd → connection. */
  private readonly conns = new Map<number, Map<number, Conn<T>>>();
  /** tid → its current connection. */
  private readonly current = new Map<number, Conn<T>>();
  /** tid → its open raw entry (raw mode only). */
  private readonly entries = new Map<number, OpenEntry>();
  /** pid → descriptors it connected (client sockets) → their decoration. */
  private readonly connected = new Map<number, Map<number, string | undefined>>();
  private readonly connSeq = new Map<number, number>();

  protected abstract opened(conn: Conn<T>, ev: SyscallEvent, out: Sequence[]): void;
  protected abstract event(conn: Conn<T>, ev: SyscallEvent, a: Attribution, out: Sequence[]): void;
  protected abstract closed(conn: Conn<T>, out: Sequence[]): void;
  protected abstract initData(pid: number, fd: number, id: string): T;

  push(ev: SyscallEvent, out: Sequence[]): void {
    this.counts.events++;
    const pid = procKey(ev);
    const a = this.attribute(ev);
    const byFd = this.conns.get(pid);

    if (a.kind === 'accept' && a.done && a.ret !== undefined && a.ret >= 0) {
      const stale = byFd?.get(a.ret);
      if (stale) this.close(stale, out);
      const k = this.connSeq.get(pid) ?? 0;
      this.connSeq.set(pid, k + 1);
      const id = `${pid}:${a.ret}#${k}`;
      const conn: Conn<T> = { id, pid, fd: a.ret, label: retDecoration(ev), data: this.initData(pid, a.ret, id) };
      let m = byFd;
      if (!m) this.conns.set(pid, (m = new Map()));
      m.set(conn.fd, conn);
      this.current.set(ev.tid, conn);
      this.opened(conn, ev, out);
      return;
    }

    let conn: Conn<T> | undefined;
    if (a.fd !== undefined && byFd?.has(a.fd)) {
      conn = byFd.get(a.fd)!;
      a.onConnFd = true;
      if (a.label && !conn.label) conn.label = a.label;
      this.current.set(ev.tid, conn);
    } else {
      conn = this.current.get(ev.tid);
    }
    if (a.fd !== undefined) this.trackConnected(pid, a);

    if (conn) this.event(conn, ev, a, out);
    else this.counts.unassigned++;

    if (conn && a.onConnFd && a.kind === 'close' && a.done) this.close(conn, out);
    if (ev.phase !== 'exit') {
      if (ev.name === 'exit_group') this.endProcess(pid, out);
      else if (ev.name === 'exit') this.current.delete(ev.tid);
    }
  }

  /** Works out descriptor, result and call kind of one event. */
  private attribute(ev: SyscallEvent): Attribution {
    const kind = kindOf(ev.name);
    const done = ev.phase !== 'entry';
    let fd = fdOf(ev);
    let label = fdLabel(ev);
    if (ev.phase === 'entry') {
      this.entries.set(ev.tid, { name: ev.name, fd, label });
    } else if (ev.phase === 'exit') {
      const open = this.entries.get(ev.tid);
      this.entries.delete(ev.tid);
      if (fd === undefined && open && (open.name === ev.name || ev.name === '' || ev.name === 'unknown')) {
        fd = open.fd;
        label = open.label;
      }
    }
    const realKind = ev.phase === 'exit' && (ev.name === '' || ev.name === 'unknown') ? 'other' : kind;
    return { kind: realKind, fd, label, done, ret: done ? retOf(ev) : undefined, onConnFd: false, onConnectedFd: false };
  }

  /** Keeps the set of connected (client) descriptors of each process up to date, and flags events on them. */
  private trackConnected(pid: number, a: Attribution): void {
    const fd = a.fd!;
    let m = this.connected.get(pid);
    if (a.kind === 'connect' && a.done && a.ret !== undefined && (a.ret === 0 || a.ret === -115 /* EINPROGRESS */)) {
      if (!m) this.connected.set(pid, (m = new Map()));
      m.set(fd, a.label);
    }
    if (m?.has(fd)) {
      a.onConnectedFd = true;
      if (a.label && !m.get(fd)) m.set(fd, a.label);
      if (!a.label) a.label = m.get(fd);
      if (a.kind === 'close' && a.done) m.delete(fd);
    }
  }

  private close(conn: Conn<T>, out: Sequence[]): void {
    this.conns.get(conn.pid)?.delete(conn.fd);
    for (const [tid, c] of this.current) if (c === conn) this.current.delete(tid);
    this.closed(conn, out);
  }

  private endProcess(pid: number, out: Sequence[]): void {
    const m = this.conns.get(pid);
    if (m) for (const conn of [...m.values()]) this.close(conn, out);
    this.conns.delete(pid);
    this.connected.delete(pid);
  }

  flush(out: Sequence[]): void {
    for (const m of [...this.conns.values()]) for (const conn of [...m.values()]) this.close(conn, out);
    this.conns.clear();
    this.current.clear();
    this.entries.clear();
    this.connected.clear();
  }
}

/** One sequence per server connection, from its accept to its close. */
export class ConnectionSegmenter extends ConnectionEngine<CappedSequence> {
  constructor(private readonly maxLen: number) {
    super();
    checkMaxLen(maxLen);
  }

  protected initData(_pid: number, _fd: number, id: string): CappedSequence {
    return new CappedSequence(`conn:${id}`, this.maxLen, this.counts);
  }

  protected opened(conn: Conn<CappedSequence>, ev: SyscallEvent): void {
    conn.data.add(ev);
  }

  protected event(conn: Conn<CappedSequence>, ev: SyscallEvent): void {
    conn.data.add(ev);
  }

  protected closed(conn: Conn<CappedSequence>, out: Sequence[]): void {
    conn.data.finish(out);
  }
}
