/**
 * @module serve/dashboard.test
 * End to end: `syscall-anomaly serve` replays a recorded trace (the committed web-server sample's `io` set, which
 * the model trained here on the `normal` set finds novel) into the dashboard, and a real browser (Debian's
 * chromium, headless, driven by playwright-core) checks that the chart and alerts appear, that clicking an alert
 * and a dot of the chart shows that sequence's events coloured by surprise, and that a trace uploaded from the page
 * is scored. Saves a screenshot (path printed). Skipped, saying so, only where `/usr/bin/chromium` is absent.
 * Also: the command refuses to listen beyond loopback without a token; with two `--model` folders it serves their z
 * ensemble (scores equal to `score`'s ensemble scores, explanations by member in σ-nats, the chart on the ensemble
 * score's linear axis), and with `--combine rank` their rank ensemble (scores and verdicts equal to `score`'s, no
 * prefix thresholds); with `--warm-up` the live input is held to thresholds fitted on its first sequences.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, copyFile, readFile, rm } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, demoData, trainDemoModel } from './fixture.js';

const CHROMIUM = '/usr/bin/chromium';
// Code run inside the page (page.evaluate) sees the browser's globals; this project compiles without DOM types.
declare const window: any;
declare const document: any;

const SCREENSHOT = join(process.env.TMPDIR ?? tmpdir(), 'syscall-anomaly-dashboard.png');

/** Starts `serve` and resolves to its address once it prints it. */
function startServe(args: string[]): Promise<{ child: ChildProcess; url: string; stderr: () => string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /dashboard: (http:\/\/\S+)/.exec(out);
      if (m) resolve({ child, url: m[1], stderr: () => err });
    });
    child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    child.on('exit', (code) => reject(new Error(`serve exited (${code}) before listening: ${err}`)));
  });
}

describe('serve: command line', () => {
  it('refuses to listen beyond loopback without a token, in one line, exit code 2', () => {
    const r = spawnSync(process.execPath, [CLI, 'serve', '--model', 'no-such-model', '--host', '0.0.0.0'], {
      encoding: 'utf8', env: { ...process.env, SYSCALL_ANOMALY_TOKEN: '' },
    });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^syscall-anomaly: refusing to listen on 0\.0\.0\.0 without a token.*--token.*\n$/);
  });
});

/** Debian's chromium, headless, on a 1400 × 1000 page of the dashboard at `url`; page errors and console errors are collected. */
async function openDashboard(url: string) {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await page.goto(url);
  return { browser, page, errors };
}

/** A fresh temporary folder for the enclosing `describe` (made before its tests, removed after them). */
function tempFolder(prefix: string): () => string {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), prefix));
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  return () => dir;
}

