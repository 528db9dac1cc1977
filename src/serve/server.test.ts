/**
 * @module serve/server.test
 * The dashboard server over real HTTP, with a model trained on the committed web-server sample: tokens (401),
 * the data folder (403 outside it, symbolic links included), size limits (413), bad traces (400 naming the file
 * and line), Host and Origin checks; after every error the server still answers. Also scoring a trace under the
 * data folder and an upload, and explaining a sequence; a timing model's click-through with its measurements, and its
 * alerts blaming them, from a file and live.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { copyFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModelFolder } from '../models/folder.js';
import type { LanguageModel } from '../models/language-model.js';
import { bindProblem, isLoopbackHost } from './auth.js';
import { startServer, type RunningServer } from './server.js';
import { Scorer } from './scoring.js';
import { demoData, trainDemoModel } from './fixture.js';
import { cli } from '../cli/cli-process.js';
import { connectionOf } from '../detect/history.js';
import { fileSource } from '../trace/live/sources.js';

const TOKEN = 'test-token-0123456789';

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  json: () => Record<string, unknown>;
}

/** One HTTP request; `body` as chunks sends it chunked (no Content-Length). */
function call(base: string, path: string, o: { method?: string; headers?: Record<string, string>; body?: Buffer | string | Buffer[] } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const u = new URL(path, base);
    const req = httpRequest(u, { method: o.method ?? 'GET', headers: o.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) as Record<string, unknown> });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (Array.isArray(o.body)) {
      for (const c of o.body) req.write(c);
      req.end();
    } else {
      req.end(o.body);
    }
  });
}

/** The first server-sent event of a stream, then the connection is closed. */
function firstEvent(base: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; event?: string; data?: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(new URL(path, base), { headers }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        resolve({ status: res.statusCode ?? 0 });
        return;
      }
      let buf = '';
      res.on('data', (c: Buffer) => {
        buf += c.toString('utf8');
        const m = /event: (\w+)\ndata: (.*)\n\n/.exec(buf);
        if (m) {
          resolve({ status: 200, event: m[1], data: m[2] });
          req.destroy();
        }
      });
    });
    req.on('error', (e) => ((e as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(e)));
    req.end();
  });
}

