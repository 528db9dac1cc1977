/**
 * @module cli/watch.test
 * `watch` as a user runs it: on a recorded trace it prints the per-sequence perplexities `score` prints, Falco-style
 * alerts and a summary; from stdin too; on a live `strace` and a live `perf` of a small program it scores what the
 * program does (skipped, saying why, where the tool is missing or may not trace); Ctrl-C on a live stream ends with a
 * clean summary; bad input ends with one line naming the file and line, exit code 2; prefix thresholds come from the
 * model folder when the training data is gone; with two models, a z ensemble gives the scores `score` gives it, and
 * a rank ensemble (`--combine rank`) the scores, verdicts and p-values, alerting when sequences end (the options of
 * running-sequence alerts are refused with it); `--warm-up` fits the thresholds on the first requests it watches (a
 * timing model: normal, then a CPU hog, on stdin); the alerts of models of whole sequences (timing, profile) say what
 * they measured, alone and in an ensemble. The `perf script` line parser on lines perf 6 printed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { projectData } from '../testing/paths.js';
import { emptyCounts, type SyscallEvent } from '../trace/event.js';
import { childPids, perfSource, PerfScriptParser, processEnded } from '../trace/live/perf.js';
import { quantileValue } from '../detect/threshold.js';
import { oneLineError, runCli as cli, MAIN } from './cli-process.js';

const IO = projectData('web-demo', 'io.jsonl.gz');
const NORMAL = projectData('web-demo', 'normal.jsonl.gz');
const SOCKET = projectData('web-demo', 'socket.jsonl.gz');

const tmp = mkdtempSync(join(tmpdir(), 'sa-watch-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

let reqModel: string | undefined;
function requestModel(): string {
  if (reqModel) return reqModel;
  const dir = join(tmp, 'ngram-request');
  const r = cli(['train', '--model', 'ngram', '--train', NORMAL, '--segment', 'request', '-o', dir]);
  assert.equal(r.code, 0, r.err);
  return (reqModel = dir);
}

type Line = Record<string, unknown>;
const lines = (out: string): Line[] => out.trim().split('\n').map((l) => JSON.parse(l) as Line);

test('watch on a recorded trace prints the perplexities score prints, Falco-style alerts and a summary', () => {
  const model = requestModel();
  const w = cli(['watch', '--model', model, '--input', IO]);
  assert.equal(w.code, 0, w.err);
  const recs = lines(w.out);
  const s = cli(['score', '--model', model, IO, '--json']);
  assert.equal(s.code, 0, s.err);
  const scored = new Map((JSON.parse(s.out).sequences as { id: string; perplexity: number; novel: boolean; length: number }[]).map((x) => [x.id, x]));
  const seqs = recs.filter((r) => r.type === 'sequence');
  assert.equal(seqs.length, scored.size);
  for (const r of seqs) {
    const want = scored.get(r.id as string);
    assert.ok(want, `${String(r.id)} not scored by score`);
    assert.ok(Math.abs((r.perplexity as number) - want.perplexity) <= 1e-9 * want.perplexity, `${String(r.id)}: ${String(r.perplexity)} vs ${want.perplexity}`);
    assert.equal(r.novel, want.novel);
    assert.equal(r.length, want.length);
  }
  const alerts = recs.filter((r) => 'rule' in r);
  assert.ok(alerts.length > 0);
  for (const a of alerts) {
    for (const k of ['time', 'priority', 'rule', 'output', 'output_fields', 'source', 'tags', 'hostname']) assert.ok(k in a, k);
    const f = a.output_fields as Record<string, unknown>;
    for (const k of ['seq.id', 'proc.name', 'proc.pid', 'thread.tid', 'seq.score', 'seq.threshold', 'seq.top_events', 'evt.lost']) assert.ok(k in f, k);
  }
  const summary = recs[recs.length - 1]!;
  assert.equal(summary.type, 'summary');
  assert.equal(summary.sequences, scored.size);
  assert.equal(summary.alerts, alerts.length);
  assert.equal((summary.dropped as Record<string, number>).sequences, 0);
  assert.match(w.err, /prefix thresholds \(q 0\.99\) from 300 normal sequences/);
  assert.match(w.err, /watch: 16237 events, 600 sequences/);

  // The same from stdin, alerts only.
  const p = cli(['watch', '--model', model, '--input', '-', '--alerts-only', '--no-calibrate'], gunzipSync(readFileSync(IO)));
  assert.equal(p.code, 0, p.err);
  const precs = lines(p.out);
  assert.ok(precs.every((r) => 'rule' in r || r.type === 'summary'));
  assert.equal(precs[precs.length - 1]!.sequences, scored.size);
});

test('watch --warm-up: the first n finished requests set the thresholds; nothing alerts before; then a CPU hog shows', () => {
  // The committed web-server sample: a timing model trained on its normal requests; watched, normal then cpu on stdin.
  const dir = join(tmp, 'timing');
  const t = cli(['train', '--model', 'timing', '--segment', 'request', '--train', projectData('web-novelty', 'normal.jsonl.gz'), '-o', dir]);
  assert.equal(t.code, 0, t.err);
  const cpu = projectData('web-novelty', 'cpu.jsonl.gz');
  const cpuText = gunzipSync(readFileSync(cpu)).toString('utf8');
  const stream = gunzipSync(readFileSync(projectData('web-novelty', 'normal.jsonl.gz'))).toString('utf8') + cpuText.slice(cpuText.indexOf('\n') + 1); // one header
  const n = 1000;
  const w = cli(['watch', '--model', dir, '--input', '-', '--warm-up', String(n)], stream);
  assert.equal(w.code, 0, w.err);
  const recs = lines(w.out);
  const at = recs.findIndex((r) => r.type === 'warm-up');
  assert.ok(at > 0, 'a warm-up record');
  const before = recs.slice(0, at);
  const after = recs.slice(at + 1).filter((r) => r.type === 'sequence');
  assert.ok(before.every((r) => r.type === 'sequence' && r.warmUp === true && r.novel === false), 'only baseline requests, none novel, no alert');
  assert.equal(before.length, n);
  assert.ok(after.every((r) => r.warmUp === undefined));
  // the threshold: the model's label-free quantile (0.99) of the baseline's perplexities, as every threshold is fitted
  const baseline = before.map((r) => r.perplexity as number);
  const warm = recs[at]!;
  assert.equal(warm.q, 0.99);
  assert.equal(warm.threshold, quantileValue(baseline, 0.99));
  // p-values against the baseline: (1 + #{baseline ≥ x}) / (n + 1)
  for (const r of after.slice(0, 50)) {
    const x = r.perplexity as number;
    assert.ok(Math.abs((r.pValue as number) - (1 + baseline.filter((b) => b >= x).length) / (n + 1)) < 1e-12);
  }
  // after it: the rest of the normal run keeps to about 1 % novel, the requests served beside the CPU hog do not
  const cpuIds = new Set((JSON.parse(cli(['score', '--model', dir, cpu, '--json']).out).sequences as { id: string }[]).map((q) => q.id));
  const share = (rs: Line[]) => rs.filter((r) => r.novel).length / rs.length;
  const normalShare = share(after.filter((r) => !cpuIds.has(r.id as string)));
  const cpuShare = share(after.filter((r) => cpuIds.has(r.id as string)));
  assert.ok(normalShare < 0.03 && cpuShare > 0.15 && cpuShare > 10 * normalShare, `novel: normal ${normalShare}, cpu ${cpuShare}`);
  assert.match(w.err, /watch: warm-up done after 1000 sequences: perplexity > [\d.e+]+ \(quantile 0\.99\); prefix thresholds: none \(whole sequences are judged\)/);
  const summary = recs[recs.length - 1]!;
  assert.deepEqual(summary.warmUp, { sequences: n, of: n, done: true });
  // --warm-up-skip: the first k left out (a start-up), the next n the baseline; --warm-up-quantile: its quantile
  const k = 300;
  const ws = cli(['watch', '--model', dir, '--input', '-', '--warm-up', '500', '--warm-up-skip', String(k), '--warm-up-quantile', '0.95', '--alerts-only'], stream);
  assert.equal(ws.code, 0, ws.err);
  const skipped = lines(ws.out).find((r) => r.type === 'warm-up')!;
  assert.equal(skipped.skipped, k);
  assert.equal(skipped.q, 0.95);
  assert.equal(skipped.threshold, quantileValue(baseline.slice(k, k + 500), 0.95), 'the same requests finish first on the same input');
  assert.match(ws.err, /warm-up done after 500 sequences \(300 left out before them\): perplexity > [\d.e+]+ \(quantile 0\.95\)/);
  // misuse: one line each
  oneLineError(cli(['watch', '--model', dir, '--input', cpu, '--warm-up-skip', '10']), /--warm-up-skip applies with --warm-up/);
  oneLineError(cli(['watch', '--model', dir, '--input', cpu, '--warm-up-quantile', '0.9']), /--warm-up-quantile applies with --warm-up/);
  oneLineError(cli(['watch', '--model', dir, '--input', cpu, '--warm-up', '10', '--warm-up-quantile', '1.5']), /--warm-up-quantile must be a number in \(0, 1\]/);
  oneLineError(cli(['watch', '--model', dir, '--input', cpu, '--warm-up', '10', '--threshold', '5']), /--warm-up sets the threshold .* --threshold 5/);
  oneLineError(cli(['watch', '--model', dir, '--input', cpu, '--warm-up', '10', '--calibrate', cpu]), /--warm-up and --calibrate both set the prefix thresholds/);
  oneLineError(cli(['watch', '--model', dir, '--input', cpu, '--warm-up', '0']), /--warm-up must be an integer >= 1, got '0'/);
  // input that ends first: said, and nothing judged
  const short = cli(['watch', '--model', dir, '--input', cpu, '--warm-up', '100000']);
  assert.equal(short.code, 0, short.err);
  assert.match(short.err, /the input ended during the warm-up \(1037 of 100000 sequences\): no thresholds were fitted/);
});

test('alerts of models of whole sequences say what they measured, alone and in an ensemble (member-labelled)', () => {
  const normal = projectData('web-novelty', 'normal.jsonl.gz');
  const cpu = projectData('web-novelty', 'cpu.jsonl.gz');
  const [timing, profile] = [join(tmp, 'facts-timing'), join(tmp, 'facts-profile')];
  for (const [kind, dir] of [['timing', timing], ['profile', profile]] as const) {
    const t = cli(['train', '--model', kind, '--segment', 'request', '--train', normal, '-o', dir]);
    assert.equal(t.code, 0, t.err);
  }
  type Fact = { name: string; value: number; normal: number; unit: string; surprise: number };
  const alertsOf = (args: string[]) => {
    const w = cli(['watch', ...args, '--input', cpu, '--alerts-only']);
    assert.equal(w.code, 0, w.err);
    // their events score 0, so a running sequence's perplexity is 1: no prefix thresholds, sequences alert when they end
    assert.match(w.err, /watch: no prefix thresholds: the (timing|ensemble\(timing\+profile\)) model judges whole sequences, which alert when they end/);
    assert.doesNotMatch(w.err, /prefix thresholds \(q/);
    const alerts = lines(w.out).filter((r) => r.rule !== undefined) as unknown as { output: string; output_fields: Record<string, unknown> }[];
    assert.ok(alerts.length > 10, `${alerts.length} alerts`);
    assert.ok(alerts.every((a) => a.output_fields['seq.final'] === true), 'no alert on a running sequence');
    return alerts;
  };
  // the options that set running sequences' alerts would be ignored: refused, one line each
  oneLineError(cli(['watch', '--model', timing, '--input', cpu, '--min-events', '8']),
    /--min-events sets the alerts of running sequences: the timing model judges whole sequences/);
  oneLineError(cli(['watch', '--model', profile, '--input', cpu, '--calibrate', normal]),
    /--calibrate <data> sets the alerts of running sequences: the profile model judges whole sequences/);
  oneLineError(cli(['watch', '--model', timing, '--model', profile, '--input', cpu, '--prefix-quantile', '0.9']),
    /--prefix-quantile sets the alerts of running sequences: an ensemble of timing and profile models judges whole sequences/);
  oneLineError(cli(['serve', '--model', timing, '--input', cpu, '--calibrate', normal, '--port', '0']),
    /--calibrate <data> sets the alerts of running sequences: the timing model judges whole sequences/);
  for (const a of alertsOf(['--model', timing])) {
    const facts = a.output_fields['seq.facts'] as Fact[];
    assert.deepEqual(facts.map((f) => f.name).sort(), ['gap', 'span', 'wait']);
    assert.ok(facts.every((f, i) => f.unit === 'µs' && (i === 0 || f.surprise <= facts[i - 1]!.surprise)));
    assert.match(a.output, new RegExp(`; against normal: ${facts[0]!.name} [\\d,.]+ µs \\(normal ~[\\d,.]+ µs\\)`));
  }
  const label = (dir: string) => dir.split('/').pop()!;
  for (const a of alertsOf(['--model', timing, '--model', profile])) {
    const names = (a.output_fields['seq.facts'] as Fact[]).map((f) => f.name);
    assert.ok(names.some((n) => n.startsWith(`${label(timing)}: `)) && names.some((n) => n.startsWith(`${label(profile)}: `)), names.join(', '));
  }
});

test('watch takes its prefix thresholds from the model folder when the training data is gone', () => {
  const data = join(tmp, 'normal-copy.jsonl.gz');
  writeFileSync(data, readFileSync(NORMAL));
  const dir = join(tmp, 'ngram-stored');
  const r = cli(['train', '--model', 'ngram', '--train', data, '--segment', 'request', '-o', dir]);
  assert.equal(r.code, 0, r.err);
  rmSync(data);
  const w = cli(['watch', '--model', dir, '--input', IO, '--alerts-only']);
  assert.equal(w.code, 0, w.err);
  assert.match(w.err, /prefix thresholds \(q 0\.99\) from 300 normal sequences of the model's held-out data \(stored by train\): 16 events → /);
  assert.ok(lines(w.out).some((x) => 'rule' in x), 'alerts on the io requests');
  // Checkpoints 20, 40, … were not stored, and the data to calibrate them on is gone.
  const odd = cli(['watch', '--model', dir, '--input', IO, '--alerts-only', '--min-events', '20']);
  assert.equal(odd.code, 0, odd.err);
  assert.match(odd.err, /no prefix calibration: running sequences are held to the sequence threshold from 20 events on/);
});

test('watch with two models scores a z ensemble: the scores and verdicts score gives the ensemble', () => {
  const a = requestModel();
  const b = join(tmp, 'ngram2-request');
  const t = cli(['train', '--model', 'ngram', '--order', '2', '--train', NORMAL, '--segment', 'request', '-o', b]);
  assert.equal(t.code, 0, t.err);
  const w = cli(['watch', '--model', a, '--model', b, '--input', SOCKET]);
  assert.equal(w.code, 0, w.err);
  assert.match(w.err, /ensemble of .* \(z\); its perplexity is exp\(ensemble score \+ [-\d.]+\)/);
  assert.match(w.err, /prefix thresholds \(q 0\.99, as ensemble scores\) from 300 normal sequences of the model's held-out data \(stored by train\)/);
  const s = cli(['score', '--model', a, '--model', b, SOCKET, '--json']);
  assert.equal(s.code, 0, s.err);
  const scored = new Map((JSON.parse(s.out).sequences as { id: string; score: number; novel: boolean }[]).map((x) => [x.id, x]));
  const recs = lines(w.out);
  const seqs = recs.filter((r) => r.type === 'sequence');
  assert.equal(seqs.length, scored.size);
  for (const r of seqs) {
    const want = scored.get(r.id as string)!;
    assert.ok(Math.abs((r.score as number) - want.score) <= 1e-6 * Math.max(1, Math.abs(want.score)), `${String(r.id)}: ${String(r.score)} vs ${want.score}`);
    assert.equal(r.novel, want.novel);
  }
  const alert = recs.find((r) => 'rule' in r) as { output: string; output_fields: Record<string, unknown> } | undefined;
  assert.ok(alert, 'the socket requests alert');
  assert.match(alert.output, /ensemble score [-\d.e+]+ (after|over all) \d+ events exceeds/);
  assert.match(String(alert.output_fields['model.kind']), /^ensemble\(ngram\+ngram\)$/);
  const bad = cli(['watch', '--model', a, '--model', b, '--threshold', 'best-f1', '--input', SOCKET]);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /best-f1 applies to one model/);
});

test('watch --combine rank judges whole sequences: the scores, verdicts and p-values score gives; alerts when they end', () => {
  const a = requestModel();
  const b = join(tmp, 'ngram2-request');
  if (!existsSync(b)) assert.equal(cli(['train', '--model', 'ngram', '--order', '2', '--train', NORMAL, '--segment', 'request', '-o', b]).code, 0);
  const w = cli(['watch', '--model', a, '--model', b, '--combine', 'rank', '--input', SOCKET]);
  assert.equal(w.code, 0, w.err);
  assert.match(w.err, /ensemble of .* \(rank\); its perplexity is exp\(ensemble score\), of whole sequences: they alert when they end/);
  assert.match(w.err, /no prefix thresholds: the ensemble\(ngram\+ngram, rank\) model judges whole sequences/);
  const s = cli(['score', '--model', a, '--model', b, '--combine', 'rank', SOCKET, '--json']);
  assert.equal(s.code, 0, s.err);
  const scored = new Map((JSON.parse(s.out).sequences as { id: string; score: number; novel: boolean; pValue: number }[]).map((x) => [x.id, x]));
  const recs = lines(w.out);
  const seqs = recs.filter((r) => r.type === 'sequence');
  assert.equal(seqs.length, scored.size);
  for (const r of seqs) {
    const want = scored.get(r.id as string)!;
    assert.ok(Math.abs((r.score as number) - want.score) <= 1e-9, `${String(r.id)}: ${String(r.score)} vs ${want.score}`);
    assert.equal(r.novel, want.novel, String(r.id));
    assert.equal(r.pValue, want.pValue, `${String(r.id)}: p-value`);
  }
  assert.ok(seqs.some((r) => r.novel) && seqs.some((r) => !r.novel), 'both verdicts occur');
  const alerts = recs.filter((r) => 'rule' in r) as unknown as { output: string; output_fields: Record<string, unknown> }[];
  assert.equal(alerts.length, seqs.filter((r) => r.novel).length, 'one alert per novel sequence');
  for (const x of alerts) {
    assert.equal(x.output_fields['seq.final'], true, 'alerts come when sequences end');
    assert.match(x.output, /ensemble score [\d.]+ over all \d+ events exceeds [\d.]+ .*most surprising: \w+ \([1-9][\d.]* σ-nats\)/);
  }
  // what a rank ensemble or one model cannot do, in one line
  for (const [args, why] of [
    [['--combine', 'rank', '--calibrate', NORMAL], /--calibrate <data> sets the alerts of running sequences: a rank ensemble judges whole sequences/],
    [['--combine', 'rank', '--min-events', '32'], /--min-events sets the alerts of running sequences/],
    [['--combine', 'rank', '--prefix-quantile', '0.9'], /--prefix-quantile sets the alerts of running sequences/],
    [['--combine', 'median'], /--combine must be z or rank, got 'median'/],
  ] as const) {
    const bad = cli(['watch', '--model', a, '--model', b, ...args, '--input', SOCKET]);
    assert.equal(bad.code, 2, bad.err);
    assert.match(bad.err, why);
  }
  const one = cli(['watch', '--model', a, '--combine', 'rank', '--input', SOCKET]);
  assert.equal(one.code, 2);
  assert.match(one.err, /--combine applies to ensembles/);
});

test('watch: Ctrl-C (SIGINT) on a live stream ends with a clean summary', async () => {
  const model = requestModel();
  const child = spawn(process.execPath, [MAIN, 'watch', '--model', model, '--input', '-', '--no-calibrate'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const guard = setTimeout(() => child.kill('SIGKILL'), 120_000);
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
  const firstLine = new Promise<void>((resolve) => child.stdout.on('data', (d: Buffer) => { out += d.toString(); if (out.includes('\n')) resolve(); }));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  child.stdin.on('error', () => {}); // watch closes its stdin when interrupted: a write still in flight gets EPIPE
  child.stdin.write(gunzipSync(readFileSync(IO))); // and stdin stays open, as a live source's would
  await firstLine;
  child.kill('SIGINT');
  const code = await exited;
  clearTimeout(guard);
  child.stdin.destroy();
  assert.equal(code, 0, err);
  const recs = lines(out);
  const summary = recs[recs.length - 1]!;
  assert.equal(summary.type, 'summary');
  assert.equal(summary.interrupted, true);
  assert.ok((summary.events as number) > 0);
  assert.equal(summary.open, 0);
  assert.equal(summary.sequences, recs.filter((r) => r.type === 'sequence').length);
  assert.match(err, /watch: interrupted, finishing/);
  assert.match(err, /^watch: \d+ events, \d+ sequences/m);
});

test('watch: bad input ends with one line naming the file and line, exit code 2', () => {
  const model = requestModel();
  const text = gunzipSync(readFileSync(IO)).toString('utf8').split('\n');
  const bad = [...text.slice(0, 50), '{"ts":"12", broken', ...text.slice(50, 60)].join('\n') + '\n';
  const file = join(tmp, 'bad.jsonl');
  writeFileSync(file, bad);
  for (const [args, input, where] of [[['--input', file], undefined, `${file}:line 51: `], [['--input', '-'], bad, '<stdin>:line 51: ']] as const) {
    const r = cli(['watch', '--model', model, '--no-calibrate', ...args], input);
    assert.equal(r.code, 2, r.err);
    const errLines = r.err.trim().split('\n');
    const last = errLines[errLines.length - 1]!;
    assert.ok(last.startsWith(`syscall-anomaly: ${where}`), last);
    assert.doesNotMatch(r.err, /\n\s+at /); // no stack
  }
  const g = cli(['watch', '--model', model, '--input', '-'], 'hello\n');
  assert.equal(g.code, 2);
  assert.match(g.err, /^syscall-anomaly: <stdin>:byte 0: unknown format on stdin/m);
  const u = cli(['watch', '--model', model, '--input', file, '--strace']);
  assert.equal(u.code, 2);
  assert.match(u.err, /give exactly one source/);
  // the live perf buffer: only with --perf, a power of two
  const pb = cli(['watch', '--model', model, '--input', file, '--perf-buffer', '64']);
  assert.equal(pb.code, 2);
  assert.match(pb.err, /--perf-buffer applies with --perf/);
  const p2 = cli(['watch', '--model', model, '--perf', '--perf-buffer', '100', '--', '/bin/true']);
  assert.equal(p2.code, 2);
  assert.match(p2.err, /--perf-buffer must be a power of two, got 100/);
});

test('watch --strace scores a small program live', (t) => {
  const probe = spawnSync('strace', ['-f', '-o', '/dev/null', '/bin/true'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    t.skip(`strace cannot run here: ${probe.error ? probe.error.message : probe.stderr.trim().split('\n')[0]}`);
    return;
  }
  const dir = join(tmp, 'ngram-thread');
  const tr = cli(['train', '--model', 'ngram', '--train', SOCKET, '--segment', 'thread', '-o', dir]);
  assert.equal(tr.code, 0, tr.err);
  const r = cli(['watch', '--model', dir, '--strace', '--', '/bin/ls', '/']);
  assert.equal(r.code, 0, r.err);
  const recs = r.out.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Line);
  const seqs = recs.filter((x) => x.type === 'sequence');
  assert.ok(seqs.some((x) => x.process === 'ls' && (x.length as number) > 20 && (x.perplexity as number) > 1), JSON.stringify(seqs));
  const summary = recs[recs.length - 1]!;
  assert.equal(summary.type, 'summary');
  assert.equal(summary.format, 'strace');
  assert.ok((summary.events as number) > 20);
  assert.equal(summary.sequences, seqs.length);
});

test('perf script lines: tracepoint and raw syscalls, signed results, lost records; a bad line names the line', () => {
  const counts = emptyCounts();
  const p = new PerfScriptParser('perf -- cat', counts, false);
  const out: SyscallEvent[] = [];
  const lines = [
    '             cat 19228/19228 [000]  9443.459224688: syscalls:sys_enter_openat: dfd: 0xffffff9c, filename: 0x7f1051f830b1, flags: 0x00080000, mode: 0x00000000',
    '             cat 19360/19360 [001]  9463.058227549:                     syscalls:sys_exit_read: 0x340',
    '      my prog 7/8 [001]  9463.058227550:                     syscalls:sys_exit_openat: 0xfffffffffffffffe',
    '             cat 19344/19344 [000]  9461.479644904: raw_syscalls:sys_enter: NR 12 (0, 7ffe9459fa4c, 0, 37f, 0, 0)',
    '             cat 19344/19344 [000]  9461.479646547:  raw_syscalls:sys_exit: NR 12 = 94367528136704',
    '             cat 19344/19344 [000]  9461.479646548:  sched:sched_switch: prev_comm=cat',
    '0x1a8 [0x30]: PERF_RECORD_LOST lost 12', // perf_event__fprintf_lost's shape
  ];
  lines.forEach((l, i) => p.line(l, i + 1, out));
  assert.equal(out.length, 5);
  assert.deepEqual(out.map((e) => [e.name, e.phase, e.proc, e.pid, e.tid, e.cpu]), [
    ['openat', 'entry', 'cat', 19228, 19228, 0], ['read', 'exit', 'cat', 19360, 19360, 1], ['openat', 'exit', 'my prog', 7, 8, 1],
    ['brk', 'entry', 'cat', 19344, 19344, 0], ['brk', 'exit', 'cat', 19344, 19344, 0],
  ]);
  assert.equal(out[0]!.ts, 9443_459224688n);
  assert.equal(out[0]!.args.dfd, 0xffffff9c);
  assert.equal(out[1]!.ret, 0x340);
  assert.equal(out[2]!.ret, -2);
  assert.equal(out[4]!.ret, 94367528136704);
  assert.equal(counts.otherEvents, 1);
  assert.equal(counts.lost, 12);
  assert.throws(() => p.line('garbage', 7, out), (e: Error) => /perf -- cat:line 7: perf script: unrecognised line/.test(e.message));
});

/** Why perf cannot record a command here (a one-event probe), or undefined when it can. */
function perfCannotRecord(): string | undefined {
  const probe = spawnSync('perf', ['record', '-q', '-o', '/dev/null', '-e', 'raw_syscalls:sys_enter', '--', '/bin/true'], { encoding: 'utf8' });
  if (!probe.error && probe.status === 0) return undefined;
  return `perf cannot record here: ${probe.error ? probe.error.message : probe.stderr.trim().split('\n')[0]}`;
}

