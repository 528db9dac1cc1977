#!/usr/bin/env node
/**
 * @module experiments/web-novelty/results
 * Train + evaluate on the full recording (the last step of run.sh), with the project's own commands only:
 *
 *   train    --model KIND [settings] --segment request --train normal/train.jsonl.gz --valid normal/valid.jsonl.gz
 *   evaluate --model M --normal normal/valid.jsonl.gz --novel <n>=<n>/valid.jsonl.gz …   (validation: best-F1 thresholds)
 *   evaluate --model M --normal normal/test.jsonl.gz  --novel <n>=<n>/test.jsonl.gz …    (test: AUC, label-free F1)
 *   score    --model M --threshold <validation best-F1 threshold of n> <n>/test.jsonl.gz   (test F1 at that threshold)
 *
 * and writes RESULTS.md: the recording (sizes, wrk tallies, CPU used by others per block, lost events, load) and, per model, the per-novelty table
 * (F1 at the threshold chosen on validation, F1 at the label-free threshold, ROC AUC) beside the reference figures.
 *
 *   node results.mjs CLI OUT RESULTS.md      (CLI: path to cli/main.js; OUT: the recordings folder)
 * Models: MODELS, labels of the demo's models (`DEMO_MODELS` in cli/demo-lm.ts: each a kind and its settings, e.g.
 * `ngram-size` = `--model ngram --predict name,size`; default: all of them) or plain kinds at their defaults;
 * `student`, `timing-shape` (see EXTRA_MODELS), `ensemble`, `ensemble-shape` (see ENSEMBLES); LSTM_ARGS: extra `train` options for every LSTM; REUSE_MODELS=1 keeps
 * model folders already trained in OUT/models.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [cli, out, resultsPath] = process.argv.slice(2);
if (!cli || !out || !resultsPath) {
  process.stderr.write('usage: node results.mjs CLI OUT RESULTS.md\n');
  process.exit(2);
}
const NOVELTIES = ['connection', 'cpu', 'io', 'opcache', 'socket', 'ssl'];
/** The control: a second normal run (recorded after the novelties), scored like a novelty, outside the mean. */
const CONTROL = 'normal2';
const LSTM_ARGS = (process.env.LSTM_ARGS ?? '').split(/\s+/).filter(Boolean);
const dist = (rel) => import(new URL(rel, new URL(`file://${cli}`)).href);
const metrics = await dist('../detect/metrics.js');
const { DEMO_MODELS, demoModel } = await dist('./demo-lm.js');
const { findModelKind } = await dist('../models/language-model.js');
const { DEMO_ENSEMBLE } = await dist('./demo-lm.js');
/**
 * Ensembles (z-combined) of models trained before them: `ensemble`, the demo's (`DEMO_ENSEMBLE`); `ensemble-shape`,
 * the same with the timing model at its kind's default (a Gaussian per call shape); `ensemble-shape-h5`, with that one
 * scoring each request with its connection's last 5.
 */
const ENSEMBLES = { ensemble: DEMO_ENSEMBLE, 'ensemble-shape': ['ngram-size', 'timing-shape'], 'ensemble-shape-h5': ['ngram-size', 'timing-shape-h5'] };
/** Model labels; the ensembles last. */
const MODELS = (process.env.MODELS ?? [...DEMO_MODELS.map((m) => m.label), 'timing-shape', 'timing-shape-h5', 'longformer', 'transformer-lat', 'transformer-pid', 'longformer-pid', 'student', ...Object.keys(ENSEMBLES)].join(' ')).split(/\s+/).filter(Boolean);
/**
 * Labels beyond the demo's: the Transformer predicting name + latency bucket (`transformer-lat`); the Transformer
 * and the Longformer reading all seven fields, pid and tid included (`transformer-pid`, `longformer-pid`: each
 * condition is its own Apache run with its own worker pids, which such a model tells apart — the control row shows
 * it); `student`, a narrow LSTM (hidden 32) distilled from `lstm-lat`
 * (trained before it) on the same fields and predicted unit (issue 6: the student's quality beside its teacher's);
 * `timing-shape`, the timing model at its kind's default (a Gaussian per call shape; the demo's `timing` runs one);
 * `timing-shape-h5`, the same scoring each request with its connection's last 5 (`--history 5`, as the demo's).
 */
