/**
 * @module cli/window-commands
 * Supervised window commands: `windows` (a trace → a labelled window set) and `classify` (window sets → grouped
 * cross-validation or a train/test evaluation; `--compare` for the models × preparations table; `--one-class` for
 * detection from normal windows only). This file declares the options and checks their combinations (one-line
 * usage errors, exit code 2); the work is in `windows.ts`, `classify.ts` and `one-class.ts`.
 */
import { basename, dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { windowConfig, type WindowFeatures, type WindowSplit } from '../features/windows/index.js';
import type { BalanceMode } from '../features/preprocess/balance.js';
import { action, UsageError, LENIENT_HELP } from './run.js';
import { windowsCommand, type EventFilter } from './windows.js';
import { classifyCommand, MODEL_NAMES, NORMALIZERS, parseModels, type Normalizer } from './classify.js';
import { ONE_CLASS_MODELS, oneClassCommand, type OneClassName } from './one-class.js';

function positiveInt(flag: string, text: string): number {
  const v = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || !Number.isSafeInteger(v) || v < 1) throw new UsageError(`${flag} must be a positive integer, got '${text}'`);
  return v;
}

function oneOf<T extends string>(flag: string, text: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(text)) throw new UsageError(`${flag} must be one of ${allowed.join(', ')}, got '${text}'`);
  return text as T;
}

/** The default group: the trace's file or folder name (its parent's for a perf `ctf/` folder). */
export function defaultGroup(trace: string): string {
  const p = resolve(trace);
  const b = basename(p);
  return b === 'ctf' ? basename(dirname(p)) : b;
}

interface WindowsOpts {
  output: string; label: string; group?: string; size: string; stride?: string; split: string; features: string;
  partial?: boolean; proc?: string; pid?: string; vocab?: string; lenient?: boolean; json?: boolean;
}

interface ClassifyOpts {
  train?: string[]; test?: string[]; cv?: string; balance?: string | boolean; normalize?: string; fisher?: string;
  model?: string; compare?: boolean; oneClass?: boolean; normalLabel?: string; quantile?: string; seed: string; json?: boolean;
}