test('watch --perf scores a small program live', (t) => {
  const cannot = perfCannotRecord();
  if (cannot) {
    t.skip(cannot);
    return;
  }
  const dir = join(tmp, 'ngram-thread-perf');
  const tr = cli(['train', '--model', 'ngram', '--train', SOCKET, '--segment', 'thread', '-o', dir]);
  assert.equal(tr.code, 0, tr.err);
  const r = cli(['watch', '--model', dir, '--no-calibrate', '--perf', '--raw-syscalls', '--', '/bin/ls', '/']);
  assert.equal(r.code, 0, r.err);
  const recs = lines(r.out);
  const seqs = recs.filter((x) => x.type === 'sequence');
  assert.ok(seqs.some((x) => x.process === 'ls' && (x.length as number) > 20 && (x.perplexity as number) > 1), JSON.stringify(seqs));
  const summary = recs[recs.length - 1]!;
  assert.equal(summary.format, 'perf-script');
  assert.equal(summary.sequences, seqs.length);
});

test('childPids: a process\'s children from /proc, and none once they have ended', async () => {
  const sh = spawn('sh', ['-c', 'sleep 0.4; true'], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 150));
  assert.deepEqual(childPids(process.pid).filter((p) => p === sh.pid), [sh.pid], 'the shell is this process\'s child');
  const kids = childPids(sh.pid!);
  assert.equal(kids.length, 1, 'the shell runs sleep');
  assert.match(readFileSync(`/proc/${kids[0]}/cmdline`, 'utf8'), /^sleep\0/);
  assert.equal(processEnded(kids[0]!), false, 'sleep is running');
  await new Promise((r) => sh.once('exit', r));
  assert.deepEqual(childPids(sh.pid!), []);
  assert.equal(processEnded(kids[0]!), true, 'sleep is gone');

  // A zombie counts as ended: the first sleep's parent becomes `sleep 1` (exec), which never reaps it.
  const z = spawn('sh', ['-c', 'sleep 0.05 & exec sleep 1'], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 400));
  const [zombie] = childPids(z.pid!);
  assert.ok(zombie !== undefined, 'the exec\'d sleep still holds its ended child');
  assert.match(readFileSync(`/proc/${zombie}/stat`, 'utf8'), /\) Z /);
  assert.equal(processEnded(zombie), true);
  assert.equal(processEnded(z.pid!), false);
  z.kill();
  await new Promise((r) => z.once('exit', r));
});

