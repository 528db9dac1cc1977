/**
 * @module serve/server
 * The dashboard's HTTP server (node:http): the page and its assets (uPlot served from node_modules, nothing from
 * the network), the live event stream, explanations, and scoring of trace files on request.
 *
 * | route | what |
 * |---|---|
 * | `GET /` | the dashboard (`?token=` sets the cookie and redirects to `/`) |
 * | `GET /assets/…` | its script and style, uPlot |
 * | `GET /api/state` | everything shown: model, runs, points, alerts (JSON) |
 * | `GET /api/stream` | the same as server-sent events: `snapshot`, then `batch` (new points, alerts, runs) |
 * | `GET /api/alerts` | the alerts in Falco's JSON shape, one per line |
 * | `GET /api/sequences/<key>` | one sequence explained: surprise per event, per syscall, per field (JSON) |
 * | `GET /api/sequences/<key>/page` | the same as a self-contained page (`detect/explain` HTML) |
 * | `GET /api/files?dir=` | files under the data folder |
 * | `POST /api/score` `{"path": …}` | score a trace under the data folder (any format `openData` reads) |
 * | `POST /api/upload?name=` | score an uploaded trace (the body, `application/octet-stream`) |
 *
 * Errors are JSON `{error, status, …}`: 400 bad request or bad trace (with `file`, `offset` / `line` from the
 * reader), 401 wrong or missing token, 403 outside the data folder or a foreign origin, 404, 413 body too large,
 * 415 wrong content type, 429 another trace is being scored. The server keeps serving after every one.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { openData, parseDataArg, type Reading } from '../features/dataset.js';
import { explanationHtml } from '../detect/explain.js';
import { TraceError } from '../trace/errors.js';
import type { Sequence } from '../features/sequences/sequence.js';
import { Auth, bindProblem, sameOrigin } from './auth.js';
import { DataDir } from './data-dir.js';
import { bodyToFile, discardRest, HttpError, readJsonObject, sendError, sendJson, sendText, SECURITY_HEADERS } from './http.js';
import { DEFAULT_LIMITS, Hub, type HubLimits, type RunInfo, type RunKind } from './hub.js';
import { Scorer } from './scoring.js';
import { APP_CSS, INDEX_HTML } from './page.js';
import { APP_JS } from './app.js';

export const DEFAULT_MAX_UPLOAD = 64 << 20;
export const DEFAULT_MAX_JSON = 1 << 20;

export interface ServeOptions {
  host: string;
  /** 0: any free port. */
  port: number;
  token: string | undefined;
  /** Files may be opened (scored, listed) under this folder only. */
  dataDir: string;
  scorer: Scorer;
  /** How traces are cut into sequences (the model's segmentation). */
  reading: Reading;
  /** Shown in the page header (model folder, kind, threshold…). */
  info: Record<string, unknown>;
  maxUploadBytes?: number;
  maxJsonBytes?: number;
  hubLimits?: HubLimits;
}

export interface RunningServer {
  readonly url: string;
  readonly hub: Hub;
  readonly server: Server;
  close(): Promise<void>;
}

interface Asset {
  type: string;
  body: string | Buffer;
}

async function uplotAssets(): Promise<{ js: Buffer; css: Buffer }> {
  const require = createRequire(import.meta.url);
  const js = require.resolve('uplot/dist/uPlot.iife.min.js');
  const css = require.resolve('uplot/dist/uPlot.min.css');
  return { js: await readFile(js), css: await readFile(css) };
}

/** A reader's error as the JSON detail of a 400; `shownAs` replaces a temporary path by what the user gave. */
function traceErrorDetail(e: TraceError, realPath: string, shownAs: string): { message: string; detail: Record<string, unknown> } {
  const file = e.file === realPath || e.file.startsWith(realPath) ? shownAs + e.file.slice(realPath.length) : basename(e.file);
  const where = e.line !== undefined ? `line ${e.line}` : `byte ${e.offset}`;
  // The reader names a line (text formats) or a byte offset.
  const detail: Record<string, unknown> = { file, reason: e.reason };
  if (e.line !== undefined) detail.line = e.line;
  if (e.offset >= 0) detail.offset = e.offset;
  return { message: `${file}:${where}: ${e.reason}`, detail };
}

function oneLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0];
}

export async function startServer(opts: ServeOptions): Promise<RunningServer> {
  const problem = bindProblem(opts.host, opts.token);
  if (problem !== undefined) throw new RangeError(problem);
  const auth = new Auth(opts.token);
  const dataDir = await DataDir.open(opts.dataDir);
  const maxUpload = opts.maxUploadBytes ?? DEFAULT_MAX_UPLOAD;
  const maxJson = opts.maxJsonBytes ?? DEFAULT_MAX_JSON;
  const scorer = opts.scorer;
  const hub = new Hub({
    ...opts.info, threshold: scorer.threshold, scale: scorer.scale, attention: scorer.attention, dataDir: dataDir.root, maxUploadBytes: maxUpload,
    tokenRequired: auth.required,
  }, opts.hubLimits ?? DEFAULT_LIMITS);
  const uplot = await uplotAssets();
  const assets = new Map<string, Asset>([
    ['/assets/app.js', { type: 'text/javascript; charset=utf-8', body: APP_JS }],
    ['/assets/app.css', { type: 'text/css; charset=utf-8', body: APP_CSS }],
    ['/assets/uplot.js', { type: 'text/javascript; charset=utf-8', body: uplot.js }],
    ['/assets/uplot.css', { type: 'text/css; charset=utf-8', body: uplot.css }],
  ]);
  const uploadDir = await mkdtemp(join(tmpdir(), 'syscall-anomaly-serve-'));
  let uploads = 0;
  /** One trace scored on request at a time. */
  let busy = false;

  async function scoreRun(run: RunInfo, seqs: AsyncIterable<Sequence>): Promise<RunInfo> {
    try {
      await scorer.scoreInto(hub, run, seqs);
      hub.finish(run);
    } catch (e) {
      hub.finish(run, oneLine(e));
      throw e;
    }
    return run;
  }

  /** Scores a trace file (a real path, shown to the user as `shownAs`) as a run; answers with its summary. */
  async function scoreFile(res: ServerResponse, kind: RunKind, path: string, shownAs: string): Promise<void> {
    const spec = parseDataArg(path);
    const src = openData(spec, opts.reading);
    const run = hub.newRun(kind, shownAs);
    try {
      await scoreRun(run, src);
      run.summary = { ...src.summary(), data: shownAs };
      hub.touch(run);
      hub.flush();
      sendJson(res, 200, { run });
    } catch (e) {
      hub.flush();
      if (e instanceof TraceError) {
        const { message, detail } = traceErrorDetail(e, path, shownAs);
        run.error = message;
        run.summary = { ...src.summary(), data: shownAs };
        hub.touch(run);
        hub.flush();
        throw new HttpError(400, message, detail);
      }
      throw e;
    }
  }

  async function route(req: IncomingMessage, res: ServerResponse, url: URL, extra: Record<string, string>): Promise<void> {
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const get = method === 'GET' || method === 'HEAD';
    if (path === '/' && get) {
      if (url.searchParams.has('token')) {
        res.writeHead(303, { ...SECURITY_HEADERS, ...extra, Location: '/' });
        res.end();
        return;
      }
      sendText(res, 200, 'text/html; charset=utf-8', INDEX_HTML, { ...extra, 'Cache-Control': 'no-store' });
      return;
    }
    const asset = assets.get(path);
    if (asset && get) {
      sendText(res, 200, asset.type, asset.body, { ...extra, 'Cache-Control': 'no-cache' });
      return;
    }
    if (path === '/api/state' && get) return sendJson(res, 200, hub.snapshot(), extra);
    if (path === '/api/stream' && get) {
      hub.subscribe(res, { ...SECURITY_HEADERS, ...extra });
      return;
    }
    if (path === '/api/alerts' && get) {
      const body = hub.snapshot().alerts as { falco: unknown }[];
      sendText(res, 200, 'application/x-ndjson; charset=utf-8', body.map((a) => JSON.stringify(a.falco) + '\n').join(''), extra);
      return;
    }
    const m = /^\/api\/sequences\/(\d+:\d+)(\/page)?$/.exec(path);
    if (m && get) {
      const kept = hub.sequence(m[1]);
      if (!kept) throw new HttpError(404, `sequence ${m[1]} is not kept (the server keeps the last ${hub.limits.maxKeptSequences} sequences, novel ones first)`);
      if (m[2]) {
        const [surprise] = await scorer.run(() => scorer.model.fieldSurpriseMany([kept.seq]));
        const exp = scorer.explanation(kept.seq, surprise!, 20);
        const title = `syscall-anomaly: ${kept.seq.id} (${scorer.model.kind} model, ${scorer.scale.name} ${kept.point.score.toPrecision(4)}` +
          `${kept.point.novel ? ', novel' : ''})`;
        sendText(res, 200, 'text/html; charset=utf-8', explanationHtml(kept.seq, exp, title), { ...extra, 'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'" });
        return;
      }
      return sendJson(res, 200, await scorer.details(kept), extra);
    }
    if (path === '/api/files' && get) {
      const r = await dataDir.list(url.searchParams.get('dir') ?? '');
      if ('ok' in r) throw new HttpError(r.status, r.reason);
      return sendJson(res, 200, r, extra);
    }
    if ((path === '/api/score' || path === '/api/upload') && method === 'POST') {
      if (!sameOrigin(req)) throw new HttpError(403, 'cross-origin request refused');
      if (busy) throw new HttpError(429, 'another trace is being scored; try again when it is done');
      busy = true;
      try {
        if (path === '/api/score') {
          const body = await readJsonObject(req, maxJson);
          if (typeof body.path !== 'string') throw new HttpError(400, 'the body must be {"path": "<trace under the data folder>"}');
          // An ADFA-LD subset (`ADFA-LD.zip:Training_Data_Master`) names a file plus a part of it.
          const spec = parseDataArg(body.path);
          const r = await dataDir.resolve(spec.path);
          if (!r.ok) throw new HttpError(r.status, r.reason);
          const real = spec.kind === 'adfa' ? `${r.path}:${spec.subset}` : r.path;
          const shown = spec.kind === 'adfa' ? `${r.rel}:${spec.subset}` : r.rel;
          await scoreFile(res, 'file', real, shown);
        } else {
          const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
          if (type !== 'application/octet-stream') throw new HttpError(415, 'upload the trace as the body, Content-Type application/octet-stream');
          const name = (url.searchParams.get('name') ?? 'upload').replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 100) || 'upload';
          const file = join(uploadDir, `${++uploads}-${name}`);
          try {
            const bytes = await bodyToFile(req, file, maxUpload);
            if (bytes === 0) throw new HttpError(400, 'empty upload', { file: name, offset: 0 });
            await scoreFile(res, 'upload', file, name);
          } finally {
            await rm(file, { force: true });
          }
        }
      } finally {
        busy = false;
      }
      return;
    }
    if (['/', '/api/state', '/api/stream', '/api/alerts', '/api/files', '/api/score', '/api/upload'].includes(path) || assets.has(path)) {
      throw new HttpError(405, `${method} is not allowed on ${path}`);
    }
    throw new HttpError(404, `no such page: ${path}`);
  }

  const server = createServer({ requestTimeout: 600_000 }, (req, res) => {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      sendError(res, new HttpError(400, 'bad request URL'));
      return;
    }
    const a = auth.check(req, url);
    if (!a.ok) {
      sendError(res, new HttpError(a.status, a.reason), a.status === 401 ? { 'WWW-Authenticate': 'Bearer' } : {});
      if (req.method !== 'GET' && req.method !== 'HEAD') discardRest(req, maxUpload);
      return;
    }
    const extra: Record<string, string> = a.setCookie && opts.token !== undefined ? { 'Set-Cookie': auth.cookieFor(opts.token) } : {};
    route(req, res, url, extra).catch((e: unknown) => {
      const err = e instanceof HttpError ? e : e instanceof TraceError ? new HttpError(400, e.message, { file: e.file, offset: e.offset })
        : new HttpError(500, `internal error: ${oneLine(e)}`);
      if (err.status === 413 || !req.complete) {
        discardRest(req, 4 * maxUpload);
        sendError(res, err, { ...extra, Connection: 'close' });
      } else {
        sendError(res, err, extra);
      }
    });
  });
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const shownHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${shownHost}:${addr.port}/`,
    hub,
    server,
    async close() {
      hub.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(uploadDir, { recursive: true, force: true });
    },
  };
}
