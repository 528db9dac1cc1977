/**
 * @module features/sequences/request
 * One sequence per request on a server connection (HTTP keep-alive: N requests on one connection → N sequences).
 *
 * A request starts at the first read/recv on the connection socket that returns data (> 0 bytes) while no request is
 * open or after the open one has written its response, and ends at the last write/send on that socket before the
 * next such read (or at close / exit / end of stream). Events after that last write and before the next request's
 * read, and events on the connection before its first request, are counted as unassigned.
 *
 * Linked workers (e.g. PHP-FPM behind a web server over FastCGI): when a request's thread connects/writes to a
 * socket it `connect`ed, the request waits on a backend. A request that then starts in another process (the worker
 * reading the FastCGI request on a connection it accepted) is linked to it: its events up to its last write back are
 * merged (by timestamp) into the server's request sequence and it is not emitted on its own. With strace `-yy`
 * socket decorations the two socket ends must mirror each other (`A->B` vs `B->A`); without them the worker is
 * linked only when exactly one request waits (else counted as ambiguous and left standalone).
 */
import type { SyscallEvent } from '../../trace/event.js';
import { ConnectionEngine, type Attribution, type Conn } from './connection.js';
import { checkMaxLen, type Sequence } from './sequence.js';

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
}

interface ConnState {
  req: Req | undefined;
  count: number;
  /** The last unassigned event on this connection (a raw read entry that may open the next request). */
  lastOutside: SyscallEvent | undefined;
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
    return { req: undefined, count: 0, lastOutside: undefined };
  }

  protected opened(): void {
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
        this.finish(r, out);
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
    this.add(r, ev);
    if (a.onConnFd && a.kind === 'write' && a.done && (a.ret === undefined || a.ret >= 0)) {
      r.responded = true;
      r.committed = r.events.length;
    }
    if (a.onConnectedFd && a.done && !r.linkedTo) {
      if (a.kind === 'write' || a.kind === 'connect') {
        r.backend.push(a.label);
        this.waiting.add(r);
      } else if (a.kind === 'read' && a.ret !== undefined && a.ret > 0) {
        this.waiting.delete(r); // the backend answered
      }
    }
  }

  protected closed(conn: Conn<ConnState>, out: Sequence[]): void {
    const r = conn.data.req;
    if (r) {
      this.finish(r, out);
      conn.data.req = undefined;
    }
  }

  private add(r: Req, ev: SyscallEvent): void {
    if (r.events.length < this.maxLen) r.events.push(ev);
    else {
      r.truncated = true;
      this.counts.droppedByCap++;
    }
  }

  private start(conn: Conn<ConnState>): Req {
    const r: Req = {
      id: `req:${conn.id}.${conn.data.count++}`, pid: conn.pid, events: [], committed: 0, responded: false,
      truncated: false, finished: false, backend: [], workers: [], linkedTo: undefined, final: undefined,
      connLabel: conn.label,
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
    else if (candidates.length === 1) server = candidates[0];
    else {
      this.counts.ambiguousWorkers++;
      return;
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
    let events = own;
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