export function registerWindowCommands(program: Command): void {
  program
    .command('windows')
    .description('cut a trace into sliding windows of N syscalls (count/duration vectors) and save them as a labelled window set')
    .argument('<trace>', 'a trace (CTF folder, strace text, ADFA-LD trace, JSONL)')
    .requiredOption('-o, --output <file>', 'the window set to write (.saws)')
    .requiredOption('--label <name>', 'class label of every window (e.g. normal, cpu, memory)')
    .option('--group <name>', 'group of every window, for grouped cross-validation: the recording run (default: the trace\'s name)')
    .option('--size <n>', 'syscalls per window', '10000')
    .option('--stride <n>', 'syscalls between window starts (default: --size, no overlap)')
    .option('--split <how>', 'windows over the whole stream, or per process or per thread: stream|process|thread', 'stream')
    .option('--features <what>', 'per syscall: counts|durations|both', 'counts')
    .option('--partial', 'also keep the last, shorter window of each stream/process/thread')
    .option('--proc <name>', 'keep only events of this process name (e.g. mariadbd)')
    .option('--pid <n>', 'keep only events of this process id')
    .option('--vocab <file>', 'use the (frozen) syscall vocabulary of this window set; unseen syscalls are counted as <unk>')
    .option('--lenient', LENIENT_HELP)
    .option('--json', 'print the summary as JSON')
    .action(action(async (trace: string, o: WindowsOpts) => {
      if (o.proc !== undefined && o.pid !== undefined) throw new UsageError('give --proc or --pid, not both');
      const filter: EventFilter = o.proc !== undefined ? { kind: 'proc', name: o.proc }
        : o.pid !== undefined ? { kind: 'pid', pid: positiveInt('--pid', o.pid) } : { kind: 'all' };
      const size = positiveInt('--size', o.size);
      const config = windowConfig({
        size,
        stride: o.stride === undefined ? size : positiveInt('--stride', o.stride),
        split: oneOf<WindowSplit>('--split', o.split, ['stream', 'process', 'thread']),
        features: oneOf<WindowFeatures>('--features', o.features, ['counts', 'durations', 'both']),
        partial: o.partial === true,
      });
      await windowsCommand({
        trace, output: o.output, label: o.label, group: o.group ?? defaultGroup(trace), config, filter,
        vocabFrom: o.vocab, lenient: o.lenient === true,
      }, o.json === true);
    }));

  program
    .command('classify')
    .description('classify labelled window sets: grouped cross-validation by run (or --test), per-class P/R/F1, confusion matrix; --compare for models × preparations; --one-class for detection from normal windows only')
    .option('--train <sets...>', 'training window sets (.saws)')
    .option('--test <sets...>', 'test window sets (default: grouped cross-validation over the training sets)')
    .option('--cv <k>', 'folds of grouped cross-validation, without --test (default 5)')
    .option('--balance [mode]', 'balance the training classes: undersample (default) or oversample')
    .option('--normalize <kind>', `normalise features: ${NORMALIZERS.join('|')} (--compare: default minmax)`)
    .option('--fisher <k>', 'keep the k features with the best Fisher score and print the ranking (--compare: default 10)')
    .option('--model <name>', `${MODEL_NAMES.join('|')} (--compare: a comma-separated list, default all); with --one-class: ${ONE_CLASS_MODELS.join('|')}`)
    .option('--compare', 'every model × {raw, prepared, prepared + Fisher top-k} on the same folds, as one table')
    .option('--one-class', 'fit on normal windows only and detect the others')
    .option('--normal-label <label>', 'with --one-class: the normal class')
    .option('--quantile <q>', 'with --one-class: alert threshold = this quantile of normal validation scores (default 0.99)')
    .option('--seed <n>', 'seed for folds, balancing and forests', '0')
    .option('--json', 'print JSON')
    .action(action(async (o: ClassifyOpts) => {
      if (!o.train?.length) throw new UsageError('classify needs --train <set.saws…>');
      if (o.cv !== undefined && o.test?.length) throw new UsageError('--cv goes with cross-validation; not with --test');
      const cv = o.cv === undefined ? 5 : positiveInt('--cv', o.cv);
      if (cv < 2) throw new UsageError('--cv must be at least 2');
      const seedText = o.seed.trim();
      if (!/^\d+$/.test(seedText)) throw new UsageError(`--seed must be a non-negative integer, got '${o.seed}'`);
      const seed = Number(seedText);
      const normalize = o.normalize === undefined ? undefined : oneOf<Normalizer>('--normalize', o.normalize, NORMALIZERS);
      const json = o.json === true;
      if (o.oneClass) {
        if (o.compare) throw new UsageError('--compare and --one-class do not go together');
        if (o.balance !== undefined) throw new UsageError('--balance needs labelled classes; not with --one-class');
        if (o.fisher !== undefined) throw new UsageError('--fisher ranks features by class labels; not with --one-class');
        if (o.normalLabel === undefined) throw new UsageError('--one-class needs --normal-label <label>');
        const qText = o.quantile ?? '0.99';
        const q = Number(qText);
        if (qText.trim() === '' || !(q > 0 && q <= 1)) throw new UsageError(`--quantile must be a number in (0, 1], got '${qText}'`);
        await oneClassCommand({
          train: o.train, test: o.test ?? [], cv, model: oneOf<OneClassName>('--model', o.model ?? 'iforest', ONE_CLASS_MODELS),
          normalLabel: o.normalLabel, normalize, quantile: q, seed, json,
        });
        return;
      }
      if (o.normalLabel !== undefined) throw new UsageError('--normal-label goes with --one-class');
      if (o.quantile !== undefined) throw new UsageError('--quantile goes with --one-class');
      if (o.compare && o.test?.length) throw new UsageError('--compare uses grouped cross-validation; not with --test');
      if (!o.compare && o.model === undefined) throw new UsageError(`classify needs --model ${MODEL_NAMES.join('|')} (or --compare)`);
      const balance: BalanceMode | undefined = o.balance === undefined ? undefined
        : typeof o.balance === 'string' ? oneOf<BalanceMode>('--balance', o.balance, ['undersample', 'oversample']) : 'undersample';
      await classifyCommand({
        train: o.train, test: o.test ?? [], cv,
        prep: {
          normalize: o.compare ? normalize ?? 'minmax' : normalize, balance,
          fisherK: o.fisher === undefined ? undefined : positiveInt('--fisher', o.fisher), seed,
        },
        models: o.model === undefined ? [...MODEL_NAMES] : parseModels(o.model, o.compare === true),
        compare: o.compare === true, json,
      });
    }));
}
