/**
 * @module cli/lm.test
 * The language-model commands as a user runs them, on ADFA-LD (skipped when `../shared/data/adfa-ld/ADFA-LD.zip` is
 * absent): `train` an n-gram (default settings) on Training_Data_Master; `evaluate` it on Validation_Data_Master vs Attack_Data_Master
 * (AUC ≥ 0.80); `score` in a fresh process gives exactly the perplexities of an n-gram fitted here, independently,
 * on the same 90 % of the training traces; `explain` names the events that this independent model finds most
 * surprising; damaged model folders, bad data and bad usage are one-line errors with exit code 2.
 * A tiny LSTM (syscall names, hidden 32, 2 epochs, traces cut at 200 events) through the same commands: `score` in
 * two fresh processes gives identical perplexities, which agree with an independent float64 evaluation of the saved
 * weights (`models/lstm/cpu.ts`) on traces read here; `explain` agrees with `score`; `evaluate` ranks attacks above
 * validation traces (AUC > 0.6: the model is far from converged, the n-gram reaches 0.84).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sharedData } from '../testing/paths.js';
import { iterateAdfaTraces } from '../trace/adfa/adfa.js';
import type { SyscallEvent } from '../trace/event.js';
import type { Sequence } from '../features/sequences/sequence.js';
import { NgramScorer } from '../models/ngram/scorer.js';
import { Tokenizer } from '../features/tokens/tokenizer.js';
import { perplexityOf } from '../models/language-model.js';
import { LstmCpuScorer } from '../models/lstm/cpu.js';
import type { LstmConfig } from '../models/lstm/network.js';
import { readWeights } from '../engine/weights.js';
import { cli, oneLineError } from './cli-process.js';

const zip = sharedData('adfa-ld', 'ADFA-LD.zip');
const skip = existsSync(zip) ? undefined : `${zip} not found`;
const TRAIN = `${zip}:Training_Data_Master`;
const ADDUSER = `${zip}:Attack_Data_Master/Adduser`;

let root = '';
let model = '';
let trained: { code: number | null; out: string; err: string };

before(() => {
  if (skip) return;
  root = mkdtempSync(join(tmpdir(), 'sa-lm-'));
  model = join(root, 'ngram');
  trained = cli('train', '--model', 'ngram', '--train', TRAIN, '-o', model, '--json');
});

after(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

function adfaSequence(path: string, index: number, names: string[]): Sequence {
  const events: SyscallEvent[] = names.map((name, i) => ({ ts: BigInt(i), cpu: 0, pid: index, tid: index, proc: path, name, phase: 'entry', args: {} }));
  return { id: path, events };
}

/**
 * An n-gram fitted here on the training traces but every tenth (the CLI holds those out for its threshold), and the
 * Adduser attack traces — read with the ADFA-LD reader directly, not through the CLI's data layer.
 */
let independent: Promise<{ scorer: NgramScorer; adduser: Map<string, Sequence> }> | undefined;
function fitIndependently(): Promise<{ scorer: NgramScorer; adduser: Map<string, Sequence> }> {
  independent ??= (async () => {
    const train: Sequence[] = [];
    const adduser = new Map<string, Sequence>();
    let i = 0;
    for await (const t of iterateAdfaTraces(zip)) {
      if (t.trace.set === 'validation') break; // sorted: Attack…, Training…, Validation…
      if (t.trace.attack === 'Adduser') adduser.set(t.trace.path, adfaSequence(t.trace.path, t.index, t.names));
      if (t.trace.set === 'training' && i++ % 10 !== 9) train.push(adfaSequence(t.trace.path, t.index, t.names));
    }
    assert.equal(train.length, 750);
    return { scorer: NgramScorer.fit(train, 5, 1), adduser };
  })();
  return independent;
}

test('train: an n-gram on ADFA-LD Training_Data_Master, 10 % held out for the label-free threshold', { skip }, () => {
  assert.equal(trained.code, 0, trained.err);
  const m = JSON.parse(trained.out);
  assert.equal(m.magic, 'syscall-anomaly-model');
  assert.equal(m.kind, 'ngram');
  assert.deepEqual(m.settings, { order: 5, minCount: 1, predict: 'name' }, 'the defaults');
  assert.deepEqual(m.segmentation, { kind: 'trace', maxLength: 100_000 });
  assert.equal(m.training.train.sequences, 833);
  assert.equal(m.training.fitSequences, 750);
  assert.equal(m.training.heldOut, 83);
  assert.equal(m.thresholds.labelFree.q, 0.99);
  assert.equal(m.thresholds.labelFree.fittedOn, 83);
  assert.deepEqual(JSON.parse(readFileSync(join(model, 'manifest.json'), 'utf8')), m);
});

