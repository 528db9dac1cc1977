/**
 * @module cli/lm-commands
 * Language-model commands: `train`, `update`, `info`, `score`, `evaluate`, `explain`. This file declares the options and checks them
 * (one-line usage errors, exit code 2); each command's work is in its own module. Every model kind of the registry
 * (`models/language-model.ts`) adds its settings as `train` options; an option of another kind than `--model` is
 * refused, never ignored.
 */
import { Option, type Command } from 'commander';
import { parseDataArg, type DataSpec } from '../features/dataset.js';
import { SEGMENTATIONS, type Segmentation } from '../features/sequences/index.js';
import { findModelKind, MODEL_KINDS, modelKindNames, resolveSettings } from '../models/language-model.js';
import { action, collect, UsageError, LENIENT_HELP } from './run.js';
import type { NovelSet } from './evaluate.js';
import { COMBINES, type Combine } from '../detect/ensemble.js';

const DATA = 'a trace (CTF folder, strace text, ADFA-LD, JSONL) or an ADFA-LD subset: ADFA-LD.zip:Training_Data_Master';
/** Default cap on the events of one sequence. */
export const DEFAULT_MAX_LEN = 100_000;

function positiveInt(flag: string, text: string): number {
  const v = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || !Number.isSafeInteger(v) || v < 1) throw new UsageError(`${flag} must be a positive integer, got '${text}'`);
  return v;
}

function quantile(text: string): number {
  const v = Number(text);
  if (text.trim() === '' || !(v > 0 && v <= 1)) throw new UsageError(`--quantile must be a number in (0, 1], got '${text}'`);
  return v;
}

/** `--lenient` skips damage in trace files; refuse it when every data argument is an ADFA-LD subset. */
function checkLenient(lenient: boolean, specs: DataSpec[]): void {
  if (lenient && specs.every((s) => s.kind === 'adfa')) {
    throw new UsageError('--lenient applies to CTF, strace and JSONL traces, not to ADFA-LD subsets');
  }
}

/** `--combine` of an ensemble: z (default) or rank; refused for one model. */
function parseCombine(models: readonly string[], combine: string | undefined, valid: string | undefined): { combine: Combine; valid: DataSpec | undefined } {
  if (models.length === 0) throw new UsageError("required option '--model <dir>' not specified");
  if (models.length === 1) {
    if (combine !== undefined) throw new UsageError('--combine applies to ensembles (give --model more than once)');
    if (valid !== undefined) throw new UsageError('--valid applies to ensembles (give --model more than once)');
  }
  const c = combine ?? 'z';
  if (!COMBINES.includes(c as Combine)) throw new UsageError(`--combine must be ${COMBINES.join(' or ')}, got '${c}'`);
  return { combine: c as Combine, valid: valid !== undefined ? parseDataArg(valid) : undefined };
}

const ENSEMBLE_MODEL = 'model folder written by train; repeat for an ensemble of models that share a segmentation';
const COMBINE = "ensembles: 'z' (mean of z-scores of ln perplexity on each model's normal validation sequences) or 'rank' (mean empirical CDF); default z";
const ENSEMBLE_VALID = 'ensembles: normal data to compute the normalisation on, instead of the statistics stored in the model folders';

function parseNovel(arg: string): NovelSet {
  const at = arg.indexOf('=');
  const name = at > 0 ? arg.slice(0, at) : '';
  if (!/^[A-Za-z0-9_.-]+$/.test(name) || at === arg.length - 1) {
    throw new UsageError(`--novel wants <name>=<data> (name: letters, digits, _ . -), got '${arg}'`);
  }
  return { name, data: parseDataArg(arg.slice(at + 1)) };
}

/** The options `train` and `update` share, worded once. */
const VALID_NOVEL_HELP = 'labelled novel validation data: also store the best-F1 threshold';
const QUANTILE_HELP = 'label-free threshold: this quantile of normal validation perplexity';
const JSON_MANIFEST_HELP = 'print the manifest as JSON';

