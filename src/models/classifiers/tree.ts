/**
 * @module models/classifiers/tree
 * Histogram-based CART (gini) decision tree and random forest. Features are binned once into ≤ 255 quantile bins;
 * at each node a class histogram per bin gives every split of a feature in one pass. Trees store raw thresholds,
 * so prediction needs no binning.
 */
import { matrix, rng, type Matrix } from '../../features/preprocess/matrix.js';
import { argmaxClasses, checkFitInput, checkPredictInput, encodeLabels, type Classifier } from './classifier.js';
import { QuantileBinner } from './binning.js';

/** Tree settings. */
export interface TreeConfig {
  /** Deepest level (root = 0). Default Infinity. */
  readonly maxDepth: number;
  /** Nodes with fewer rows are leaves. Default 2. */
  readonly minSamplesSplit: number;
  /** Each child keeps at least this many rows. Default 1. */
  readonly minSamplesLeaf: number;
  /** Features tried per node: 'all', 'sqrt', or a count. Default 'all' for a tree, 'sqrt' in a forest. */
  readonly maxFeatures: 'all' | 'sqrt' | number;
  /** Bins per feature, 2..256. Default 255. */
  readonly maxBins: number;
}

export function treeConfig(fields: Partial<TreeConfig> = {}): TreeConfig {
  const c = { maxDepth: Infinity, minSamplesSplit: 2, minSamplesLeaf: 1, maxFeatures: 'all' as TreeConfig['maxFeatures'], maxBins: 255, ...fields };
  for (const k of Object.keys(fields)) if (!['maxDepth', 'minSamplesSplit', 'minSamplesLeaf', 'maxFeatures', 'maxBins'].includes(k)) throw new TypeError(`tree config: unknown field '${k}'`);
  if (!(c.maxDepth >= 0)) throw new RangeError(`tree: maxDepth must be ≥ 0`);
  if (!Number.isInteger(c.minSamplesSplit) || c.minSamplesSplit < 2) throw new RangeError('tree: minSamplesSplit must be an integer ≥ 2');
  if (!Number.isInteger(c.minSamplesLeaf) || c.minSamplesLeaf < 1) throw new RangeError('tree: minSamplesLeaf must be an integer ≥ 1');
  if (c.maxFeatures !== 'all' && c.maxFeatures !== 'sqrt' && !(Number.isInteger(c.maxFeatures) && c.maxFeatures >= 1)) {
    throw new RangeError(`tree: maxFeatures must be 'all', 'sqrt' or an integer ≥ 1`);
  }
  return Object.freeze(c);
}

/** A fitted tree in flat arrays; node 0 is the root; leaves have feature −1. */
interface FlatTree {
  feature: Int32Array;
  threshold: Float64Array;
  left: Int32Array;
  right: Int32Array;
  /** Class distribution per node (leaves used). // [nodes, K] */
  value: Float64Array;
}

/**
 * Grows one tree on binned data. `rows` lists the training rows (repeats allowed: bootstrap).
 * `importance` accumulates weighted gini decrease per feature.
 */
function growTree(
  bins: Uint8Array, n: number, d: number, codes: Int32Array, K: number, rows: Uint32Array,
  binner: QuantileBinner, cfg: TreeConfig, rand: () => number, importance: Float64Array,
): FlatTree {
  const feature: number[] = [], threshold: number[] = [], left: number[] = [], right: number[] = [], value: number[] = [];
  const nb = binner.maxBins;
  const hist = new Float64Array(nb * K);
  const tot = new Float64Array(K), lc = new Float64Array(K);
  const mtry = cfg.maxFeatures === 'all' ? d : cfg.maxFeatures === 'sqrt' ? Math.max(1, Math.floor(Math.sqrt(d))) : Math.min(d, cfg.maxFeatures);
  const feats = Int32Array.from({ length: d }, (_, i) => i);
  const idx = rows; // partitioned in place
  const stack: { lo: number; hi: number; depth: number; node: number }[] = [];
  const newNode = () => {
    feature.push(-1); threshold.push(0); left.push(-1); right.push(-1);
    for (let k = 0; k < K; k++) value.push(0);
    return feature.length - 1;
  };
  stack.push({ lo: 0, hi: idx.length, depth: 0, node: newNode() });
  while (stack.length) {
    const { lo, hi, depth, node } = stack.pop()!;
    const m = hi - lo;
    tot.fill(0);
    for (let i = lo; i < hi; i++) tot[codes[idx[i]]]++;
    let sq = 0;
    for (let k = 0; k < K; k++) { value[node * K + k] = tot[k] / m; sq += tot[k] * tot[k]; }
    const parentScore = sq / m; // Σ n_k² / n: higher = purer
    if (depth >= cfg.maxDepth || m < cfg.minSamplesSplit || m < 2 * cfg.minSamplesLeaf || sq === m * m) continue;
    let bestGain = 1e-12, bestF = -1, bestB = -1;
    // partial Fisher–Yates: the first mtry entries of feats are this node's candidates
    for (let j = 0; j < mtry; j++) {
      const t = j + Math.floor(rand() * (d - j));
      const tmp = feats[j]; feats[j] = feats[t]; feats[t] = tmp;
      const f = feats[j];
      const nEdges = binner.edges[f].length;
      if (nEdges === 0) continue;
      const nbf = nEdges + 1;
      hist.fill(0, 0, nbf * K);
      const base = f * n;
      for (let i = lo; i < hi; i++) { const r = idx[i]; hist[bins[base + r] * K + codes[r]]++; }
      lc.fill(0);
      let nl = 0;
      for (let b = 0; b < nbf - 1; b++) {
        let binN = 0;
        for (let k = 0; k < K; k++) { const h = hist[b * K + k]; lc[k] += h; binN += h; }
        if (binN === 0) continue;
        nl += binN;
        const nr = m - nl;
        if (nl < cfg.minSamplesLeaf) continue;
        if (nr < cfg.minSamplesLeaf) break;
        let sl = 0, sr = 0;
        for (let k = 0; k < K; k++) { sl += lc[k] * lc[k]; const rk = tot[k] - lc[k]; sr += rk * rk; }
        const gain = sl / nl + sr / nr - parentScore;
        if (gain > bestGain) { bestGain = gain; bestF = f; bestB = b; }
      }
    }
    if (bestF < 0) continue;
    // partition idx[lo, hi) by bin ≤ bestB
    const base = bestF * n;
    let i = lo, j = hi - 1;
    while (i <= j) {
      if (bins[base + idx[i]] <= bestB) i++;
      else { const t = idx[i]; idx[i] = idx[j]; idx[j] = t; j--; }
    }
    importance[bestF] += bestGain; // = decrease of Σ gini × n
    feature[node] = bestF;
    threshold[node] = binner.threshold(bestF, bestB);
    const l = newNode(), r = newNode();
    left[node] = l;
    right[node] = r;
    stack.push({ lo: i, hi, depth: depth + 1, node: r }, { lo, hi: i, depth: depth + 1, node: l });
  }
  return {
    feature: Int32Array.from(feature), threshold: Float64Array.from(threshold), left: Int32Array.from(left),
    right: Int32Array.from(right), value: Float64Array.from(value),
  };
}

