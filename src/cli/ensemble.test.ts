/**
 * @module cli/ensemble.test
 * Ensembles and distillation through the commands, on the committed web-server sample (`data/web-demo`, request
 * sequences): two n-grams (orders 2 and 4) trained by `train` store their normal validation statistics; `score` with
 * both gives, per request, the mean of the members' normalised perplexities — recomputed here from the single-model
 * `score --json` perplexities and the manifests' statistics; `evaluate` (the `cpu` requests — the same calls as
 * normal ones — standing in for normal test data, to keep it short) reports every member exactly as the
 * single-model `evaluate` does, plus the ensemble and whether it beats the best member; members with another
 * segmentation, folders written before ensembles (unless `--valid` is given) and misplaced options are one-line
 * errors. `explain` with both explains the ensemble's verdict: the same score, each member's normalised score, and
 * per-event surprise whose mean, less the members' mean μ/σ, is the score. `train --model lstm --teacher` records
 * its teacher; its misuses are one-line errors.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { combineScores, Normaliser, spreadOf, type NormalScoreStats } from '../detect/ensemble.js';
import { projectData } from '../testing/paths.js';
import { cli, oneLineError } from './cli-process.js';

const NORMAL = projectData('web-demo', 'normal.jsonl.gz');
const IO = projectData('web-demo', 'io.jsonl.gz');
/** Requests served beside a CPU hog: the same calls as normal ones (a small stand-in for normal test data). */
const CPU = projectData('web-demo', 'cpu.jsonl.gz');
let root = '';
const dirs: Record<string, string> = {};

before(() => {
  root = mkdtempSync(join(tmpdir(), 'sa-ens-'));
  for (const [name, args] of Object.entries({
    ng2: ['--order', '2'], ng4: ['--order', '4'], short: ['--order', '2', '--max-len', '50'],
  })) {
    dirs[name] = join(root, name);
    const r = cli('train', '--model', 'ngram', ...args, '--segment', 'request', '--train', NORMAL, '-o', dirs[name]);
    assert.equal(r.code, 0, r.err);
  }
});

after(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

const manifest = (dir: string) => JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));

test('score with two models: each request\'s ensemble score is the mean of the normalised member perplexities', () => {
  const single = [dirs.ng2, dirs.ng4].map((d) => {
    const r = cli('score', '--model', d, IO, '--json');
    assert.equal(r.code, 0, r.err);
    return JSON.parse(r.out).sequences as { id: string; perplexity: number }[];
  });
  for (const combine of ['z', 'rank'] as const) {
    const r = cli('score', '--model', dirs.ng2, '--model', dirs.ng4, '--combine', combine, IO, '--json');
    assert.equal(r.code, 0, r.err);
    const doc = JSON.parse(r.out);
    assert.equal(doc.ensemble.combine, combine);
    assert.equal(doc.sequences.length, 600);
    const norm = [dirs.ng2, dirs.ng4].map((d) => new Normaliser(manifest(d).normalScores, combine));
    const expected = combineScores(norm, single.map((s) => s.map((x) => x.perplexity)));
    // p-values against the ensemble's own scores on the members' paired normal held-out requests
    const normalScores = combineScores(norm, norm.map((n) => n.stats.scores.map((x) => Math.exp(x))));
    assert.equal(doc.pValues, `against ${normalScores.length} normal held-out sequences, by ensemble score`);
    doc.sequences.forEach((s: { id: string; score: number; perplexities: number[]; novel: boolean; pValue: number }, i: number) => {
      assert.equal(s.id, single[0][i].id);
      assert.deepEqual(s.perplexities, [single[0][i].perplexity, single[1][i].perplexity]);
      assert.ok(Math.abs(s.score - expected[i]) < 1e-12, `${s.id}: ${s.score} vs ${expected[i]}`);
      assert.equal(s.novel, s.score > doc.threshold.value);
      // a normal score within rounding (1e-9 relative) of the sequence's is a tie: rank scores tie often
      const atOrAbove = normalScores.filter((x) => x >= s.score - 1e-9 * Math.max(1, Math.abs(s.score))).length;
      assert.equal(s.pValue, (1 + atOrAbove) / (normalScores.length + 1), s.id);
    });
    assert.equal(doc.threshold.paired, true, 'both members held out the same training requests');
    assert.ok(doc.novel > 300, `${combine}: ${doc.novel} of 600 io requests novel`);
  }
  const text = cli('score', '--model', dirs.ng2, '--model', dirs.ng4, IO);
  assert.equal(text.code, 0, text.err);
  assert.match(text.out.split('\n')[0], /^req:\S+\t\d+\t[-\d.e]+\t(yes|no)\t[\d.e+]+,[\d.e+]+$/);
  assert.match(text.err, /600 sequences from .*io\.jsonl\.gz: \d+ novel .* at ensemble score \(z\) > /);
});

