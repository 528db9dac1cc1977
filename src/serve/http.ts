/**
 * @module serve/http
 * Small HTTP helpers for the dashboard server (node:http): JSON answers and errors, request bodies read with a size
 * limit (413 past it), and a body streamed to a file with the same limit.
 */
import { createWriteStream } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** An expected failure of one request: status, message and optional detail fields sent as JSON. */
export class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly detail: Record<string, unknown> = {}) {
    super(message);
    this.name = 'HttpError';
  }
}

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  // Everything the page loads comes from this server; inline styles are used by the chart library.
  'Content-Security-Policy': "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
};

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...SECURITY_HEADERS, 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store',
    'Content-Length': Buffer.byteLength(text), ...headers,
  });
  res.end(text);
}

export function sendError(res: ServerResponse, e: HttpError, headers: Record<string, string> = {}): void {
  sendJson(res, e.status, { error: e.message, status: e.status, ...e.detail }, headers);
}

export function sendText(res: ServerResponse, status: number, contentType: string, body: string | Buffer, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    ...SECURITY_HEADERS, 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body), ...headers,
  });
  res.end(body);
}

/** The declared body length, or undefined; a malformed header is a 400. */
function declaredLength(req: IncomingMessage): number | undefined {
  const h = req.headers['content-length'];
  if (h === undefined) return undefined;
  const n = Number(h);
  if (!/^\d+$/.test(h) || !Number.isSafeInteger(n)) throw new HttpError(400, `bad Content-Length '${h}'`);
  return n;
}

function tooLarge(limit: number): HttpError {
  return new HttpError(413, `request body larger than the limit of ${limit} bytes`, { limit });
}

/**
 * After a 413, the rest of the body is read and discarded (so that the client sees the answer instead of a reset),
 * up to a bound; past it the connection is closed.
 */
export function discardRest(req: IncomingMessage, bound: number): void {
  let seen = 0;
  req.on('data', (c: Buffer) => {
    seen += c.length;
    if (seen > bound) req.socket.destroy();
  });
  req.on('error', () => {});
  req.resume();
}

/** Reads the whole body, at most `limit` bytes (413 past it). */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = declaredLength(req);
  if (declared !== undefined && declared > limit) throw tooLarge(limit);
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > limit) throw tooLarge(limit);
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

/** Reads a JSON object body (Content-Type application/json, at most `limit` bytes). */
export async function readJsonObject(req: IncomingMessage, limit: number): Promise<Record<string, unknown>> {
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/json') throw new HttpError(415, 'the body must be application/json');
  const body = await readBody(req, limit);
  let v: unknown;
  try {
    v = JSON.parse(body.toString('utf8'));
  } catch (e) {
    throw new HttpError(400, `the body is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new HttpError(400, 'the body must be a JSON object');
  return v as Record<string, unknown>;
}

/** Streams the body into `file` (created), at most `limit` bytes (413 past it); resolves to the byte count. */
export async function bodyToFile(req: IncomingMessage, file: string, limit: number): Promise<number> {
  const declared = declaredLength(req);
  if (declared !== undefined && declared > limit) throw tooLarge(limit);
  const out = createWriteStream(file, { flags: 'wx', mode: 0o600 });
  const opened = new Promise<void>((resolve, reject) => {
    out.once('open', () => resolve());
    out.once('error', reject);
  });
  await opened;
  let n = 0;
  try {
    for await (const c of req as AsyncIterable<Buffer>) {
      n += c.length;
      if (n > limit) throw tooLarge(limit);
      if (!out.write(c)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
    }
  } finally {
    await new Promise<void>((resolve) => out.end(() => resolve()));
  }
  return n;
}