const WITH_PID = ['--fields', 'name,phase,dt,proc,pid,tid,ret'];
const EXTRA_MODELS = {
  'transformer-lat': () => ['--model', 'transformer', '--predict', 'name,lat'],
  'transformer-pid': () => ['--model', 'transformer', ...WITH_PID],
  'longformer-pid': () => ['--model', 'longformer', ...WITH_PID],
  'timing-shape': () => ['--model', 'timing'],
  'timing-shape-h5': () => ['--model', 'timing', '--history', '5'],
  student: () => ['--model', 'lstm', '--hidden', '32', '--predict', 'name,lat', '--fields', 'name,phase,dt,proc,ret',
    '--teacher', join(out, 'models', 'lstm-lat')],
};
/** `train` options of a model label: --model KIND and its settings as flags. */
function modelArgs(label) {
  if (EXTRA_MODELS[label]) return EXTRA_MODELS[label]();
  const m = demoModel(label);
  const entry = findModelKind(m.kind);
  if (!entry) throw new Error(`unknown model '${label}'`);
  const flags = [...(m.settings ?? new Map())].flatMap(([k, v]) => [entry.options.find((o) => o.key === k).flag.split(' ')[0], v]);
  return ['--model', m.kind, ...flags, ...(m.kind === 'lstm' ? LSTM_ARGS : [])];
}

function sa(args, opts = {}) {
  process.stderr.write(`syscall-anomaly ${args.join(' ')}\n`);
  return execFileSync('nice', ['-n', '5', process.execPath, cli, ...args], { encoding: 'utf8', maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'inherit'], ...opts });
}
const file = (cond, part) => join(out, cond, `${part}.jsonl.gz`);
const f3 = (x) => (Number.isNaN(x) ? '–' : x.toFixed(3));

/** Scores of `score` (TSV: id, length, perplexity or an ensemble's score, …); `flags`: --model DIR (repeated). */
function scores(flags, data) {
  return sa(['score', ...flags, data]).split('\n').filter(Boolean).map((l) => Number(l.split('\t')[2]));
}

const results = {};
const evaluateTables = {};
/** What each set held (from the evaluate / train summaries): `cond/part` → DataSummary. */
const summaries = {};
for (const label of MODELS) {
  const model = join(out, 'models', label);
  mkdirSync(join(out, 'models'), { recursive: true });
  const t0 = Date.now();
  const members = ENSEMBLES[label];
  const ensemble = members !== undefined;
  const flags = ensemble ? members.flatMap((l) => ['--model', join(out, 'models', l)]) : ['--model', model];
  const reuse = ensemble || (process.env.REUSE_MODELS === '1' && existsSync(join(model, 'manifest.json')));
  if (!reuse) {
    sa(['train', ...modelArgs(label), '--segment', 'request', '--max-len', '10000', '--train', file('normal', 'train'),
      '--valid', file('normal', 'valid'), '-o', model]);
  }
  const scored = existsSync(file(CONTROL, 'test')) ? [...NOVELTIES, CONTROL] : NOVELTIES;
  const novelArgs = (part) => scored.flatMap((n) => ['--novel', `${n}=${file(n, part)}`]);
  const pick = (j) => (ensemble ? j.ensemble : j); // an ensemble's own figures (its members' are beside them)
  const valid = pick(JSON.parse(sa(['evaluate', ...flags, '--normal', file('normal', 'valid'), ...novelArgs('valid'), '--json'])));
  evaluateTables[label] = sa(['evaluate', ...flags, '--normal', file('normal', 'test'), ...novelArgs('test')]);
  const test = pick(JSON.parse(sa(['evaluate', ...flags, '--normal', file('normal', 'test'), ...novelArgs('test'), '--json'])));
  const manifest = ensemble ? undefined : JSON.parse(readFileSync(join(model, 'manifest.json'), 'utf8'));
  const trainSeconds = ensemble ? 0 : reuse ? manifest.training.seconds : (Date.now() - t0) / 1000;
  if (manifest) summaries['normal/train'] = manifest.training.train;
  summaries['normal/valid'] = valid.normal.data;
  summaries['normal/test'] = test.normal.data;
  for (const n of scored) {
    summaries[`${n}/valid`] = valid.sets[n].data;
    summaries[`${n}/test`] = test.sets[n].data;
  }
  const normalTest = scores(flags, file('normal', 'test'));
  const rows = [];
  for (const n of scored) {
    // −∞ (JSON null): flagging every sequence gave the best F1 on validation.
    const thr = valid.sets[n].bestF1.threshold ?? -Infinity;
    const novel = scores(flags, file(n, 'test'));
    const s = Float64Array.from([...normalTest, ...novel]);
    const labels = Array.from(s, (_, i) => i >= normalTest.length);
    rows.push({
      novelty: n, normal: normalTest.length, novel: novel.length, threshold: thr,
      f1: metrics.confusionAt(s, labels, thr).f1, f1LabelFree: test.sets[n].f1, auroc: test.sets[n].auc,
      aurocCheck: metrics.rocAuc(s, labels),
    });
  }
  const settings = ensemble ? { members: members.join(' + '), combine: test.combine } : test.model.settings;
  const control = rows.find((x) => x.novelty === CONTROL);
  results[label] = { trainSeconds, settings, labelFree: test.threshold, rows: rows.filter((x) => x !== control), control };
}