describe('serve: live input from stdin', () => {
  const folder = tempFolder('sa-serve-stdin-');

  it('scores JSONL events piped in as they come, and keeps serving after the input ends', async () => {
    const model = trainDemoModel(join(folder(), 'model'));
    const child = spawn(process.execPath, [CLI, 'serve', '--model', model, '--input', '-', '--port', '0', '--no-calibrate'], { stdio: ['pipe', 'pipe', 'pipe'] });
    try {
      let out = '';
      let err = '';
      child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
      child.stdin!.end(gunzipSync(await readFile(demoData().novel)));
      const until = async (ok: () => boolean) => {
        while (!ok()) {
          if (child.exitCode !== null) throw new Error(`serve exited: ${err}`);
          await new Promise((r) => setTimeout(r, 50));
        }
      };
      await until(() => /input <stdin> ended/.test(err));
      assert.match(err, /ended: 16237 events, 600 sequences, \d+ novel/);
      const url = /dashboard: (http:\/\/\S+)/.exec(out)![1];
      const state = await (await fetch(new URL('/api/state', url))).json() as { runs: { label: string; sequences: number; status: string }[]; alerts: unknown[] };
      assert.deepEqual(state.runs.map((r) => [r.label, r.sequences, r.status]), [['<stdin>', 600, 'done']]);
      assert.ok(state.alerts.length > 300);
    } finally {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
  });
});

describe('serve: a live baseline (--warm-up)', () => {
  const folder = tempFolder('sa-serve-warmup-');

  it('holds the live input to thresholds fitted on its first sequences; nothing alerts before; the click-through says which', async () => {
    const model = trainDemoModel(join(folder(), 'model'));
    const n = 150;
    const { child, url, stderr } = await startServe(['--model', model, '--input', demoData().normal, '--port', '0', '--warm-up', String(n), '--warm-up-skip', '20']);
    try {
      while (!/input \S+ ended/.test(stderr())) {
        if (child.exitCode !== null) throw new Error(`serve exited: ${stderr()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      type P = { key: string; perplexity: number; novel: boolean; warmUp?: boolean };
      const state = await (await fetch(new URL('/api/state', url))).json() as {
        runs: { threshold?: { perplexity: number; value: number; name: string } }[]; points: P[]; alerts: { key: string }[];
      };
      const points = state.points; // in the order the sequences finished
      const baseline = points.filter((p) => p.warmUp);
      assert.equal(baseline.length, n + 20, 'the sequences left out and the baseline');
      assert.ok(points.slice(0, n + 20).every((p) => p.warmUp && !p.novel), 'the first to finish, none novel');
      // the threshold: the model's label-free quantile (0.99) of the baseline's perplexities (the 20 first left out)
      const { quantileValue } = await import('../detect/threshold.js');
      const t = state.runs[0]!.threshold!;
      assert.equal(t.name, `quantile 0.99 of the first ${n} live sequences after 20 left out`);
      assert.equal(t.perplexity, quantileValue(baseline.slice(20).map((p) => p.perplexity), 0.99));
      const after = points.filter((p) => !p.warmUp);
      assert.ok(after.length > 0);
      for (const p of after) assert.equal(p.novel, p.perplexity > t.perplexity * (1 + 1e-9), p.key);
      const baselineKeys = new Set(baseline.map((p) => p.key));
      assert.ok(state.alerts.every((a) => !baselineKeys.has(a.key)), 'no alert on the baseline');
      assert.match(stderr(), /serve: the live input's threshold: perplexity > [\d.e+]+ \(quantile 0\.99 of the first 150 live sequences after 20 left out\)/);
      // the click-through of a later sequence states the run's threshold; a baseline one says it is one
      const later = await (await fetch(new URL(`/api/sequences/${after[0]!.key}`, url))).json() as { threshold: { value: number } };
      assert.equal(later.threshold.value, t.perplexity);
      const early = await (await fetch(new URL(`/api/sequences/${baseline[0]!.key}`, url))).json() as { warmUp?: boolean };
      assert.equal(early.warmUp, true);
      // the page shows the run's threshold and where it came from (where a browser is at hand)
      if (existsSync(CHROMIUM)) {
        const { browser, page, errors } = await openDashboard(url);
        try {
          await page.waitForFunction(() => /live sequences/.test(document.getElementById('c-thr-s').textContent), null, { timeout: 30_000 });
          const shown = await page.evaluate(() => [document.getElementById('c-thr').textContent, document.getElementById('c-thr-s').textContent]);
          assert.equal(shown[1], t.name);
          assert.ok(Math.abs(Number(shown[0].replace(/,/g, '')) - t.value) <= 1e-3 * t.value, `${shown[0]} vs ${t.value}`);
          assert.deepEqual(errors, []);
        } finally {
          await browser.close();
        }
      }
    } finally {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
  });

  it('refuses what does not go with it, in one line', () => {
    for (const [args, re] of [
      [['--warm-up', '10'], /--warm-up applies with live input/],
      [['--warm-up', '10', '--input', 'x', '--threshold', '2'], /--warm-up sets the live input's threshold .* --threshold 2/],
      [['--warm-up-skip', '3', '--input', 'x'], /--warm-up-skip applies with --warm-up/],
      [['--warm-up', '0', '--input', 'x'], /--warm-up must be an integer >= 1/],
      [['--warm-up-quantile', '0.9', '--input', 'x'], /--warm-up-quantile applies with --warm-up/],
      [['--warm-up', '10', '--warm-up-quantile', '0', '--input', 'x'], /--warm-up-quantile must be a number in \(0, 1\]/],
    ] as const) {
      const r = spawnSync(process.execPath, [CLI, 'serve', '--model', 'm', ...args], { encoding: 'utf8' });
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, re);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
  });
});

describe('serve: the dashboard in a browser', { skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} is absent (apt-get install chromium)` }, () => {
  let tmp: string;
  let serve: { child: ChildProcess; url: string; stderr: () => string };

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'sa-dashboard-test-'));
    const model = trainDemoModel(join(tmp, 'model'));
    const data = join(tmp, 'data');
    await mkdir(data);
    await copyFile(demoData().novel, join(data, 'io.jsonl.gz'));
    serve = await startServe(['--model', model, '--input', demoData().novel, '--port', '0', '--data-dir', data]);
  });

  after(async () => {
    if (serve) {
      const exited = new Promise((r) => serve.child.once('exit', r));
      serve.child.kill('SIGTERM');
      await exited;
    }
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('shows the chart and alerts; a click on an alert or a dot shows the events; an upload is scored', async (t) => {
    const { browser, page, errors } = await openDashboard(serve.url);
    try {
      // The chart: uPlot's canvas, the threshold in the legend, the replay finished.
      await page.waitForSelector('#chart .uplot canvas');
      await page.waitForFunction(() => document.getElementById('c-seq')!.textContent === '600');
      assert.match(await page.textContent('#chart .u-legend') ?? '', /normal sequence.*novel sequence.*threshold \d/s);
      assert.match(await page.textContent('#c-thr-s') ?? '', /quantile/);
      const novel = Number((await page.textContent('#c-novel'))!.replace(/,/g, ''));
      assert.ok(novel > 300, `most io requests are novel: ${novel}`);
      // Alerts, with the syscalls to blame.
      await page.waitForSelector('#alerts li[data-key]');
      const first = await page.textContent('#alerts li[data-key]');
      assert.match(first ?? '', /perplexity [\d.]+ = [\d.]+× threshold/);
      assert.match(first ?? '', /\d+ %/);
      // The strongest alert first; click it: its events, coloured by surprise, and the per-syscall bars.
      await page.selectOption('#alert-sort', 'score');
      const ratios = await page.$$eval('#alerts li[data-key] .ppl', (els) => els.map((e: any) => Number(/= ([\d.]+)×/.exec(e.textContent)![1])));
      assert.deepEqual(ratios, [...ratios].sort((a, b) => b - a));
      const key = await page.getAttribute('#alerts li[data-key]', 'data-key');
      await page.click('#alerts li[data-key]');
      await page.waitForSelector('#d-events tr[data-i]');
      assert.match(await page.textContent('#d-title') ?? '', /NOVEL/);
      const detail: { key: string; rows: { name: string }[] } = await page.evaluate(() => window.saDashboard.state.detail);
      assert.equal(detail.key, key);
      const rows = await page.$$eval('#d-events tr[data-i]', (trs) => trs.map((tr: any) => [tr.querySelector('.nm')!.textContent, tr.style.background]));
      assert.equal(rows.length, detail.rows.length);
      assert.deepEqual(rows.map((r) => r[0]), detail.rows.map((r) => r.name));
      assert.ok(rows.every((r) => /rgba\(220, 38, 38/.test(String(r[1]))), 'every event is shaded by its surprise');
      assert.ok((await page.$$('#d-bars .bar')).length > 0, 'per-syscall contribution bars');
      await page.evaluate(() => window.scrollTo(0, 0));
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      t.diagnostic(`screenshot: ${SCREENSHOT}`);
      console.log(`dashboard screenshot: ${SCREENSHOT}`);
      // Click a dot of the chart: a normal sequence of median perplexity.
      const target = await page.evaluate(() => {
        const d = window.saDashboard;
        const u = d.plot();
        const s = d.state.pts[d.state.run];
        const normal: number[] = [];
        for (let i = 0; i < s.x.length; i++) if (!s.nov[i]) normal.push(i);
        normal.sort((a, b) => s.y[a] - s.y[b]);
        const best = normal[normal.length >> 1];
        const r = u.over.getBoundingClientRect();
        return { key: s.key[best] as string, perplexity: s.y[best] as number, x: r.left + u.valToPos(s.x[best], 'x'), y: r.top + u.valToPos(s.y[best], 'y') };
      });
      await page.mouse.move(target.x, target.y);
      await page.mouse.click(target.x, target.y);
      // (Identical requests score identically: the dot clicked may be another sequence of the same perplexity.)
      await page.waitForSelector('#d-title .badge.ok');
      const clicked = await page.evaluate(() => window.saDashboard.state.detail);
      assert.notEqual(clicked.key, key);
      assert.ok(Math.abs(clicked.perplexity - target.perplexity) < 1e-9 * target.perplexity, 'the dot under the mouse');
      assert.ok((await page.textContent('#d-title') ?? '').includes(clicked.id));
      // Upload a trace from the page: a new source, scored.
      await page.setInputFiles('#file', join(tmp, 'data', 'io.jsonl.gz'));
      await page.click('#upload button');
      await page.waitForFunction(() => /600 sequences/.test(document.getElementById('score-result')!.textContent ?? ''), undefined, { timeout: 60_000 });
      // the run label follows over the event stream, which may come after the POST's answer
      await page.waitForFunction(() => /upload: io\.jsonl\.gz/.test(document.getElementById('run')!.textContent ?? ''), undefined, { timeout: 10_000 });
      // Its dots arrived over the event stream (batches, after the snapshot) and the chart shows that source.
      await page.waitForFunction(() => {
        const st = window.saDashboard.state;
        return st.runs[st.run].kind === 'upload' && st.pts[st.run].x.length === 600 && st.chartRun === st.run;
      });
      // The counters are redrawn at most a few times a second: wait for the last redraw.
      await page.waitForFunction(() => document.getElementById('c-seq')?.textContent === '600', undefined, { timeout: 10_000 });
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
    }
    assert.match(serve.stderr(), /input .*io\.jsonl\.gz ended: 16237 events, 600 sequences, \d+ novel/);
  });
});

describe('serve: a z ensemble of two models', () => {
  const folder = tempFolder('sa-serve-ens-');

  it("shows each sequence's ensemble score (as `score` gives it), alerts and explains in ensemble units", async (t) => {
    const a = trainDemoModel(join(folder(), 'ng4'));
    const b = trainDemoModel(join(folder(), 'ng2'), 'ngram2');
    const { novel } = demoData();
    const scored = spawnSync(process.execPath, [CLI, 'score', '--model', a, '--model', b, novel, '--json'], { encoding: 'utf8', maxBuffer: 64 << 20 });
    assert.equal(scored.status, 0, scored.stderr);
    const doc = JSON.parse(scored.stdout) as { threshold: { value: number }; sequences: { id: string; score: number; pValue: number }[] };
    const expected = new Map(doc.sequences.map((x) => [x.id, x.score]));
    const pValues = new Map(doc.sequences.map((x) => [x.id, x.pValue]));
    const serve = await startServe(['--model', a, '--model', b, '--input', novel, '--port', '0']);
    try {
      while (!/input .* ended/.test(serve.stderr())) {
        if (serve.child.exitCode !== null) throw new Error(`serve exited: ${serve.stderr()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const get = async (path: string) => (await fetch(new URL(path, serve.url))).json() as Promise<any>;
      const state = await get('/api/state');
      assert.equal(state.info.kind, 'ensemble(ngram+ngram)');
      assert.deepEqual(state.info.members, ['ng4', 'ng2']);
      assert.equal(state.info.scale.name, 'ensemble score');
      assert.equal(state.info.scale.log, false);
      assert.ok(Math.abs(state.info.scale.threshold - doc.threshold.value) < 1e-9, `threshold ${state.info.scale.threshold} vs score's ${doc.threshold.value}`);
      const points = state.points as { key: string; id: string; score: number; novel: boolean }[];
      assert.equal(points.length, 600);
      for (const p of points) {
        const want = expected.get(p.id)!;
        assert.ok(Math.abs(p.score - want) < 1e-6 * Math.max(1, Math.abs(want)), `${p.id}: ${p.score} on the dashboard, ${want} from score`);
        assert.equal(p.novel, p.score > state.info.scale.threshold, p.id);
      }
      const alerts = state.alerts as { key: string; score: number; scoreThreshold: number; falco: { output: string } }[];
      assert.ok(alerts.length > 0);
      for (const x of alerts) {
        assert.ok(x.score > x.scoreThreshold);
        assert.match(x.falco.output, /ensemble score [\d.]+ .* exceeds [\d.]+/);
      }
      const top = points.filter((p) => p.novel).sort((x, y) => y.score - x.score)[0]!;
      const d = await get(`/api/sequences/${top.key}`);
      assert.equal(d.model, 'ensemble(ngram+ngram)');
      assert.deepEqual(d.fields, ['ng4', 'ng2'], 'one surprise column per member');
      assert.equal(d.explanation.unit.name, 'σ-nats');
      assert.ok(Math.abs(d.score - top.score) < 1e-9 * Math.max(1, Math.abs(top.score)));
      // how sure: the same p-value as `score` gives the request, in words
      assert.equal(d.pValue, pValues.get(top.id));
      assert.match(d.sure, /^p = [\d.e-]+ \(above (all|\d+ of) \d+ normal held-out sequences, by ensemble score\)$/);
      const page = await (await fetch(new URL(`/api/sequences/${top.key}/page`, serve.url))).text();
      assert.match(page, /<h2>By member<\/h2>/);
      if (!existsSync(CHROMIUM)) {
        t.diagnostic(`${CHROMIUM} is absent: the page itself is not checked`);
        return;
      }
      const { browser, page: pg, errors } = await openDashboard(serve.url);
      try {
        await pg.waitForSelector('#chart .uplot canvas');
        await pg.waitForFunction(() => document.getElementById('c-seq')!.textContent === '600');
        assert.equal(await pg.textContent('#c-thr-k'), 'threshold (ensemble score)');
        // uPlot draws axis labels on its canvas: ask the plot for them, and for the y scale's distribution (1: linear)
        const axis: { label: string; distr: number } = await pg.evaluate(() => {
          const u = window.saDashboard.plot();
          return { label: u.axes[1].label, distr: u.scales.y.distr };
        });
        assert.deepEqual(axis, { label: 'ensemble score', distr: 1 });
        // The chart holds the ensemble scores themselves (a linear axis: negative ones too), not perplexities.
        const ys: number[] = await pg.evaluate(() => { const st = window.saDashboard.state; return st.pts[st.run].y; });
        const sorted = (xs: number[]) => [...xs].sort((x, y) => x - y);
        assert.deepEqual(sorted(ys).map((y) => y.toFixed(9)), sorted(points.map((p) => p.score)).map((y) => y.toFixed(9)));
        await pg.click('#alerts li[data-key]');
        await pg.waitForSelector('#d-events tr[data-i]');
        assert.match(await pg.textContent('#d-summary') ?? '', /^Ensemble score [\d.]+ [>≤] threshold [\d.]+ \((\+[\d.]+ over|[\d.]+ below) the threshold\).*σ-nats per token.*How sure: p = /);
        assert.deepEqual(errors, []);
      } finally {
        await browser.close();
      }
    } finally {
      const exited = new Promise((r) => serve.child.once('exit', r));
      serve.child.kill('SIGTERM');
      await exited;
    }
  });
});

describe('serve: a rank ensemble (--combine rank)', () => {
  const folder = tempFolder('sa-serve-rank-');

  it('shows the ensemble scores and verdicts `score --combine rank` gives; no prefix thresholds', async () => {
    const a = trainDemoModel(join(folder(), 'ng4'));
    const b = trainDemoModel(join(folder(), 'ng2'), 'ngram2');
    const { novel } = demoData();
    const scored = spawnSync(process.execPath, [CLI, 'score', '--model', a, '--model', b, '--combine', 'rank', novel, '--json'],
      { encoding: 'utf8', maxBuffer: 64 << 20 });
    assert.equal(scored.status, 0, scored.stderr);
    const doc = JSON.parse(scored.stdout) as { threshold: { value: number }; sequences: { id: string; score: number; novel: boolean }[] };
    const expected = new Map(doc.sequences.map((x) => [x.id, x]));
    const serve = await startServe(['--model', a, '--model', b, '--combine', 'rank', '--input', novel, '--port', '0']);
    try {
      while (!/input .* ended/.test(serve.stderr())) {
        if (serve.child.exitCode !== null) throw new Error(`serve exited: ${serve.stderr()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.match(serve.stderr(), /no prefix thresholds: the ensemble\(ngram\+ngram, rank\) model judges whole sequences/);
      const state = await (await fetch(new URL('/api/state', serve.url))).json() as any;
      assert.equal(state.info.kind, 'ensemble(ngram+ngram, rank)');
      assert.equal(state.info.prefixThresholds, null);
      assert.ok(Math.abs(state.info.scale.threshold - doc.threshold.value) < 1e-9);
      const points = state.points as { id: string; score: number; novel: boolean }[];
      assert.equal(points.length, expected.size);
      for (const p of points) {
        const want = expected.get(p.id)!;
        assert.ok(Math.abs(p.score - want.score) < 1e-9, `${p.id}: ${p.score} on the dashboard, ${want.score} from score`);
        assert.equal(p.novel, want.novel, p.id);
      }
      assert.ok((state.alerts as unknown[]).length > 0);
    } finally {
      const exited = new Promise((r) => serve.child.once('exit', r));
      serve.child.kill('SIGTERM');
      await exited;
    }
  });
});
