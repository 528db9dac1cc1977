/**
 * @module serve/auth
 * Who may talk to the server.
 *
 * - Without a token the server must listen on a loopback address, and it answers only requests whose `Host` is a
 *   loopback name (so that a web page elsewhere cannot reach it through DNS rebinding).
 * - With a token (`--token` or `SYSCALL_ANOMALY_TOKEN`), every request and event stream, loopback included, must
 *   carry it: `Authorization: Bearer <token>`; or, for the browser (`EventSource` cannot set headers), the query
 *   parameter `?token=<token>` or the cookie the server sets after a request authenticated either way
 *   (`sa_token`, HttpOnly, SameSite=Strict). A wrong or missing token is a 401.
 * - Requests that change state (POST) must come from the page itself: an `Origin` header, when sent, must match the
 *   `Host`.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

export const TOKEN_ENV = 'SYSCALL_ANOMALY_TOKEN';
export const TOKEN_COOKIE = 'sa_token';

/** Whether `host` (a listen address or a Host header's name) is a loopback name. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || h === '0:0:0:0:0:0:0:1';
  return false;
}

/** The name part of a Host header (`[::1]:8080` → `::1`, `localhost:80` → `localhost`). */
export function hostName(header: string): string {
  const m = /^\[([^\]]+)\](?::\d+)?$/.exec(header);
  if (m) return m[1];
  const i = header.lastIndexOf(':');
  return i >= 0 && header.indexOf(':') === i ? header.slice(0, i) : header;
}

/** Checks a bind address against the token: the one reason the server refuses to start, or undefined. */
export function bindProblem(host: string, token: string | undefined): string | undefined {
  if (token !== undefined && token.length < 8) return 'the token must be at least 8 characters';
  if (!isLoopbackHost(host) && token === undefined) {
    return `refusing to listen on ${host} without a token: anyone who can reach it would see your traces. ` +
      `Give --token <secret> (or set ${TOKEN_ENV}), or listen on 127.0.0.1`;
  }
  return undefined;
}

export type AuthResult =
  | { ok: true; setCookie: boolean }
  | { ok: false; status: 401 | 403; reason: string };

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

function cookie(req: IncomingMessage, name: string): string | undefined {
  const h = req.headers.cookie;
  if (!h) return undefined;
  for (const part of h.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) {
      try {
        return decodeURIComponent(part.slice(i + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

export class Auth {
  private readonly tokenDigest: Buffer | undefined;

  constructor(token: string | undefined) {
    this.tokenDigest = token === undefined ? undefined : digest(token);
  }

  get required(): boolean {
    return this.tokenDigest !== undefined;
  }

  private matches(given: string | undefined): boolean {
    if (given === undefined || this.tokenDigest === undefined) return false;
    return timingSafeEqual(digest(given), this.tokenDigest); // digests: equal lengths, constant time
  }

  /** Checks one request; `url` is its parsed URL. */
  check(req: IncomingMessage, url: URL): AuthResult {
    if (!this.required) {
      const host = req.headers.host;
      if (host === undefined || !isLoopbackHost(hostName(host))) {
        return { ok: false, status: 403, reason: `Host '${host ?? ''}' is not a loopback name (this server has no token, so it answers loopback names only)` };
      }
      return { ok: true, setCookie: false };
    }
    const auth = req.headers.authorization;
    if (auth !== undefined) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
      return m && this.matches(m[1]) ? { ok: true, setCookie: true } : { ok: false, status: 401, reason: 'wrong token' };
    }
    const q = url.searchParams.get('token');
    if (q !== null) return this.matches(q) ? { ok: true, setCookie: true } : { ok: false, status: 401, reason: 'wrong token' };
    const c = cookie(req, TOKEN_COOKIE);
    if (c !== undefined) return this.matches(c) ? { ok: true, setCookie: false } : { ok: false, status: 401, reason: 'wrong token' };
    return { ok: false, status: 401, reason: 'a token is required: Authorization: Bearer <token>, or ?token=<token>' };
  }

  /** The Set-Cookie header value that lets the browser's later requests (and EventSource) through. */
  cookieFor(token: string): string {
    return `${TOKEN_COOKIE}=${encodeURIComponent(token)}; Path=/; HttpOnly; SameSite=Strict`;
  }
}

/** For requests that change state: an Origin header, when present, must be this server's. */
export function sameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}