test('live perf: once the command has ended, a notice says perf is closing its events, for as long as it takes', async (t) => {
  const cannot = perfCannotRecord();
  if (cannot) {
    t.skip(cannot);
    return;
  }
  // syscalls:* is ~700 events, closed one by one after the command: ~28 s on the development VM, which is the wait
  // the notices explain. /bin/true ends at once, so nearly all the time from its end to the source's is perf's.
  const notices: Array<{ at: number; message: string }> = [];
  const t0 = performance.now();
  const src = perfSource({ command: ['/bin/true'] }, 'syscalls', 'paired', false, 256, (message) => notices.push({ at: performance.now() - t0, message }));
  const names: string[] = [];
  for await (const ev of src) names.push(ev.name);
  const took = performance.now() - t0;
  assert.ok(names.includes('execve'), `the command's calls arrive: ${names.slice(0, 10).join(' ')}`);
  if (took > 4_000) {
    assert.ok(notices.length >= 1, `${took.toFixed(0)} ms with no notice`);
    for (const n of notices) {
      assert.match(n.message, /^perf -- \/bin\/true: the command has ended; perf is closing its tracepoint events, .* and the last events come after that \(\d+ s so far\)$/);
    }
    // The first comes ~2 s after the end is seen (polled each second), the next every 10 s.
    assert.ok(notices[0]!.at >= 2_000 && notices[0]!.at <= 4_500, `first notice at ${notices[0]!.at.toFixed(0)} ms`);
    assert.ok(notices.length <= Math.ceil(took / 10_000) + 1, `${notices.length} notices in ${took.toFixed(0)} ms`);
  } else if (took < 2_000) {
    assert.deepEqual(notices, [], 'perf was quick: nothing to explain');
  }
});