// ---- RESULTS.md
const conds = ['normal', ...NOVELTIES, ...(existsSync(join(out, CONTROL, 'loadavg.txt')) ? [CONTROL] : [])];
const parts = (c) => (c === 'normal' ? ['sample', 'train', 'valid', 'test'] : ['sample', 'valid', 'test']);
const lines = [];
const recLine = (c) => {
  const log = existsSync(join(out, c, 'record.log')) ? readFileSync(join(out, c, 'record.log'), 'utf8') : '';
  const m = /recorded ([\d,]+) events in ([\d.]+) s \((\d+) lost\)/.exec(log);
  return m ? { events: m[1], seconds: m[2], lost: m[3] } : { events: '?', seconds: '?', lost: '?' };
};
/** CPU used by others while a block ran (hostcpu.mjs, run.sh): foreign processes + hypervisor steal, in cores. */
const others = (c, p) => {
  const f = join(out, c, `${p}.host.json`);
  if (!existsSync(f)) return '';
  const h = JSON.parse(readFileSync(f, 'utf8'));
  return ` (others ${(h.foreign + h.steal).toFixed(2)})`;
};
lines.push('| condition | recorded events (perf samples) | recording s | lost | blocks: wrk requests (CPU cores others used meanwhile: processes outside the experiment + steal) | load average (1/5/15 min) at the end |');
lines.push('|---|---:|---:|---:|---|---|');
for (const c of conds) {
  const r = recLine(c);
  const wrk = parts(c).map((p) => {
    const j = JSON.parse(readFileSync(join(out, c, `${p}.wrk.json`), 'utf8'));
    const e = j.errors;
    const errs = e.connect + e.read + e.write + e.status + e.timeout;
    return `${p} ${j.requests}${errs ? ` (${errs} errors/timeouts)` : ''}${others(c, p)}`;
  }).join(', ');
  const load = readFileSync(join(out, c, 'loadavg.txt'), 'utf8').split(' ').slice(0, 3).join(' / ');
  lines.push(`| ${c} | ${r.events} | ${r.seconds} | ${r.lost} | ${wrk} | ${load} |`);
}
const sizes = ['', 'Sets of the full recording (`train` = the sample block + the train block; events outside any request — accept',
  'loop, connection close, access-log write after the response — are "unassigned"):', '',
  '| set | events (paired calls) | request sequences | unassigned events | gzip size |', '|---|---:|---:|---:|---:|'];