function addTreeProba(t: FlatTree, X: Matrix, K: number, out: Float64Array, weight: number): void {
  const d = X.cols;
  for (let r = 0; r < X.rows; r++) {
    let nd = 0;
    while (t.feature[nd] >= 0) nd = X.data[r * d + t.feature[nd]] <= t.threshold[nd] ? t.left[nd] : t.right[nd];
    for (let k = 0; k < K; k++) out[r * K + k] += weight * t.value[nd * K + k];
  }
}

/** Shared fit/predict for the tree and the forest. */
abstract class TreeEnsemble implements Classifier {
  abstract readonly name: string;
  protected trees: FlatTree[] = [];
  protected cls?: Int32Array;
  protected cols?: number;
  protected importance?: Float64Array;

  predictProba(X: Matrix): Matrix {
    checkPredictInput(this.name, X, this.cols);
    const K = this.cls!.length;
    const out = matrix(X.rows, K);
    for (const t of this.trees) addTreeProba(t, X, K, out.data, 1 / this.trees.length);
    return out;
  }

  predict(X: Matrix): Int32Array {
    return argmaxClasses(this.predictProba(X), this.cls!);
  }

  classes(): Int32Array {
    if (!this.cls) throw new Error(`${this.name}: not fitted`);
    return this.cls;
  }

  /** Gini importance per feature, normalised to sum 1 (which features the splits relied on). */
  featureImportances(): Float64Array {
    if (!this.importance) throw new Error(`${this.name}: not fitted`);
    const s = this.importance.reduce((a, b) => a + b, 0) || 1;
    return this.importance.map((v) => v / s);
  }

  abstract fit(X: Matrix, y: Int32Array): void;

  protected prepare(X: Matrix, y: Int32Array, maxBins: number) {
    checkFitInput(this.name, X, y);
    const { classes, codes } = encodeLabels(y);
    const binner = new QuantileBinner(maxBins);
    binner.fit(X);
    const bins = binner.transform(X);
    this.cls = classes;
    this.cols = X.cols;
    this.importance = new Float64Array(X.cols);
    return { classes, codes, binner, bins };
  }
}

export class DecisionTree extends TreeEnsemble {
  readonly name = 'tree';

  constructor(readonly config: TreeConfig = treeConfig(), readonly seed = 0) {
    super();
    treeConfig(config);
  }

  fit(X: Matrix, y: Int32Array): void {
    const { classes, codes, binner, bins } = this.prepare(X, y, this.config.maxBins);
    const rows = Uint32Array.from({ length: X.rows }, (_, i) => i);
    this.trees = [growTree(bins, X.rows, X.cols, codes, classes.length, rows, binner, this.config, rng(this.seed), this.importance!)];
  }

  /** Node count of the fitted tree. */
  get nodes(): number {
    return this.trees[0]?.feature.length ?? 0;
  }
}

export class RandomForest extends TreeEnsemble {
  readonly name = 'forest';

  constructor(
    /** Number of trees (≥ 1). */
    readonly nTrees = 100,
    readonly config: TreeConfig = treeConfig({ maxFeatures: 'sqrt' }),
    readonly seed = 0,
  ) {
    super();
    if (!Number.isInteger(nTrees) || nTrees < 1) throw new RangeError(`forest: nTrees must be an integer ≥ 1, got ${nTrees}`);
    treeConfig(config);
  }

  /** Each tree: a bootstrap sample of the rows, `maxFeatures` candidate features per node. */
  fit(X: Matrix, y: Int32Array): void {
    const { classes, codes, binner, bins } = this.prepare(X, y, this.config.maxBins);
    const rand = rng(this.seed);
    this.trees = [];
    const rows = new Uint32Array(X.rows);
    for (let t = 0; t < this.nTrees; t++) {
      for (let i = 0; i < X.rows; i++) rows[i] = Math.floor(rand() * X.rows);
      this.trees.push(growTree(bins, X.rows, X.cols, codes, classes.length, rows, binner, this.config, rand, this.importance!));
    }
  }
}
