/**
 * @module models/folder
 * A model folder: everything `score`, `evaluate` and `explain` need, and nothing else.
 *
 * - `manifest.json`: magic `"syscall-anomaly-model"`, format version, model kind, the kind's settings (stored as
 *   resolved at training), segmentation (kind, max length), token fields and the fitted tokenizer (vocabularies),
 *   the score the thresholds apply to (perplexity), the label-free threshold (a quantile of normal validation or
 *   held-out perplexities) and, when labelled novel data was given, the best-F1 threshold; a summary of the training
 *   data (what was read, sequences, events, truncations, date), the expected input (pairing, trace formats seen),
 *   and the weight files with their sizes and SHA-256; since ensembles, `normalScores`: the model's ln-perplexity
 *   statistics on the normal validation (or held-out) sequences (`models/normal-scores.ts`, for `detect/ensemble.ts`; optional, older folders lack
 *   it and still load); since stored prefix thresholds, `prefixScores`: prefix perplexities of the same sequences
 *   per power-of-two length (models that score incrementally; `watch`/`serve` take their thresholds from it).
 * - the weight files the kind wrote (`ngram.bin` for the n-gram: a `models/tensor-file` binary with magic + version).
 *
 * Saving is atomic: the folder is built beside the target under a temporary name and renamed into place (an existing
 * model folder there is replaced; anything else there is refused). Loading validates magic, version, kind, every
 * manifest field and every weight file (size, hash), and fails with a one-line `TraceError` naming the file.
 */
import type { DataSummary } from '../features/dataset.js';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { SEGMENTATIONS, type Segmentation } from '../features/sequences/index.js';
import { KNOWN_TOKEN_FIELDS, type TokenField, type TokenizerJSON } from '../features/tokens/tokenizer.js';
import type { PairingMode } from '../trace/event.js';
import { TraceError } from '../trace/errors.js';
import { checkNormalStats, checkPrefixScores, type NormalScoreStats, type PrefixScores } from './normal-scores.js';
import { findModelKind, modelKindNames, type LanguageModel, type ModelSettings, type SettingValue } from './language-model.js';

export const MODEL_MAGIC = 'syscall-anomaly-model';
export const MODEL_FORMAT_VERSION = 1;
export const MANIFEST_FILE = 'manifest.json';


/** The label-free threshold: perplexity above the q-quantile of normal perplexities is novel. */
export interface LabelFreeThreshold {
  method: 'quantile';
  /** The quantile of normal perplexities (0.99: about 1 % false alarms on such data). */
  q: number;
  value: number;
  /** How many normal perplexities it was fitted on. */
  fittedOn: number;
  /** Where the normal perplexities came from: `--valid` data, or 10 % of the training sequences held out. */
  on: 'validation' | 'held-out';
}

/** The threshold with the best F1 on normal validation vs labelled novel data. */
export interface BestF1Threshold {
  value: number;
  f1: number;
  precision: number;
  recall: number;
  normal: number;
  novel: number;
}

export type { DataSummary };

export interface ModelManifest {
  magic: typeof MODEL_MAGIC;
  formatVersion: number;
  kind: string;
  settings: ModelSettings;
  segmentation: { kind: Segmentation; maxLength: number };
  fields: TokenField[];
  tokenizer: TokenizerJSON;
  /** The sequence score the thresholds are on. */
  score: 'perplexity';
  thresholds: { labelFree: LabelFreeThreshold; bestF1?: BestF1Threshold };
  training: {
    date: string;
    seconds: number;
    train: DataSummary;
    /** Training sequences the model was fitted on (all of `train` but the held-out ones). */
    fitSequences: number;
    heldOut: number;
    valid?: DataSummary;
    validNovel?: DataSummary;
    /** A distilled student (`train --teacher`): the teacher folder, its kind, the soft-target weight α. */
    distilledFrom?: { teacher: string; kind: string; alpha: number; tokens: number; teacherSeconds: number };
    /**
     * A lifelong update (`syscall-anomaly update`): the model folder it started from, when that was trained, and how
     * many training sequences it had learned from in all (its own fit and earlier updates); `fitSequences` above are
     * this update's.
     */
    updatedFrom?: { model: string; date: string; fitSequences: number };
  };
  /** What input the model expects: how entries and exits are presented, and the formats it was trained on. */
  input: { pairing: PairingMode; formats: string[] };
  /** Figures the model reports about itself (vocabulary, n-grams, parameters). */
  model: Record<string, SettingValue>;
  files: { name: string; bytes: number; sha256: string }[];
  /** Scores of the normal validation sequences, for ensembles (absent in folders written before them). */
  normalScores?: NormalScoreStats;
  /** Prefix perplexities of the same sequences, for `watch`'s per-length thresholds (models that score incrementally). */
  prefixScores?: PrefixScores;
}

/** The parts of a manifest the caller decides; the rest comes from the model. */
export type ManifestInput = Pick<ModelManifest, 'segmentation' | 'thresholds' | 'training' | 'input' | 'normalScores' | 'prefixScores'>;

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

