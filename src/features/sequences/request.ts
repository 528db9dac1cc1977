/**
 * @module features/sequences/request
 * One sequence per request on a server connection (HTTP keep-alive: N requests on one connection → N sequences).
 *
 * A request starts at the first read/recv on the connection socket that returns data (> 0 bytes) while no request is
 * open or after the open one has written its response, and ends at the last write/send on that socket before the
 * next such read (or at close / exit / end of stream). Events after that last write and before the next request's
 * read, and events on the connection before its first request, are counted as unassigned.
 *
 * Handshakes (TLS): a connection's leading exchanges that do no work — nothing but calls on the connection and calls
 * on no file or other socket (TLS: read ClientHello → write ServerHello…; read Finished → write session tickets) —
 * are a preamble, not requests: up to `LEADING_EXCHANGES` of them are held back, and when the exchange after them
 * does work (opens or stats a file, reads or writes another descriptor, connects…) they are merged into it (all
 * their events, from the first read on). Otherwise (a protocol whose requests do no work, or a closed connection)
 * they are emitted as requests of their own, as before.
 *
 * Linked workers (e.g. PHP-FPM behind a web server over FastCGI): when a request's thread connects/writes to a
 * socket it `connect`ed, the request waits on a backend. A request that then starts in another process (the worker
 * reading the FastCGI request on a connection it accepted) is linked to it: its events up to its last write back are
 * merged (by timestamp) into the server's request sequence and it is not emitted on its own. With strace `-yy`
 * socket decorations the two socket ends must mirror each other (`A->B` vs `B->A`); without them the worker's
 * request must be the first on a connection accepted (accept returned) after the waiting request first connected or
 * wrote to its backend, and exactly one waiting request may qualify (else counted as ambiguous and left standalone);
 * when the trace names no sockets at all (perf, LTTng) the worker must also be another program (process name) than
 * the server. Without these rules a peer server process
 * (Apache prefork children, each querying a database that is not traced) would have its requests merged into
 * whichever request waits on the database.
 *
 * A read that returns 0 (the client closed its end) after a response ends the request: what follows (a TLS
 * close_notify written back, the close) is unassigned, so a connection's last request looks like the others. A
 * connection's last exchange that read data but neither answered nor did work (the client's TLS close_notify, a
 * request cut off by the client) is not a request: its events are counted as unassigned.
 */
import type { SyscallEvent } from '../../trace/event.js';
import { ConnectionEngine, type Attribution, type Conn } from './connection.js';
import { checkMaxLen, type Sequence } from './sequence.js';

/** Leading exchanges of a connection that a request doing work takes in as its preamble (TLS 1.2 and 1.3: two). */
export const LEADING_EXCHANGES = 2;

/** Calls that are work whatever their descriptor: files, directories, processes. */
const WORK_CALLS: ReadonlySet<string> = new Set([
  'open', 'openat', 'openat2', 'creat', 'stat', 'lstat', 'newstat', 'newlstat', 'newfstatat', 'fstatat64', 'statx',
  'access', 'faccessat', 'faccessat2', 'readlink', 'readlinkat', 'unlink', 'unlinkat', 'rename', 'renameat',
  'renameat2', 'mkdir', 'mkdirat', 'rmdir', 'chdir', 'fchdir', 'getdents', 'getdents64', 'execve', 'execveat', 'clone',
  'clone3', 'fork', 'vfork', 'socket', 'connect',
]);

/** Whether an event is work beyond the exchange itself: a file or process call, or I/O on another descriptor. */
function isWork(ev: SyscallEvent, a: Attribution): boolean {
  if (WORK_CALLS.has(ev.name)) return true;
  return !a.onConnFd && a.fd !== undefined && (a.kind === 'read' || a.kind === 'write' || a.kind === 'accept');
}

interface Req {
  id: string;
  pid: number;
  events: SyscallEvent[];
  /** Events up to (and including) the last response write. */
  committed: number;
  responded: boolean;
  truncated: boolean;
  finished: boolean;
  /** Decorations of the backend sockets written to (undefined entries when unknown). */
  backend: (string | undefined)[];
  /** Worker requests linked to this one. */
  workers: Req[];
  /** The server request this (worker) request is linked to. */
  linkedTo: Req | undefined;
  /** A linked worker's events, fixed when it finished before its server request. */
  final: SyscallEvent[] | undefined;
  /** Label of the connection socket (for mirror matching). */
  connLabel: string | undefined;
  /** Process name of the connection's process (from its accept). */
  proc: string;
  /** Start of its first write/connect to a backend (a connected socket), when it waited on one. */
  backendSince: bigint | undefined;
  /** First request on its connection: when the accept returned; undefined for later requests. */
  freshSince: bigint | undefined;
  /** It did work (see `isWork`). */
  work: boolean;
  /** It did work up to its last response write. */
  workCommitted: boolean;
  /** Events of the leading exchanges merged into it (handshake), before its own. */
  prefix: SyscallEvent[];
}