test('evaluate --json: AUC ≥ 0.80 for Attack_Data_Master vs Validation_Data_Master', { skip }, () => {
  const r = cli('evaluate', '--model', model, '--normal', `${zip}:Validation_Data_Master`, '--novel', `attack=${zip}:Attack_Data_Master`, '--json');
  assert.equal(r.code, 0, r.err);
  const e = JSON.parse(r.out);
  assert.equal(e.normal.data.sequences, 4372);
  const a = e.sets.attack;
  assert.equal(a.data.sequences, 746);
  assert.ok(a.auc >= 0.8, `AUC ${a.auc}`);
  assert.ok(a.bestF1.f1 >= a.f1, 'best F1 is at least the F1 at the label-free threshold');
  assert.ok(a.detectionAtFar.falseAlarmRate <= 0.01);
  assert.ok(a.detectionAtFar.detectionRate > 0.01, 'better than chance at 1 % false alarms');
  // precision and recall at the label-free threshold agree with its false-alarm rate on the normal data
  const tp = a.recall * 746;
  const fp = e.normal.falseAlarmRate * 4372;
  assert.ok(Math.abs(a.precision - tp / (tp + fp)) < 1e-9);
});

test('score in a fresh process: exactly the perplexities of the same n-gram fitted here; text and JSON agree', { skip }, async () => {
  const { scorer, adduser } = await fitIndependently();
  const threshold = JSON.parse(readFileSync(join(model, 'manifest.json'), 'utf8')).thresholds.labelFree.value;
  const j = cli('score', '--model', model, '--json', ADDUSER);
  assert.equal(j.code, 0, j.err);
  const doc = JSON.parse(j.out);
  assert.equal(doc.sequences.length, 91);
  assert.deepEqual(doc.sequences.map((s: { id: string }) => s.id), [...adduser.keys()]);
  for (const s of doc.sequences) {
    const seq = adduser.get(s.id)!;
    assert.equal(s.length, seq.events.length);
    assert.equal(s.perplexity, Math.exp(scorer.score(seq)), s.id);
    assert.equal(s.novel, s.perplexity > threshold);
  }
  assert.equal(doc.novel, doc.sequences.filter((s: { novel: boolean }) => s.novel).length);
  const t = cli('score', '--model', model, ADDUSER);
  assert.equal(t.code, 0, t.err);
  const lines = t.out.trimEnd().split('\n');
  assert.deepEqual(lines, doc.sequences.map((s: { id: string; length: number; perplexity: number; novel: boolean }) =>
    `${s.id}\t${s.length}\t${s.perplexity.toPrecision(6)}\t${s.novel ? 'yes' : 'no'}`));
  assert.match(t.err, new RegExp(`^91 sequences from .*: ${doc.novel} novel`));
});

test('explain an attack trace: the top events are the ones the model finds most surprising', { skip }, async () => {
  const { scorer, adduser } = await fitIndependently();
  // the Adduser trace the independent model finds most surprising
  let id = '';
  let best = -Infinity;
  for (const [k, s] of adduser) {
    const v = scorer.score(s);
    if (v > best) [best, id] = [v, k];
  }
  const nll = scorer.eventNll(adduser.get(id)!);
  const order = Array.from(adduser.get(id)!.events, (_, i) => i).sort((a, b) => nll[b] - nll[a] || a - b);
  const html = join(root, 'explain.html');
  const r = cli('explain', '--model', model, ADDUSER, '--sequence', id, '--top', '5', '--json', '--html', html);
  assert.equal(r.code, 0, r.err);
  const e = JSON.parse(r.out);
  assert.equal(e.perplexity, Math.exp(best));
  const x = e.explanation;
  assert.equal(x.id, id);
  assert.equal(x.events, adduser.get(id)!.events.length);
  assert.deepEqual(x.top.map((t: { index: number }) => t.index), order.slice(0, 5));
  assert.deepEqual(x.top.map((t: { nll: number }) => t.nll), order.slice(0, 5).map((i) => nll[i]));
  assert.equal(x.top[0].name, adduser.get(id)!.events[order[0]].name);
  assert.deepEqual(x.byField.map((f: { field: string }) => f.field), ['name']);
  const bySyscall = x.bySyscall.reduce((s: number, b: { totalNll: number }) => s + b.totalNll, 0);
  assert.ok(Math.abs(bySyscall + x.endNll - x.totalNll) < 1e-6);
  const page = readFileSync(html, 'utf8');
  assert.ok(page.startsWith('<!DOCTYPE html>'));
  assert.ok(page.includes(id));
  const text = cli('explain', '--model', model, ADDUSER, '--sequence', id);
  assert.equal(text.code, 0, text.err);
  assert.match(text.out, new RegExp(`^sequence ${id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: ${x.events} events`));
  assert.match(text.out, new RegExp(`\\n\\s+${order[0]}\\s+${nll[order[0]].toFixed(2)}\\s+${x.top[0].name}\\s`));
});