test('evaluate with two models: members as evaluated alone, the ensemble, and whether it beats the best member', () => {
  const r = cli('evaluate', '--model', dirs.ng2, '--model', dirs.ng4, '--normal', CPU, '--novel', `io=${IO}`, '--json');
  assert.equal(r.code, 0, r.err);
  const doc = JSON.parse(r.out);
  for (const [i, d] of [dirs.ng2, dirs.ng4].entries()) {
    const alone = cli('evaluate', '--model', d, '--normal', CPU, '--novel', `io=${IO}`, '--json');
    assert.equal(alone.code, 0, alone.err);
    assert.deepEqual(doc.members[i], JSON.parse(alone.out));
  }
  const c = doc.comparison.io;
  assert.equal(c.ensembleAuc, doc.ensemble.sets.io.auc);
  assert.equal(c.bestMemberAuc, Math.max(doc.members[0].sets.io.auc, doc.members[1].sets.io.auc));
  assert.equal(c.beatsBestMember, c.ensembleAuc > c.bestMemberAuc);
  assert.ok(doc.ensemble.sets.io.auc > 0.9, `ensemble AUC ${doc.ensemble.sets.io.auc}`);
  assert.ok(doc.ensemble.normal.falseAlarmRate < 0.05, `false alarms ${doc.ensemble.normal.falseAlarmRate}`);
  const text = cli('evaluate', '--model', dirs.ng2, '--model', dirs.ng4, '--combine', 'rank', '--normal', CPU, '--novel', `io=${IO}`);
  assert.equal(text.code, 0, text.err);
  assert.match(text.out, /^ensemble of 2 models, rank-averaged/);
  assert.match(text.out, /\nio +ensemble \(rank\) +600 /);
  assert.match(text.out, /\nio: ensemble AUC [\d.]+ (beats|does not beat) the best single model \(/);
});

test('ensemble errors: segmentation, folders without statistics (unless --valid), misplaced options', () => {
  oneLineError(cli('score', '--model', dirs.ng2, '--model', dirs.short, IO),
    /must share a segmentation: .*ng2 has request, at most 100000 events, paired events, .*short has request, at most 50 events/);
  const old = join(root, 'old');
  cpSync(dirs.ng4, old, { recursive: true });
  const m = manifest(old);
  delete m.normalScores;
  writeFileSync(join(old, 'manifest.json'), JSON.stringify(m));
  oneLineError(cli('score', '--model', dirs.ng2, '--model', old, IO), /old: the model folder has no normal validation scores .*give --valid/);
  const withValid = cli('evaluate', '--model', dirs.ng2, '--model', old, '--valid', IO, '--normal', CPU, '--novel', `io=${IO}`, '--json');
  assert.equal(withValid.code, 0, withValid.err);
  const doc = JSON.parse(withValid.out);
  assert.match(doc.ensemble.normalisation, /computed on .*io\.jsonl\.gz/);
  assert.equal(doc.ensemble.threshold.paired, true);
  oneLineError(cli('score', '--model', dirs.ng2, '--combine', 'rank', IO), /--combine applies to ensembles/);
  oneLineError(cli('score', '--model', dirs.ng2, '--valid', IO, IO), /--valid applies to ensembles/);
  oneLineError(cli('score', '--model', dirs.ng2, '--model', dirs.ng4, '--combine', 'max', IO), /--combine must be z or rank, got 'max'/);
  oneLineError(cli('score', '--model', dirs.ng2, '--model', dirs.ng4, '--threshold', 'best-f1', IO), /best-f1 applies to one model/);
  oneLineError(cli('score', '--model', dirs.ng2, '--model', dirs.ng2, IO), /is given twice/);
  oneLineError(cli('explain', '--model', dirs.ng2, '--model', dirs.ng4, IO, '--sequence', 'nope'), /io\.jsonl\.gz: no sequence 'nope' among its 600 sequences/);
  oneLineError(cli('explain', '--model', dirs.ng2, '--combine', 'rank', IO, '--sequence', 'x'), /--combine applies to ensembles/);
  // where one model is meant, a second --model is refused rather than silently taking the last
  oneLineError(cli('train', '--model', 'ngram', '--model', 'lstm', '--train', IO, '-o', join(root, 'x')), /train fits one model: --model is given 2 times \(ngram, lstm\)/);
  oneLineError(cli('serve', '--model', dirs.ng2, '--model', dirs.ng4, '--threshold', 'best-f1'), /best-f1 applies to one model/);
});

test('explain with two models: the ensemble score, each member\'s share, and per-event surprise that adds up to the score', () => {
  const scored = JSON.parse(cli('score', '--model', dirs.ng2, '--model', dirs.ng4, IO, '--json').out);
  const top = [...scored.sequences].sort((a: { score: number }, b: { score: number }) => b.score - a.score)[0] as { id: string; score: number; perplexities: number[] };
  const html = join(root, 'ensemble.html');
  const r = cli('explain', '--model', dirs.ng2, '--model', dirs.ng4, IO, '--sequence', top.id, '--json', '--html', html);
  assert.equal(r.code, 0, r.err);
  const doc = JSON.parse(r.out);
  assert.ok(Math.abs(doc.score - top.score) < 1e-9 * Math.abs(top.score), `${doc.score} vs score's ${top.score}`);
  assert.equal(doc.novel, true);
  assert.deepEqual(doc.ensemble.members.map((m: { label: string }) => m.label), ['ng2', 'ng4']);
  doc.ensemble.members.forEach((m: { perplexity: number }, i: number) => assert.ok(Math.abs(m.perplexity - top.perplexities[i]!) < 1e-9 * m.perplexity));
  const normalised = doc.ensemble.members.map((m: { normalised: number }) => m.normalised) as number[];
  assert.ok(Math.abs((normalised[0]! + normalised[1]!) / 2 - doc.score) < 1e-9 * Math.abs(doc.score));
  // z: the score is the mean per-token surprise less the mean of μ/σ over the members.
  const exp = doc.explanation;
  const stats = [dirs.ng2, dirs.ng4].map((d) => manifest(d).normalScores as NormalScoreStats);
  const offset = stats.reduce((a, st) => a + st.mean / spreadOf(st), 0) / 2;
  assert.ok(Math.abs(exp.score - offset - doc.score) < 1e-6 * Math.abs(doc.score), `${exp.score} − ${offset} vs ${doc.score}`);
  assert.deepEqual(exp.byField.map((f: { field: string }) => f.field), ['ng2', 'ng4']);
  assert.ok(Math.abs(exp.byField.reduce((a: number, f: { share: number }) => a + f.share, 0) - 1) < 1e-9);
  assert.equal(exp.unit.name, 'σ-nats');
  const page = readFileSync(html, 'utf8');
  assert.match(page, /By member/);
  assert.match(page, /σ-nats/);
  const text = cli('explain', '--model', dirs.ng2, '--model', dirs.ng4, IO, '--sequence', top.id);
  assert.equal(text.code, 0, text.err);
  assert.match(text.out, /ensemble score [\d.]+ \(z\) — NOVEL/);
  assert.match(text.out, /by member:\n {2}ng2 +total/);
});

test('train --teacher: a distilled LSTM student records its teacher; misuse is a one-line error', () => {
  const out = join(root, 'student');
  const r = cli('train', '--model', 'lstm', '--fields', 'name', '--hidden', '8', '--embed', '8', '--epochs', '1', '--segment', 'request',
    '--train', IO, '--teacher', dirs.ng2, '--distill-alpha', '0.5', '-o', out);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /teacher +.*ng2 \(ngram\): soft targets α 0\.5 on [\d,]+ tokens/);
  const d = manifest(out).training.distilledFrom;
  assert.equal(d.kind, 'ngram');
  assert.equal(d.alpha, 0.5);
  assert.ok(d.tokens > 5000, `${d.tokens} tokens`);
  oneLineError(cli('train', '--model', 'ngram', '--train', IO, '--teacher', dirs.ng2, '-o', join(root, 'x')), /--teacher trains an LSTM student/);
  oneLineError(cli('train', '--model', 'lstm', '--train', IO, '--distill-alpha', '0.5', '-o', join(root, 'x')), /--distill-alpha applies with --teacher/);
  oneLineError(cli('train', '--model', 'lstm', '--train', IO, '--teacher', dirs.ng2, '--distill-alpha', '2', '-o', join(root, 'x')),
    /--distill-alpha must be a number in \[0, 1\], got '2'/);
  oneLineError(cli('train', '--model', 'lstm', '--train', IO, '--teacher', join(root, 'none'), '-o', join(root, 'x')), /none:byte 0: cannot open model folder/);
});