describe('serve: the dashboard server', () => {
  let tmp: string;
  let dataDir: string;
  let model: LanguageModel;
  let scorer: Scorer;
  let secured: RunningServer;
  let open: RunningServer;
  const auth = { Authorization: `Bearer ${TOKEN}` };

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'sa-serve-test-'));
    const loaded = await loadModelFolder(trainDemoModel(join(tmp, 'model')));
    model = loaded.model;
    scorer = new Scorer(model, loaded.manifest, { name: 'quantile', value: loaded.manifest.thresholds.labelFree.value });
    dataDir = join(tmp, 'data');
    await mkdir(join(dataDir, 'sub'), { recursive: true });
    await copyFile(demoData().novel, join(dataDir, 'sub', 'io.jsonl.gz'));
    await writeFile(join(dataDir, 'bad.jsonl'), '{"format":"syscall-anomaly-events","version":1}\n{"ts":"12","name":\n');
    await writeFile(join(tmp, 'outside.txt'), 'secret\n');
    await symlink(join(tmp, 'outside.txt'), join(dataDir, 'escape.jsonl'));
    const common = {
      port: 0, dataDir, scorer, info: { kind: 'ngram' }, maxUploadBytes: 300_000, maxJsonBytes: 1024,
      reading: { segmentation: loaded.manifest.segmentation.kind, maxLength: loaded.manifest.segmentation.maxLength, pairing: loaded.manifest.input.pairing, lenient: false },
    };
    secured = await startServer({ ...common, host: '127.0.0.1', token: TOKEN });
    open = await startServer({ ...common, host: '127.0.0.1', token: undefined });
  });

  after(async () => {
    await secured?.close();
    await open?.close();
    await model?.release();
    await rm(tmp, { recursive: true, force: true });
  });

  /** The server still answers after an error. */
  async function stillServing(s: RunningServer = secured): Promise<void> {
    const r = await call(s.url, '/api/state', { headers: s === secured ? auth : {} });
    assert.equal(r.status, 200);
  }

  it('refuses to listen beyond loopback without a token, and says how to fix it', async () => {
    assert.match(bindProblem('0.0.0.0', undefined) ?? '', /refusing to listen on 0\.0\.0\.0 without a token.*--token/);
    assert.equal(bindProblem('0.0.0.0', TOKEN), undefined);
    assert.equal(bindProblem('127.0.0.1', undefined), undefined);
    assert.match(bindProblem('127.0.0.1', 'short') ?? '', /at least 8 characters/);
    assert.ok(isLoopbackHost('localhost') && isLoopbackHost('127.0.0.5') && isLoopbackHost('[::1]'));
    assert.ok(!isLoopbackHost('0.0.0.0') && !isLoopbackHost('example.com') && !isLoopbackHost('10.0.0.1'));
    await assert.rejects(startServer({
      host: '0.0.0.0', port: 0, token: undefined, dataDir, scorer, info: {},
      reading: { segmentation: 'request', maxLength: 100, pairing: 'paired', lenient: false },
    }), /refusing to listen/);
  });

  it('wrong or missing token: 401 on pages, API and event stream; bearer, ?token= and the cookie get in', async () => {
    for (const path of ['/', '/api/state', '/api/stream', '/assets/app.js', '/api/sequences/1:0']) {
      const none = await call(secured.url, path);
      assert.equal(none.status, 401, path);
      assert.match(String(none.json().error), /token is required/);
      const wrong = await call(secured.url, path, { headers: { Authorization: 'Bearer not-the-token' } });
      assert.equal(wrong.status, 401, path);
      assert.equal(wrong.json().error, 'wrong token');
      assert.equal((await call(secured.url, `${path}?token=nope`)).status, 401, path);
      assert.equal((await call(secured.url, path, { headers: { Cookie: 'sa_token=nope' } })).status, 401, path);
    }
    const posted = await call(secured.url, '/api/upload?name=x', { method: 'POST', headers: { 'Content-Type': 'application/octet-stream' }, body: 'x'.repeat(1000) });
    assert.equal(posted.status, 401);
    await stillServing();
    const ok = await call(secured.url, '/api/state', { headers: auth });
    assert.equal(ok.status, 200);
    const cookie = String(ok.headers['set-cookie']?.[0] ?? '');
    assert.match(cookie, /^sa_token=.*HttpOnly; SameSite=Strict/);
    assert.equal((await call(secured.url, '/', { headers: { Cookie: cookie.split(';')[0] } })).status, 200);
    const page = await call(secured.url, `/?token=${TOKEN}`);
    assert.equal(page.status, 303, 'the token leaves the address bar');
    assert.match(String(page.headers['set-cookie']?.[0]), /^sa_token=/);
    const sse = await firstEvent(secured.url, `/api/stream?token=${TOKEN}`);
    assert.equal(sse.status, 200);
    assert.equal(sse.event, 'snapshot');
    assert.ok(Array.isArray((JSON.parse(sse.data!) as { runs: unknown[] }).runs));
    assert.equal((await firstEvent(secured.url, '/api/stream', { Cookie: cookie.split(';')[0] })).event, 'snapshot');
  });

  it('opens files under the data folder only: .., absolute paths and links leading out are 403, missing ones 404', async () => {
    const score = (path: string) => call(secured.url, '/api/score', { method: 'POST', headers: { ...auth, 'Content-Type': 'application/json' }, body: JSON.stringify({ path }) });
    for (const path of ['../outside.txt', 'sub/../../outside.txt', join(tmp, 'outside.txt'), '/etc/passwd', 'escape.jsonl']) {
      const r = await score(path);
      assert.equal(r.status, 403, path);
      assert.match(String(r.json().error), /outside the data folder/);
      await stillServing();
    }
    const missing = await score('sub/nothing.jsonl');
    assert.equal(missing.status, 404);
    assert.match(String(missing.json().error), /no such file/);
    assert.equal((await call(secured.url, '/api/files?dir=..', { headers: auth })).status, 403);
    const listing = (await call(secured.url, '/api/files?dir=sub', { headers: auth })).json();
    assert.deepEqual((listing.entries as { path: string }[]).map((e) => e.path), ['sub/io.jsonl.gz']);
    const root = (await call(secured.url, '/api/files', { headers: auth })).json();
    assert.ok(!(root.entries as { name: string }[]).some((e) => e.name === 'escape.jsonl'), 'a link leading out is not offered');
    await stillServing();
  });

  it('bodies over the limits are 413 (declared or streamed), and the server keeps serving', async () => {
    const big = Buffer.alloc(400_000, 0x41);
    const declared = await call(secured.url, '/api/upload?name=big.jsonl', { method: 'POST', headers: { ...auth, 'Content-Type': 'application/octet-stream' }, body: big });
    assert.equal(declared.status, 413);
    assert.match(String(declared.json().error), /larger than the limit of 300000 bytes/);
    await stillServing();
    const chunks = Array.from({ length: 8 }, () => Buffer.alloc(50_000, 0x42));
    const streamed = await call(secured.url, '/api/upload?name=big.jsonl', { method: 'POST', headers: { ...auth, 'Content-Type': 'application/octet-stream' }, body: chunks });
    assert.equal(streamed.status, 413);
    await stillServing();
    const json = await call(secured.url, '/api/score', { method: 'POST', headers: { ...auth, 'Content-Type': 'application/json' }, body: JSON.stringify({ path: 'x'.repeat(2000) }) });
    assert.equal(json.status, 413);
    await stillServing();
  });

  it('bad traces and bad requests are 400 with the reader\'s message: file and line / offset', async () => {
    const bad = await readFile(join(dataDir, 'bad.jsonl'));
    const up = await call(secured.url, '/api/upload?name=bad.jsonl', { method: 'POST', headers: { ...auth, 'Content-Type': 'application/octet-stream' }, body: bad });
    assert.equal(up.status, 400);
    const j = up.json();
    assert.equal(j.file, 'bad.jsonl', 'named as uploaded, not by the server\'s temporary path');
    assert.equal(j.line, 2);
    assert.match(String(j.error), /^bad\.jsonl:line 2: jsonl: /);
    await stillServing();
    const noise = await call(secured.url, '/api/upload?name=noise.bin', { method: 'POST', headers: { ...auth, 'Content-Type': 'application/octet-stream' }, body: Buffer.from('\x00\x01 not a trace at all') });
    assert.equal(noise.status, 400);
    assert.equal(noise.json().file, 'noise.bin');
    assert.equal(noise.json().offset, 0);
    assert.match(String(noise.json().error), /unknown trace format/);
    await stillServing();
    const picked = await call(secured.url, '/api/score', { method: 'POST', headers: { ...auth, 'Content-Type': 'application/json' }, body: JSON.stringify({ path: 'bad.jsonl' }) });
    assert.equal(picked.status, 400);
    assert.equal(picked.json().file, 'bad.jsonl');
    assert.equal(picked.json().line, 2);
    await stillServing();
    const empty = await call(secured.url, '/api/upload?name=e', { method: 'POST', headers: { ...auth, 'Content-Type': 'application/octet-stream' }, body: '' });
    assert.equal(empty.status, 400);
    const notJson = await call(secured.url, '/api/score', { method: 'POST', headers: { ...auth, 'Content-Type': 'application/json' }, body: '{"path":' });
    assert.equal(notJson.status, 400);
    assert.match(String(notJson.json().error), /not valid JSON/);
    const wrongType = await call(secured.url, '/api/score', { method: 'POST', headers: { ...auth, 'Content-Type': 'text/plain' }, body: '{}' });
    assert.equal(wrongType.status, 415);
    assert.equal((await call(secured.url, '/api/nothing', { headers: auth })).status, 404);
    assert.equal((await call(secured.url, '/api/sequences/99:99', { headers: auth })).status, 404);
    await stillServing();
    const state = (await call(secured.url, '/api/state', { headers: auth })).json();
    const failed = (state.runs as { status: string; error?: string }[]).filter((r) => r.status === 'failed');
    assert.ok(failed.length >= 3 && failed.every((r) => !String(r.error).includes(tmpdir())), 'failed runs shown without temporary paths');
  });

  it('scores a trace under the data folder and an uploaded one; explains a novel sequence', async () => {
    const r = await call(secured.url, '/api/score', { method: 'POST', headers: { ...auth, 'Content-Type': 'application/json' }, body: JSON.stringify({ path: 'sub/io.jsonl.gz' }) });
    assert.equal(r.status, 200, r.text);
    const run = r.json().run as { id: number; sequences: number; novel: number; status: string; summary: { format: string } };
    assert.equal(run.status, 'done');
    assert.equal(run.sequences, 600, 'one sequence per request of the io set');
    assert.ok(run.novel > 300, `request logging with fsync is novel: ${run.novel} of 600`);
    assert.equal(run.summary.format, 'jsonl');
    const body = await readFile(join(dataDir, 'sub', 'io.jsonl.gz'));
    const up = await call(secured.url, '/api/upload?name=io.jsonl.gz', { method: 'POST', headers: { ...auth, 'Content-Type': 'application/octet-stream' }, body });
    assert.equal(up.status, 200, up.text);
    const upRun = up.json().run as { sequences: number; novel: number; label: string };
    assert.equal(upRun.sequences, 600);
    assert.equal(upRun.novel, run.novel, 'the same trace scores the same, uploaded or picked');
    assert.equal(upRun.label, 'io.jsonl.gz');
    const state = (await call(secured.url, '/api/state', { headers: auth })).json();
    const alert = (state.alerts as { key: string; run: number; culprits: { name: string; share: number }[]; falco: Record<string, unknown> }[])
      .find((a) => a.run === run.id)!;
    assert.ok(alert, 'novel sequences raise alerts');
    assert.equal(alert.falco.rule, 'Novel syscall sequence');
    assert.ok(['Warning', 'Error', 'Critical'].includes(String(alert.falco.priority)));
    assert.ok(alert.culprits.length > 0 && alert.culprits[0].share > 0);
    const falcoLines = (await call(secured.url, '/api/alerts', { headers: auth })).text.trim().split('\n');
    assert.ok(falcoLines.length >= run.novel);
    for (const k of ['time', 'priority', 'rule', 'output', 'output_fields']) assert.ok(k in JSON.parse(falcoLines[0]), k);
    const d = (await call(secured.url, `/api/sequences/${alert.key}`, { headers: auth })).json();
    assert.equal(d.novel, true);
    const rows = d.rows as { name: string; nll: number }[];
    const exp = d.explanation as { events: number; bySyscall: { name: string }[] };
    assert.equal(rows.length, exp.events);
    assert.ok(rows.every((x) => typeof x.name === 'string' && Number.isFinite(x.nll)));
    assert.ok((d.culprits as { name: string }[]).some((c) => c.name === exp.bySyscall[0].name));
    const page = await call(secured.url, `/api/sequences/${alert.key}/page`, { headers: auth });
    assert.equal(page.status, 200);
    assert.match(page.text, /<h2>By system call<\/h2>/);
  });

  it('without a token: answers loopback Host names only, and refuses cross-origin posts', async () => {
    assert.equal((await call(open.url, '/api/state')).status, 200);
    const rebound = await call(open.url, '/api/state', { headers: { Host: 'attacker.example:8080' } });
    assert.equal(rebound.status, 403);
    assert.match(String(rebound.json().error), /not a loopback name/);
    const cross = await call(open.url, '/api/score', { method: 'POST', headers: { 'Content-Type': 'application/json', Origin: 'http://attacker.example' }, body: '{"path":"sub/io.jsonl.gz"}' });
    assert.equal(cross.status, 403);
    assert.match(String(cross.json().error), /cross-origin/);
    await stillServing(open);
  });
});