interface ConnState {
  req: Req | undefined;
  count: number;
  /** The last unassigned event on this connection (a raw read entry that may open the next request). */
  lastOutside: SyscallEvent | undefined;
  /** When the accept that opened the connection returned. */
  acceptedAt: bigint;
  /** Process name at the accept. */
  proc: string;
  /** Still in the leading exchanges (no request doing work has finished yet). */
  leading: boolean;
  /** Leading exchanges held back (no work done). */
  pending: Req[];
}

/**
 * `TCP:[a->b]` → { kind: 'TCP', a, b }; strace appends the bound path to Unix sockets
 * (`UNIX-STREAM:[73095->73110,"/run/php.sock"]`), which is dropped.
 */
function parseEnds(label: string | undefined): { kind: string; a: string; b: string } | undefined {
  if (!label) return undefined;
  const m = /^([A-Za-z0-9-]+):\[(.*)\]$/.exec(label);
  if (!m) return undefined;
  const body = m[2].replace(/,".*"$/, '');
  const arrow = body.indexOf('->');
  if (arrow <= 0 || arrow + 2 >= body.length) return undefined;
  return { kind: m[1], a: body.slice(0, arrow), b: body.slice(arrow + 2) };
}

/** Whether two socket decorations name the two ends of one connection. */
export function mirrorEnds(x: string | undefined, y: string | undefined): boolean | undefined {
  const p = parseEnds(x);
  const q = parseEnds(y);
  if (!p || !q) return undefined;
  return p.kind === q.kind && p.a === q.b && p.b === q.a;
}

function isMatchingEntry(ev: SyscallEvent | undefined, exit: SyscallEvent): boolean {
  return ev !== undefined && ev.phase === 'entry' && ev.tid === exit.tid && ev.name === exit.name;
}

function mergeByTs(a: SyscallEvent[], b: SyscallEvent[]): SyscallEvent[] {
  const out: SyscallEvent[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) out.push(b[j].ts < a[i].ts ? b[j++] : a[i++]);
  while (i < a.length) out.push(a[i++]);
  while (j < b.length) out.push(b[j++]);
  return out;
}

export class RequestSegmenter extends ConnectionEngine<ConnState> {
  /** Requests waiting on a backend (wrote to a connected socket) and not finished yet. */
  private readonly waiting = new Set<Req>();

  constructor(private readonly maxLen: number) {
    super();
    checkMaxLen(maxLen);
  }

  protected initData(): ConnState {
    return { req: undefined, count: 0, lastOutside: undefined, acceptedAt: 0n, proc: '', leading: true, pending: [] };
  }

  protected opened(conn: Conn<ConnState>, ev: SyscallEvent): void {
    conn.data.acceptedAt = ev.phase === 'complete' ? ev.ts + BigInt(ev.latency ?? 0) : ev.ts;
    conn.data.proc = ev.proc;
    this.counts.unassigned++; // the accept itself precedes the first request
  }

  protected event(conn: Conn<ConnState>, ev: SyscallEvent, a: Attribution, out: Sequence[]): void {
    const st = conn.data;
    const dataRead = a.onConnFd && a.kind === 'read' && a.done && a.ret !== undefined && a.ret > 0;
    if (dataRead) {
      let carry: SyscallEvent | undefined;
      if (st.req?.responded) {
        const r = st.req;
        const last = r.events.length > r.committed ? r.events[r.events.length - 1] : undefined;
        if (isMatchingEntry(last, ev)) {
          carry = r.events.pop();
        }
        this.complete(st, r, out, false);
        st.req = undefined;
      } else if (!st.req && isMatchingEntry(st.lastOutside, ev)) {
        carry = st.lastOutside;
        this.counts.unassigned--;
      }
      if (!st.req) {
        st.req = this.start(conn);
        if (carry) this.add(st.req, carry);
      }
      st.lastOutside = undefined;
      this.add(st.req, ev);
      return;
    }
    const r = st.req;
    if (!r) {
      this.counts.unassigned++;
      st.lastOutside = ev;
      return;
    }
    if (r.responded && a.onConnFd && a.kind === 'read' && a.done && a.ret === 0) {
      this.counts.unassigned++; // end of the client's stream: the request is over
      st.req = undefined;
      this.complete(st, r, out, true);
      return;
    }
    this.add(r, ev);
    if (!r.work && isWork(ev, a)) r.work = true;
    if (a.onConnFd && a.kind === 'write' && a.done && (a.ret === undefined || a.ret >= 0)) {
      r.responded = true;
      r.committed = r.events.length;
      r.workCommitted = r.work;
    }
    if (a.onConnectedFd && a.done && !r.linkedTo) {
      if (a.kind === 'write' || a.kind === 'connect') {
        r.backend.push(a.label);
        if (r.backendSince === undefined) r.backendSince = ev.ts;
        this.waiting.add(r);
      } else if (a.kind === 'read' && a.ret !== undefined && a.ret > 0) {
        this.waiting.delete(r); // the backend answered
      }
    }
  }