test('damaged model folders: one line naming the file, exit code 2', { skip }, () => {
  const copy = join(root, 'damaged');
  cpSync(model, copy, { recursive: true });
  const mf = join(copy, 'manifest.json');
  const good = readFileSync(mf, 'utf8');
  const esc = mf.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  writeFileSync(mf, good.slice(0, good.length / 2));
  oneLineError(cli('score', '--model', copy, ADDUSER), new RegExp(`^syscall-anomaly: ${esc}:byte \\d+: manifest is not valid JSON`));
  writeFileSync(mf, good.replace('"syscall-anomaly-model"', '"some-other-model"'));
  oneLineError(cli('evaluate', '--model', copy, '--normal', ADDUSER, '--novel', `a=${ADDUSER}`),
    new RegExp(`^syscall-anomaly: ${esc}:byte 0: not a syscall-anomaly model \\(magic "some-other-model"`));
  writeFileSync(mf, good.replace('"formatVersion": 1', '"formatVersion": 7'));
  oneLineError(cli('explain', '--model', copy, ADDUSER, '--sequence', 'x'), /model format version 7 is not supported/);
  oneLineError(cli('score', '--model', join(root, 'no-such-model'), ADDUSER), /no-such-model:byte 0: cannot open model folder/);
});

test('bad data and bad usage: one line, exit code 2', { skip }, () => {
  oneLineError(cli('score', '--model', model, '/nonexistent/trace'), /^syscall-anomaly: \/nonexistent\/trace:byte 0: cannot open: no such file or directory$/);
  const junk = join(root, 'junk.txt');
  writeFileSync(junk, 'this is not a trace\n');
  oneLineError(cli('score', '--model', model, junk), new RegExp(`${junk.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:byte 0: unknown trace format`));
  oneLineError(cli('score', '--model', model, `${zip}:Attack_Data_Master/Abc`), /no ADFA-LD traces under 'Attack_Data_Master\/Abc'/);
  oneLineError(cli('explain', '--model', model, ADDUSER, '--sequence', 'nope'), /no sequence 'nope' among its 91 sequences/);
  oneLineError(cli('evaluate', '--model', model, '--normal', ADDUSER), /needs at least one --novel/);
  oneLineError(cli('evaluate', '--model', model, '--normal', ADDUSER, '--novel', ADDUSER), /--novel wants <name>=<data>/);
  oneLineError(cli('train', '--model', 'lstm9', '--train', TRAIN, '-o', join(root, 'x')), /--model: unknown kind 'lstm9' \(known: ngram/);
  oneLineError(cli('train', '--model', 'ngram', '--order', '0', '--train', TRAIN, '-o', join(root, 'x')), /--order must be an integer in 1\.\.12/);
  oneLineError(cli('train', '--model', 'lstm', '--order', '3', '--train', TRAIN, '-o', join(root, 'x')), /--order does not apply to --model lstm/);
  oneLineError(cli('train', '--model', 'ngram', '--hidden', '8', '--train', TRAIN, '-o', join(root, 'x')), /--hidden does not apply to --model ngram/);
  oneLineError(cli('train', '--model', 'ngram', '--segment', 'process', '--train', TRAIN, '-o', join(root, 'x')), /--segment applies to trace files/);
  oneLineError(cli('score', '--model', model, '--lenient', ADDUSER), /--lenient applies to CTF, strace and JSONL traces/);
  oneLineError(cli('score', '--model', model, '--threshold', 'best-f1', ADDUSER), /the model has no best-F1 threshold/);
  assert.ok(!existsSync(join(root, 'x')));
});

// ---------------------------------------------------------------------------------------------------------------
// The LSTM kind through the same commands

const LSTM_MAX_LEN = 200;
let lstm: { dir: string; r: { code: number | null; out: string; err: string } } | undefined;

/** Trains (once) a tiny LSTM on the syscall names of Training_Data_Master, traces cut at 200 events. */
function trainLstm(): { dir: string; r: { code: number | null; out: string; err: string } } {
  if (!lstm) {
    const dir = join(root, 'lstm');
    const r = cli('train', '--model', 'lstm', '--train', TRAIN, '--fields', 'name', '--hidden', '32', '--embed', '16', '--epochs', '2',
      '--threads', '2', '--max-len', String(LSTM_MAX_LEN), '-o', dir, '--json');
    lstm = { dir, r };
  }
  assert.equal(lstm.r.code, 0, lstm.r.err);
  return lstm;
}

test('train --model lstm: a tiny LSTM over syscall names, saved with its threshold', { skip }, () => {
  const { dir, r } = trainLstm();
  const m = JSON.parse(r.out);
  assert.equal(m.kind, 'lstm');
  assert.equal(m.settings.hidden, 32);
  assert.equal(m.settings.fields, 'name');
  assert.deepEqual(m.fields, ['name']);
  assert.deepEqual(m.segmentation, { kind: 'trace', maxLength: LSTM_MAX_LEN });
  assert.deepEqual(m.files.map((f: { name: string }) => f.name).sort(), ['lstm.json', 'lstm.onnx', 'lstm.weights']);
  assert.equal(m.training.fitSequences, 750);
  assert.equal(m.training.heldOut, 83);
  assert.ok(m.model.epochs >= 1 && m.model.epochs <= 2, `${m.model.epochs} epochs`);
  // stderr is a pipe here, not a terminal: a line per epoch for the log, instead of the redrawn progress line
  const epochs = r.err.split('\n').filter((l) => l.startsWith('epoch '));
  assert.equal(epochs.length, m.model.epochs, r.err);
  assert.match(epochs[0]!, /^epoch 1\/2: train loss \d+\.\d{4}, valid loss \d+\.\d{4} \(perplexity [\d.]+\), [\d,]+ tokens\/s$/);
  assert.doesNotMatch(r.err, /\r/);
  assert.ok(Number.isFinite(m.thresholds.labelFree.value) && m.thresholds.labelFree.value > 1);
  assert.deepEqual(JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')), m);
});

test('score an LSTM in fresh processes: the same perplexities twice, those of a float64 evaluation of its weights', { skip }, async () => {
  const { dir } = trainLstm();
  const runs = [1, 2].map(() => {
    const r = cli('score', '--model', dir, '--json', ADDUSER);
    assert.equal(r.code, 0, r.err);
    return JSON.parse(r.out) as { sequences: { id: string; length: number; truncated: boolean; perplexity: number; novel: boolean }[] };
  });
  assert.equal(runs[0].sequences.length, 91);
  assert.deepEqual(runs[1].sequences, runs[0].sequences);

  // independently: the saved weights evaluated token by token in float64, on traces read here
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  const config = JSON.parse(readFileSync(join(dir, 'lstm.json'), 'utf8')).config as LstmConfig;
  const reference = new LstmCpuScorer(config, await readWeights(join(dir, 'lstm.weights')));
  const tokenizer = Tokenizer.fromJSON(manifest.tokenizer);
  const { adduser } = await fitIndependently();
  for (const s of runs[0].sequences.slice(0, 30)) {
    const full = adduser.get(s.id)!;
    const seq: Sequence = { id: s.id, events: full.events.slice(0, LSTM_MAX_LEN), truncated: full.events.length > LSTM_MAX_LEN };
    assert.equal(s.length, seq.events.length);
    assert.equal(s.truncated, seq.truncated);
    const ppl = perplexityOf(reference.logProbs(tokenizer.encode(seq)));
    assert.ok(Math.abs(s.perplexity / ppl - 1) < 1e-4, `${s.id}: ${s.perplexity} vs ${ppl}`);
  }

  // explain scores the sequence alone (a batch of one): the same perplexity, to float32 precision
  const worst = runs[0].sequences.reduce((a, b) => (b.perplexity > a.perplexity ? b : a));
  const e = cli('explain', '--model', dir, ADDUSER, '--sequence', worst.id, '--top', '3', '--json');
  assert.equal(e.code, 0, e.err);
  const x = JSON.parse(e.out);
  assert.ok(Math.abs(x.perplexity / worst.perplexity - 1) < 1e-5, `${x.perplexity} vs ${worst.perplexity}`);
  assert.equal(x.novel, worst.novel);
  assert.deepEqual(x.explanation.byField.map((f: { field: string }) => f.field), ['name']);
  assert.ok(Math.abs(Math.log(x.perplexity) - x.explanation.score) < 1e-9, 'perplexity = exp(mean surprise)');
});

test('evaluate --json an LSTM: attacks score above validation traces', { skip }, () => {
  const { dir } = trainLstm();
  const r = cli('evaluate', '--model', dir, '--normal', `${zip}:Validation_Data_Master`, '--novel', `attack=${zip}:Attack_Data_Master`, '--json');
  assert.equal(r.code, 0, r.err);
  const e = JSON.parse(r.out);
  assert.equal(e.model.kind, 'lstm');
  assert.equal(e.normal.data.sequences, 4372);
  assert.ok(e.normal.data.truncated > 0, 'traces longer than 200 events are cut');
  const a = e.sets.attack;
  assert.equal(a.data.sequences, 746);
  assert.ok(a.auc > 0.6, `AUC ${a.auc}`);
  assert.ok(a.bestF1.f1 >= a.f1);
});