/**
 * Trains a demo model of `kind` in a temporary folder, serves it with the demo's novel set under the data folder,
 * scores that set from the page, and hands the server to `check`; everything is closed and removed afterwards.
 */
async function withScoredSet(kind: 'transformer' | 'timing' | 'timing-h3',
  check: (server: RunningServer, scorer: Scorer, dirs: { model: string; data: string }) => Promise<void>): Promise<void> {
  const tmp = await mkdtemp(join(tmpdir(), `sa-serve-${kind}-`));
  let server: RunningServer | undefined;
  let model: LanguageModel | undefined;
  try {
    const loaded = await loadModelFolder(trainDemoModel(join(tmp, 'model'), kind));
    model = loaded.model;
    const scorer = new Scorer(model, loaded.manifest, { name: 'quantile', value: loaded.manifest.thresholds.labelFree.value });
    await copyFile(demoData().novel, join(tmp, 'io.jsonl.gz'));
    server = await startServer({
      host: '127.0.0.1', port: 0, token: undefined, dataDir: tmp, scorer, info: {},
      reading: { segmentation: loaded.manifest.segmentation.kind, maxLength: loaded.manifest.segmentation.maxLength, pairing: 'paired', lenient: false },
    });
    const r = await call(server.url, '/api/score', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"path":"io.jsonl.gz"}' });
    assert.equal(r.status, 200, r.text);
    await check(server, scorer, { model: join(tmp, 'model'), data: join(tmp, 'io.jsonl.gz') });
  } finally {
    await server?.close();
    await model?.release();
    await rm(tmp, { recursive: true, force: true });
  }
}