  protected closed(conn: Conn<ConnState>, out: Sequence[]): void {
    const st = conn.data;
    const r = st.req;
    st.req = undefined;
    if (r && !r.responded && !r.work && !r.truncated && r.workers.length === 0 && !r.linkedTo && st.count > 1) {
      this.counts.unassigned += r.events.length; // trailing data, no answer (TLS close_notify)
      r.finished = true;
      this.waiting.delete(r);
    } else if (r) this.complete(st, r, out, true);
    for (const p of st.pending) this.finish(p, out);
    st.pending = [];
  }

  /** A request's exchange is over: hold it back as a leading exchange, take the held-back ones in, or emit them. */
  private complete(st: ConnState, r: Req, out: Sequence[], closing: boolean): void {
    if (st.leading) {
      // Work after the last response write (logging the next exchange's bytes) does not count.
      const pure = !(r.responded ? r.workCommitted : r.work) && !r.truncated && !r.linkedTo && r.workers.length === 0 && r.backend.length === 0;
      if (pure && !closing && st.pending.length < LEADING_EXCHANGES) {
        st.pending.push(r);
        return;
      }
      st.leading = false;
      const pending = st.pending;
      st.pending = [];
      if (!pure && !r.linkedTo && pending.length > 0) {
        r.prefix = pending.flatMap((p) => p.events);
        r.id = pending[0].id;
        for (const p of pending) p.finished = true;
      } else {
        for (const p of pending) this.finish(p, out);
      }
    }
    this.finish(r, out);
  }

  private add(r: Req, ev: SyscallEvent): void {
    if (r.events.length < this.maxLen) r.events.push(ev);
    else {
      r.truncated = true;
      this.counts.droppedByCap++;
    }
  }

  private start(conn: Conn<ConnState>): Req {
    const first = conn.data.count === 0;
    const r: Req = {
      id: `req:${conn.id}.${conn.data.count++}`, pid: conn.pid, events: [], committed: 0, responded: false,
      truncated: false, finished: false, backend: [], workers: [], linkedTo: undefined, final: undefined,
      connLabel: conn.label, proc: conn.data.proc, backendSince: undefined, work: false, workCommitted: false, prefix: [],
      freshSince: first ? conn.data.acceptedAt : undefined,
    };
    this.link(r);
    return r;
  }

  /** Links a new request to the server request waiting on it, if one can be told apart. */
  private link(r: Req): void {
    const candidates = [...this.waiting].filter((s) => s.pid !== r.pid && !s.finished);
    if (candidates.length === 0) return;
    let server: Req | undefined;
    const exact = candidates.filter((s) => s.backend.some((b) => mirrorEnds(b, r.connLabel) === true));
    const known = parseEnds(r.connLabel) !== undefined && candidates.every((s) => s.backend.some((b) => parseEnds(b) !== undefined));
    if (exact.length >= 1) server = exact[exact.length - 1];
    else if (known) return; // both ends are known and none matches: not a worker of any waiting request
    else {
      const fresh = r.freshSince;
      // No socket names at all (perf, LTTng): only another program can be told apart from a peer server process.
      const peersPossible = r.connLabel === undefined;
      const timely = fresh === undefined ? [] : candidates.filter((s) =>
        (!peersPossible || s.proc !== r.proc) && s.backendSince !== undefined && fresh >= s.backendSince);
      if (timely.length === 0) return; // a peer's request (or a later one on a backend connection): not a worker
      if (timely.length === 1) server = timely[0];
      else {
        this.counts.ambiguousWorkers++;
        return;
      }
    }
    r.linkedTo = server;
    server.workers.push(r);
    this.counts.linkedWorkers++;
  }

  /** The request's own events: up to its last response write (all of them when it never wrote or was truncated). */
  private ownEvents(r: Req): SyscallEvent[] {
    if (!r.responded || r.truncated || r.committed === r.events.length) return r.events;
    this.counts.unassigned += r.events.length - r.committed;
    return r.events.slice(0, r.committed);
  }

  private finish(r: Req, out: Sequence[]): void {
    if (r.finished) return;
    r.finished = true;
    this.waiting.delete(r);
    const own = this.ownEvents(r);
    if (r.linkedTo) {
      if (!r.linkedTo.finished) r.final = own;
      return;
    }
    let events = r.prefix.length > 0 ? [...r.prefix, ...own] : own;
    let truncated = r.truncated;
    for (const w of r.workers) {
      const wev = w.final ?? (w.responded ? w.events.slice(0, w.committed) : w.events);
      events = mergeByTs(events, wev);
      if (w.truncated) truncated = true;
    }
    if (events.length > this.maxLen) {
      this.counts.droppedByCap += events.length - this.maxLen;
      events = events.slice(0, this.maxLen);
      truncated = true;
    }
    this.counts.sequences++;
    if (truncated) this.counts.truncated++;
    out.push(truncated ? { id: r.id, events, truncated } : { id: r.id, events });
  }
}