/** Writes `model` and its manifest to the folder `dir`, atomically; returns the manifest. */
export async function saveModelFolder(dir: string, model: LanguageModel, input: ManifestInput): Promise<ModelManifest> {
  const target = resolve(dir);
  if (await exists(target)) {
    const st = await stat(target);
    const empty = st.isDirectory() && (await readdir(target)).length === 0;
    if (!empty && !(st.isDirectory() && (await exists(join(target, MANIFEST_FILE))))) {
      throw new TraceError(dir, 0, 'exists and is not a model folder: refusing to replace it');
    }
  }
  await mkdir(dirname(target), { recursive: true });
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const tmp = join(dirname(target), `.${basename(target)}.tmp-${tag}`);
  await mkdir(tmp);
  try {
    const names = await model.save(tmp);
    const files: ModelManifest['files'] = [];
    for (const name of names) {
      const bytes = await readFile(join(tmp, name));
      files.push({ name, bytes: bytes.length, sha256: sha256(bytes) });
    }
    const tokenizer = model.tokenizer.toJSON();
    const manifest: ModelManifest = {
      magic: MODEL_MAGIC, formatVersion: MODEL_FORMAT_VERSION, kind: model.kind, settings: model.settings,
      segmentation: input.segmentation, fields: [...tokenizer.fields], tokenizer, score: 'perplexity',
      thresholds: input.thresholds, training: input.training, input: input.input, model: model.describe(), files,
      ...(input.normalScores ? { normalScores: input.normalScores } : {}),
      ...(input.prefixScores ? { prefixScores: input.prefixScores } : {}),
    };
    await writeFile(join(tmp, MANIFEST_FILE), JSON.stringify(manifest, null, 1) + '\n');
    if (await exists(target)) {
      const old = join(dirname(target), `.${basename(target)}.old-${tag}`);
      await rename(target, old);
      await rename(tmp, target);
      await rm(old, { recursive: true, force: true });
    } else {
      await rename(tmp, target);
    }
    return manifest;
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Reading and validating

type Json = unknown;

class Checker {
  constructor(readonly file: string) {}

  fail(reason: string): never {
    throw new TraceError(this.file, 0, reason);
  }

  get(obj: Json, path: string): Json {
    let v: Json = obj;
    for (const k of path.split('.')) v = v !== null && typeof v === 'object' ? (v as Record<string, Json>)[k] : undefined;
    return v;
  }

  object(obj: Json, path: string): Record<string, Json> {
    const v = this.get(obj, path);
    if (v === null || typeof v !== 'object' || Array.isArray(v)) this.fail(`manifest field '${path}' is missing or not an object`);
    return v as Record<string, Json>;
  }

  string(obj: Json, path: string): string {
    const v = this.get(obj, path);
    if (typeof v !== 'string') this.fail(`manifest field '${path}' is missing or not a string`);
    return v;
  }

  /** A number; `null` reads as −∞ (JSON has no infinities) when `nullIs` is given. */
  number(obj: Json, path: string, nullIs?: number): number {
    const v = this.get(obj, path);
    if (v === null && nullIs !== undefined) return nullIs;
    if (typeof v !== 'number') this.fail(`manifest field '${path}' is missing or not a number`);
    return v;
  }

  array(obj: Json, path: string): Json[] {
    const v = this.get(obj, path);
    if (!Array.isArray(v)) this.fail(`manifest field '${path}' is missing or not an array`);
    return v;
  }
}

function parseJson(text: string, file: string): Json {
  try {
    return JSON.parse(text);
  } catch (e) {
    const msg = (e as Error).message;
    const at = /position (\d+)/.exec(msg);
    const offset = at ? Buffer.byteLength(text.slice(0, Number(at[1])), 'utf8') : 0;
    throw new TraceError(file, offset, `manifest is not valid JSON (${msg.split('\n')[0]})`);
  }
}

/** Reads and validates `dir/manifest.json` and checks the weight files it lists. */
export async function readManifest(dir: string): Promise<ModelManifest> {
  let st;
  try {
    st = await stat(dir);
  } catch {
    throw new TraceError(dir, 0, 'cannot open model folder: no such file or directory');
  }
  if (!st.isDirectory()) throw new TraceError(dir, 0, 'not a model folder (expected a folder holding manifest.json)');
  const file = join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new TraceError(file, 0, 'missing: not a syscall-anomaly model folder');
  }
  const j = parseJson(text, file);
  const c = new Checker(file);
  if (c.get(j, 'magic') !== MODEL_MAGIC) {
    c.fail(`not a syscall-anomaly model (magic ${JSON.stringify(c.get(j, 'magic') ?? null)}, expected "${MODEL_MAGIC}")`);
  }
  const version = c.number(j, 'formatVersion');
  if (version !== MODEL_FORMAT_VERSION) {
    c.fail(`model format version ${version} is not supported (this syscall-anomaly reads version ${MODEL_FORMAT_VERSION})`);
  }
  const kind = c.string(j, 'kind');
  if (!findModelKind(kind)) c.fail(`unknown model kind '${kind}' (known: ${modelKindNames().join(', ')})`);
  const settings = c.object(j, 'settings');
  for (const [k, v] of Object.entries(settings)) {
    if (typeof v !== 'number' && typeof v !== 'string') c.fail(`manifest setting '${k}' is not a number or string`);
  }
  const seg = c.string(j, 'segmentation.kind');
  if (!SEGMENTATIONS.includes(seg as Segmentation)) c.fail(`unknown segmentation '${seg}' (known: ${SEGMENTATIONS.join(', ')})`);
  const maxLength = c.number(j, 'segmentation.maxLength');
  if (!Number.isInteger(maxLength) || maxLength < 1) c.fail(`segmentation.maxLength must be a positive integer, got ${maxLength}`);
  const fields = c.array(j, 'fields');
  for (const f of fields) if (!KNOWN_TOKEN_FIELDS.includes(f as TokenField)) c.fail(`unknown token field ${JSON.stringify(f)}`);
  const tokFields = c.array(j, 'tokenizer.fields');
  if (JSON.stringify(tokFields) !== JSON.stringify(fields)) c.fail('manifest fields and tokenizer fields differ');
  c.object(j, 'tokenizer.vocabularies');
  if (c.string(j, 'score') !== 'perplexity') c.fail(`unknown score '${c.get(j, 'score')}' (expected perplexity)`);
  c.number(j, 'thresholds.labelFree.value', -Infinity);
  const q = c.number(j, 'thresholds.labelFree.q');
  if (!(q >= 0 && q <= 1)) c.fail(`thresholds.labelFree.q must be in [0, 1], got ${q}`);
  if (c.get(j, 'thresholds.labelFree.method') !== 'quantile') c.fail('thresholds.labelFree.method must be "quantile"');
  if (c.get(j, 'thresholds.bestF1') !== undefined) c.number(j, 'thresholds.bestF1.value', -Infinity);
  const pairing = c.string(j, 'input.pairing');
  if (pairing !== 'raw' && pairing !== 'paired') c.fail(`input.pairing must be "raw" or "paired", got ${JSON.stringify(pairing)}`);
  c.object(j, 'training');
  const normalScores = c.get(j, 'normalScores');
  if (normalScores !== undefined) {
    const bad = checkNormalStats(normalScores);
    if (bad !== undefined) c.fail(`manifest field 'normalScores': ${bad}`);
    const ns = normalScores as NormalScoreStats;
    ns.scores = ns.scores.map((x) => (x === null ? Infinity : x)); // JSON has no ∞: written as null
  }
  const prefixScores = c.get(j, 'prefixScores');
  if (prefixScores !== undefined) {
    const bad = checkPrefixScores(prefixScores);
    if (bad !== undefined) c.fail(`manifest field 'prefixScores': ${bad}`);
    for (const p of (prefixScores as PrefixScores).points) p.perplexities = p.perplexities.map((x) => (x === null ? Infinity : x));
  }
  const files = c.array(j, 'files');
  const m = j as ModelManifest;
  // JSON has no −∞: a threshold of −∞ (alarm on everything) is written as null
  m.thresholds.labelFree.value = c.number(j, 'thresholds.labelFree.value', -Infinity);
  if (m.thresholds.bestF1) m.thresholds.bestF1.value = c.number(j, 'thresholds.bestF1.value', -Infinity);
  for (let i = 0; i < files.length; i++) {
    const name = c.string(j, `files.${i}.name`);
    if (name.includes('/') || name.includes('\\') || name === '..' || name === MANIFEST_FILE) c.fail(`bad weight file name ${JSON.stringify(name)}`);
    const bytes = c.number(j, `files.${i}.bytes`);
    const hash = c.string(j, `files.${i}.sha256`);
    const path = join(dir, name);
    let data: Buffer;
    try {
      data = await readFile(path);
    } catch {
      throw new TraceError(path, 0, 'weight file listed in manifest.json is missing');
    }
    if (data.length !== bytes) throw new TraceError(path, Math.min(data.length, bytes), `${data.length} bytes, manifest.json says ${bytes}`);
    if (sha256(data) !== hash) throw new TraceError(path, 0, 'damaged: its SHA-256 differs from the one in manifest.json');
  }
  return m;
}

/** Reads a model folder: the validated manifest and the model its kind loads from the weight files. */
export async function loadModelFolder(dir: string): Promise<{ manifest: ModelManifest; model: LanguageModel }> {
  const manifest = await readManifest(dir);
  const entry = findModelKind(manifest.kind)!;
  const kind = await entry.implementation();
  const model = await kind.load(dir, { settings: manifest.settings, tokenizer: manifest.tokenizer, files: manifest.files.map((f) => f.name) });
  return { manifest, model };
}