describe('serve: attention models', () => {
  it('a Transformer\'s click-through carries its attention: for each shown event, weights over the events before it', async () => {
    await withScoredSet('transformer', async (server, scorer) => {
      assert.equal(scorer.attention, true);
      const state = (await call(server.url, '/api/state')).json();
      assert.equal((state.info as { attention: boolean }).attention, true);
      const key = (state.points as { key: string }[])[0].key;
      const d = (await call(server.url, `/api/sequences/${key}`)).json();
      const rows = d.rows as { i: number }[];
      const att = d.attention as { from: number; to: number[]; weight: number[] }[];
      assert.deepEqual(att.map((a) => a.from), rows.map((x) => x.i), 'one attention row per shown event');
      for (const a of att) {
        assert.ok(a.to.every((t) => t >= -1 && t < a.from), `event ${a.from} attends to itself or earlier ones only`);
        const sum = a.weight.reduce((x, y) => x + y, 0);
        assert.ok(sum > 0 && sum <= 1 + 1e-5, `weights of event ${a.from} sum to ${sum}`);
      }
    });
  });
});

describe('serve: a model that scores sequences as a whole', () => {
  it('the timing model\'s click-through and page say what it measured of the sequence, against normal', async () => {
    await withScoredSet('timing', async (server) => {
      const state = (await call(server.url, '/api/state')).json();
      // its alerts blame what it measured (no event carries surprise of its own)
      const alerts = state.alerts as { culprits: { name: string; nats: number }[] }[];
      assert.ok(alerts.length > 0, 'some io requests alert');
      for (const a of alerts) {
        assert.ok(a.culprits.length > 0 && a.culprits.every((c) => ['gap', 'span', 'wait'].includes(c.name) && c.nats >= 0), JSON.stringify(a.culprits));
      }
      const key = (state.points as { key: string }[])[0]!.key;
      const d = (await call(server.url, `/api/sequences/${key}`)).json();
      const facts = d.facts as { name: string; value: number; normal: number; z: number; surprise: number; against: string }[];
      assert.deepEqual(facts.map((f) => f.name), ['gap', 'span', 'wait']);
      assert.match(facts[0]!.against, /^(the [\d,]+ training sequences that make the same calls|all [\d,]+ training sequences)/, 'which normal requests');
      assert.ok(Math.abs(facts.reduce((a, f) => a + f.surprise, 0) - Math.log(d.perplexity as number)) < 1e-6 * Math.max(1, Math.log(d.perplexity as number)));
      const page = await call(server.url, `/api/sequences/${key}/page`);
      assert.match(page.text, /<h2>What the model measured, against normal<\/h2>/);
      assert.ok(page.text.includes(`<p>Normal: ${facts[0]!.against}.</p>`));
    });
  });

  it('live, its alerts blame what it measured, and still do after their requests end (no event carries surprise)', async () => {
    await withScoredSet('timing', async (server, scorer, dirs) => {
      const run = server.hub.newRun('live', 'io');
      const summary = await scorer.watchInto(server.hub, run, await fileSource(dirs.data, 'paired', false), { latencyMs: 0 });
      assert.ok(summary.alerts > 0, 'some io requests alert');
      const live = ((await call(server.url, '/api/state')).json().alerts as { run: number; culprits: { name: string; nats: number }[] }[])
        .filter((a) => a.run === run.id);
      assert.equal(live.length, summary.alerts);
      for (const a of live) {
        assert.ok(a.culprits.length > 0 && a.culprits.every((c) => ['gap', 'span', 'wait'].includes(c.name) && c.nats >= 0), JSON.stringify(a.culprits));
      }
    });
  });

  it('with the connection\'s history (--history 3) a trace scored from the page gets score\'s perplexities, request by request', async () => {
    await withScoredSet('timing-h3', async (server, _scorer, dirs) => {
      const points = (await call(server.url, '/api/state')).json().points as { id: string; perplexity: number; novel: boolean }[];
      const r = cli('score', '--model', dirs.model, dirs.data, '--json');
      assert.equal(r.code, 0, r.err);
      const scored = (JSON.parse(r.out) as { sequences: { id: string; perplexity: number; novel: boolean }[] }).sequences;
      assert.equal(points.length, scored.length);
      const conns = scored.map((s) => connectionOf(s.id));
      assert.ok(new Set(conns).size < conns.length && conns.every((c) => c !== undefined), 'connections with several requests');
      const byId = new Map(points.map((p) => [p.id, p]));
      for (const s of scored) {
        const p = byId.get(s.id)!;
        assert.ok(Math.abs(p.perplexity / s.perplexity - 1) < 1e-9 && p.novel === s.novel, s.id);
      }
    });
  });
});