/** `--train`, `--valid` and `--valid-novel` of `train` and `update`, parsed, with `--lenient` checked against them. */
function fitData(o: { train: string; valid?: string; validNovel?: string }, lenient: boolean): { train: DataSpec; valid?: DataSpec; validNovel?: DataSpec } {
  const train = parseDataArg(o.train);
  const valid = o.valid !== undefined ? parseDataArg(o.valid) : undefined;
  const validNovel = o.validNovel !== undefined ? parseDataArg(o.validNovel) : undefined;
  checkLenient(lenient, [train, valid, validNovel].filter((s): s is DataSpec => s !== undefined));
  return { train, valid, validNovel };
}

interface TrainOpts {
  /** Collected so that a second `--model` is refused, not silently taken (commander keeps the last). */
  model: string[];
  train: string;
  valid?: string;
  validNovel?: string;
  segment?: string;
  maxLen?: string;
  quantile: string;
  output: string;
  lenient?: boolean;
  json?: boolean;
  teacher?: string;
  distillAlpha?: string;
  [setting: string]: unknown;
}

function registerTrain(program: Command): void {
  const cmd = program
    .command('train')
    .description('fit a language model on normal data and save it with its thresholds in a model folder')
    .requiredOption('--model <kind>', `model kind: ${modelKindNames().join(', ')}`, collect)
    .requiredOption('--train <data>', `training data, normal behaviour only: ${DATA}`)
    .option('--valid <data>', 'normal validation data for the label-free threshold (default: every 10th training sequence, held out)')
    .option('--valid-novel <data>', VALID_NOVEL_HELP)
    .option('--segment <kind>', `how to cut traces into sequences: ${SEGMENTATIONS.join(', ')} (default thread; ADFA-LD subsets: one per trace)`)
    .option('--max-len <n>', `at most this many events per sequence (default ${DEFAULT_MAX_LEN})`)
    .option('--quantile <q>', QUANTILE_HELP, '0.99')
    .requiredOption('-o, --output <dir>', 'model folder to write (an existing model folder is replaced)')
    .option('--lenient', LENIENT_HELP)
    .option('--teacher <dir>', 'distillation: train an LSTM student on the next-token distributions of this model folder (an LSTM or n-gram; the student predicts what it predicts)')
    .option('--distill-alpha <x>', 'distillation: weight of the teacher\'s distribution in the targets, the rest on the observed name (default 0.7)')
    .option('--json', JSON_MANIFEST_HELP);
  /** attribute name → (kind, setting key) of every model-kind option */
  const settingOptions = new Map<string, { flag: string; kinds: Map<string, string> }>();
  for (const entry of MODEL_KINDS) {
    for (const o of entry.options) {
      const opt = new Option(o.flag, o.description);
      let s = settingOptions.get(opt.attributeName());
      if (!s) {
        cmd.addOption(opt);
        settingOptions.set(opt.attributeName(), (s = { flag: opt.long ?? o.flag, kinds: new Map() }));
      }
      s.kinds.set(entry.kind, o.key);
    }
  }
  cmd.action(action(async (o: TrainOpts) => {
    if (o.model.length > 1) throw new UsageError(`train fits one model: --model is given ${o.model.length} times (${o.model.join(', ')})`);
    const kindName = o.model[0]!;
    const entry = findModelKind(kindName);
    if (!entry) throw new UsageError(`--model: unknown kind '${kindName}' (known: ${modelKindNames().join(', ')})`);
    const given = new Map<string, string>();
    for (const [attr, s] of settingOptions) {
      const v = o[attr];
      if (v === undefined) continue;
      const key = s.kinds.get(entry.kind);
      if (key === undefined) throw new UsageError(`${s.flag} does not apply to --model ${entry.kind}`);
      given.set(key, String(v));
    }
    let settings;
    try {
      settings = resolveSettings(entry, given);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const lenient = o.lenient === true;
    const { train, valid, validNovel } = fitData(o, lenient);
    let segmentation: Segmentation = train.kind === 'adfa' ? 'trace' : 'thread';
    if (o.segment !== undefined) {
      if (!SEGMENTATIONS.includes(o.segment as Segmentation)) {
        throw new UsageError(`--segment: unknown kind '${o.segment}' (known: ${SEGMENTATIONS.join(', ')})`);
      }
      const specs = [train, valid, validNovel].filter((s): s is DataSpec => s !== undefined);
      if (specs.every((s) => s.kind === 'adfa')) throw new UsageError('--segment applies to trace files; ADFA-LD subsets are one sequence per trace');
      segmentation = o.segment as Segmentation;
    }
    if (o.distillAlpha !== undefined && o.teacher === undefined) throw new UsageError('--distill-alpha applies with --teacher');
    let teacher: { dir: string; alpha: number } | undefined;
    if (o.teacher !== undefined) {
      if (entry.kind !== 'lstm') throw new UsageError(`--teacher trains an LSTM student: give --model lstm, not ${entry.kind}`);
      const alpha = o.distillAlpha === undefined ? 0.7 : Number(o.distillAlpha);
      if (o.distillAlpha !== undefined && (o.distillAlpha.trim() === '' || !(alpha >= 0 && alpha <= 1))) {
        throw new UsageError(`--distill-alpha must be a number in [0, 1], got '${o.distillAlpha}'`);
      }
      if (settings.checkpoint !== '') throw new UsageError('--checkpoint cannot be combined with --teacher');
      teacher = { dir: o.teacher, alpha };
    }
    const { trainCommand } = await import('./train.js');
    await trainCommand({
      kind: entry.kind, settings, train, valid, validNovel, segmentation,
      maxLength: o.maxLen !== undefined ? positiveInt('--max-len', o.maxLen) : DEFAULT_MAX_LEN,
      quantile: quantile(o.quantile), lenient, output: o.output, teacher,
    }, o.json === true);
  }));
}

interface UpdateOpts {
  model: string[];
  train: string;
  valid?: string;
  validNovel?: string;
  quantile: string;
  output: string;
  lenient?: boolean;
  json?: boolean;
}

function registerUpdate(program: Command): void {
  program
    .command('update')
    .description('lifelong learning: teach a model folder more normal data without the old data (n-gram, timing and profile: exactly as if fitted on both; LSTM, Transformer, Longformer: fine-tuned against the old model\'s predictions, so that they forget little), and fit its thresholds again')
    .requiredOption('--model <dir>', 'model folder written by train or update', collect)
    .requiredOption('--train <data>', `more training data, normal behaviour only: ${DATA}`)
    .option('--valid <data>', 'normal validation data for the label-free threshold (default: every 10th new training sequence, held out)')
    .option('--valid-novel <data>', VALID_NOVEL_HELP)
    .option('--quantile <q>', QUANTILE_HELP, '0.99')
    .requiredOption('-o, --output <dir>', 'model folder to write (may be the --model folder itself)')
    .option('--lenient', LENIENT_HELP)
    .option('--json', JSON_MANIFEST_HELP)
    .action(action(async (o: UpdateOpts) => {
      if (o.model.length > 1) throw new UsageError(`update takes one model folder: --model is given ${o.model.length} times (${o.model.join(', ')})`);
      const lenient = o.lenient === true;
      const { train, valid, validNovel } = fitData(o, lenient);
      const { updateCommand } = await import('./train.js');
      await updateCommand(o.model[0]!, { train, valid, validNovel, quantile: quantile(o.quantile), lenient, output: o.output }, o.json === true);
    }));
}

function registerInfo(program: Command): void {
  program
    .command('info')
    .description('what a model folder holds: kind, settings, training data, updates, thresholds; its files verified')
    .argument('<dir>', 'model folder written by train or update')
    .option('--json', JSON_MANIFEST_HELP)
    .action(action(async (dir: string, o: { json?: boolean }) => {
      const { infoCommand } = await import('./train.js');
      await infoCommand(dir, o.json === true);
    }));
}

export function registerLmCommands(program: Command): void {
  registerTrain(program);
  registerUpdate(program);
  registerInfo(program);

  program
    .command('score')
    .description('score each sequence of the data: id, events, perplexity, novel yes/no (an ensemble: its score and each perplexity)')
    .requiredOption('--model <dir>', ENSEMBLE_MODEL, collect)
    .argument('<data>', DATA)
    .option('--threshold <which>', "novel above: 'quantile' (the label-free threshold), 'best-f1', or a perplexity (an ensemble score for ensembles)", 'quantile')
    .option('--combine <how>', COMBINE)
    .option('--valid <data>', ENSEMBLE_VALID)
    .option('--json', 'print one JSON document')
    .option('--lenient', LENIENT_HELP)
    .action(action(async (data: string, o: { model: string[]; threshold: string; combine?: string; valid?: string; json?: boolean; lenient?: boolean }) => {
      const spec = parseDataArg(data);
      const { combine, valid } = parseCombine(o.model, o.combine, o.valid);
      checkLenient(o.lenient === true, [spec]);
      const { parseThresholdChoice, scoreCommandMany } = await import('./score.js');
      await scoreCommandMany({
        models: o.model, data: spec, json: o.json === true, threshold: parseThresholdChoice(o.threshold), lenient: o.lenient === true, combine, valid,
      });
    }));

  program
    .command('evaluate')
    .description('AUC, F1, precision, recall and detection at 1 % false alarms of a model (or an ensemble and its members) on normal vs novel data')
    .requiredOption('--model <dir>', ENSEMBLE_MODEL, collect)
    .requiredOption('--normal <data>', `normal data: ${DATA}`)
    .option('--novel <name=data>', 'a named set of novel data (repeat for several)', collect, [])
    .option('--combine <how>', COMBINE)
    .option('--valid <data>', ENSEMBLE_VALID)
    .option('--json', 'print JSON')
    .option('--lenient', LENIENT_HELP)
    .action(action(async (o: { model: string[]; normal: string; novel: string[]; combine?: string; valid?: string; json?: boolean; lenient?: boolean }) => {
      if (o.novel.length === 0) throw new UsageError('evaluate needs at least one --novel <name>=<data>');
      const { combine, valid } = parseCombine(o.model, o.combine, o.valid);
      const normal = parseDataArg(o.normal);
      const novel = o.novel.map(parseNovel);
      const names = novel.map((n) => n.name);
      const dup = names.find((n, i) => names.indexOf(n) !== i);
      if (dup !== undefined) throw new UsageError(`--novel: the name '${dup}' is used twice`);
      checkLenient(o.lenient === true, [normal, ...novel.map((n) => n.data), ...(valid ? [valid] : [])]);
      const { evaluateCommandMany } = await import('./evaluate.js');
      await evaluateCommandMany({ models: o.model, normal, novel, lenient: o.lenient === true, combine, valid }, o.json === true);
    }));

  program
    .command('explain')
    .description('why one sequence is surprising: per-event surprise, per syscall and per field (attention models: what flagged events attended to)')
    .requiredOption('--model <dir>', `${ENSEMBLE_MODEL}: explains the ensemble's verdict, with each member's share`, collect)
    .argument('<data>', DATA)
    .requiredOption('--sequence <id>', 'the sequence id, as score prints it')
    .option('--top <k>', 'how many of the most surprising events to list', '10')
    .option('--html <file>', 'also write a self-contained HTML page')
    .option('--threshold <which>', "novel above: 'quantile', 'best-f1', or a perplexity (an ensemble score for ensembles)", 'quantile')
    .option('--combine <how>', COMBINE)
    .option('--valid <data>', ENSEMBLE_VALID)
    .option('--json', 'print JSON')
    .option('--lenient', LENIENT_HELP)
    .action(action(async (data: string, o: {
      model: string[]; sequence: string; top: string; html?: string; threshold: string; combine?: string; valid?: string; json?: boolean; lenient?: boolean;
    }) => {
      const spec = parseDataArg(data);
      const { combine, valid } = parseCombine(o.model, o.combine, o.valid);
      checkLenient(o.lenient === true, [spec, ...(valid ? [valid] : [])]);
      const { explainCommand, explainEnsembleCommand } = await import('./explain.js');
      const { parseThresholdChoice } = await import('./score.js');
      const req = {
        data: spec, id: o.sequence, top: positiveInt('--top', o.top), html: o.html, json: o.json === true,
        threshold: parseThresholdChoice(o.threshold), lenient: o.lenient === true,
      };
      if (o.model.length === 1) await explainCommand({ ...req, modelDir: o.model[0]! });
      else await explainEnsembleCommand({ ...req, modelDirs: o.model, combine, valid });
    }));
}