for (const c of conds) {
  for (const p of parts(c)) {
    if (p === 'sample') continue;
    const d = summaries[`${c}/${p}`] ?? {};
    sizes.push(`| ${c}/${p} | ${d.events ?? '?'} | ${d.sequences ?? '?'} | ${d.unassigned ?? '?'} | ${(statSync(file(c, p)).size / 1e6).toFixed(1)} MB |`);
  }
}
const summary = ['| model | ' + NOVELTIES.join(' | ') + ' | mean F1 | control AUC (lower is right) |', '|---|' + NOVELTIES.map(() => '---|').join('') + '---:|---:|'];
for (const label of MODELS) {
  const r = results[label];
  const mean = r.rows.reduce((a, x) => a + x.f1, 0) / r.rows.length;
  summary.push(`| ${label} | ${r.rows.map((x) => `${f3(x.f1)} / ${f3(x.auroc)}`).join(' | ')} | ${f3(mean)} | ${r.control ? f3(r.control.auroc) : '–'} |`);
}
const tables = [];
for (const label of MODELS) {
  const r = results[label];
  const mean = r.rows.reduce((a, x) => a + x.f1, 0) / r.rows.length;
  const worst = r.rows.reduce((a, x) => (x.f1 < a.f1 ? x : a));
  const score = ENSEMBLES[label] ? 'score' : 'perplexity';
  tables.push(`### ${label} (${Object.entries(r.settings).map(([k, v]) => `${k} ${v}`).join(', ') || 'no settings'})` +
    (ENSEMBLES[label] ? '' : `, trained in ${r.trainSeconds.toFixed(0)} s`), '');
  tables.push(`Label-free threshold: ${score} > ${r.labelFree.value.toPrecision(5)} (${r.labelFree.name}).`, '');
  tables.push(`| novelty | normal test | novel test | F1 (threshold from validation) | (${score} >) | F1 (label-free) | ROC AUC |`);
  tables.push('|---|---:|---:|---:|---:|---:|---:|');
  for (const x of r.rows) tables.push(`| ${x.novelty} | ${x.normal} | ${x.novel} | ${f3(x.f1)} | ${x.threshold.toPrecision(4)} | ${f3(x.f1LabelFree)} | ${f3(x.auroc)} |`);
  tables.push(`| **mean** | | | **${f3(mean)}** (worst: ${worst.novelty} ${f3(worst.f1)}) | | ${f3(r.rows.reduce((a, x) => a + x.f1LabelFree, 0) / r.rows.length)} | ${f3(r.rows.reduce((a, x) => a + x.auroc, 0) / r.rows.length)} |`);
  const c = r.control;
  if (c) tables.push(`| ${CONTROL} (control: a second normal run, not in the mean) | ${c.normal} | ${c.novel} | ${f3(c.f1)} | ${c.threshold.toPrecision(4)} | ${f3(c.f1LabelFree)} | ${f3(c.auroc)} |`);
  tables.push('');
  tables.push('`syscall-anomaly evaluate` on the test blocks (F1 there is at the label-free threshold; "best F1" is chosen on the test data itself):', '', '```', evaluateTables[label].trimEnd(), '```', '');
}
const generated = [
  '<!-- generated by experiments/web-novelty/results.mjs -->',
  `Generated ${new Date().toISOString()}.`, '',
  '## The recording', '', ...lines, ...sizes, '',
  '## Full recording: train on normal train, thresholds on validation, scores on test', '',
  'Test F1 (threshold from validation) / ROC AUC per novelty; the control is a second run of the normal server, scored',
  'as if it were novel: an AUC well above 0.5 there means the model tells server runs apart, not behaviour.', '',
  ...summary, '', ...tables,
].join('\n') + '\n';
writeFileSync(join(out, 'results.json'), JSON.stringify(results, null, 1) + '\n');
// RESULTS.md keeps its hand-written part above the marker line.
const marker = '<!-- generated by experiments/web-novelty/results.mjs -->';
const old = existsSync(resultsPath) ? readFileSync(resultsPath, 'utf8') : '';
const head = old.includes(marker) ? old.slice(0, old.indexOf(marker)) : old;
writeFileSync(resultsPath, head + generated);
process.stderr.write(`wrote ${resultsPath} and ${join(out, 'results.json')}\n`);
