/**
 * @module models/classifiers/naive-bayes
 * Naive Bayes: multinomial (for counts; Laplace/Lidstone smoothing `alpha`) and Gaussian (per-class mean and
 * variance, variances widened by `varSmoothing` × the largest feature variance, as scikit-learn does).
 */
import { matrix, type Matrix } from '../../features/preprocess/matrix.js';
import { argmaxClasses, checkFitInput, checkPredictInput, encodeLabels, type Classifier } from './classifier.js';

function softmaxRows(L: Matrix): Matrix {
  const out = matrix(L.rows, L.cols);
  for (let r = 0; r < L.rows; r++) {
    let m = -Infinity;
    for (let c = 0; c < L.cols; c++) m = Math.max(m, L.data[r * L.cols + c]);
    let s = 0;
    for (let c = 0; c < L.cols; c++) s += (out.data[r * L.cols + c] = Math.exp(L.data[r * L.cols + c] - m));
    for (let c = 0; c < L.cols; c++) out.data[r * L.cols + c] /= s;
  }
  return out;
}

/** What both naive Bayes models share: predictions and probabilities from per-class joint log-likelihoods. */
abstract class NaiveBayes implements Classifier {
  abstract readonly name: string;
  protected cls?: Int32Array;

  abstract fit(X: Matrix, y: Int32Array): void;

  /** Joint log-likelihood of each row under each class. */ // [N, K]
  abstract logLikelihood(X: Matrix): Matrix;

  predictProba(X: Matrix): Matrix {
    return softmaxRows(this.logLikelihood(X));
  }

  predict(X: Matrix): Int32Array {
    return argmaxClasses(this.logLikelihood(X), this.cls!);
  }

  classes(): Int32Array {
    if (!this.cls) throw new Error(`${this.name}: not fitted`);
    return this.cls;
  }
}

export class MultinomialNB extends NaiveBayes {
  readonly name = 'nb-multinomial';
  private logPrior?: Float64Array;
  private logProb?: Float64Array; // [K, d]
  private cols?: number;

  constructor(readonly alpha = 1) {
    super();
    if (!(alpha > 0)) throw new RangeError(`multinomial NB: alpha must be > 0, got ${alpha}`);
  }

  fit(X: Matrix, y: Int32Array): void {
    checkFitInput(this.name, X, y);
    if (X.data.some((v) => v < 0)) throw new RangeError('multinomial NB: needs non-negative features (counts)');
    const { classes, codes } = encodeLabels(y);
    const K = classes.length, d = X.cols;
    const fc = new Float64Array(K * d), n = new Float64Array(K);
    for (let r = 0; r < X.rows; r++) {
      n[codes[r]]++;
      for (let c = 0; c < d; c++) fc[codes[r] * d + c] += X.data[r * d + c];
    }
    const lp = new Float64Array(K * d);
    for (let k = 0; k < K; k++) {
      let tot = 0;
      for (let c = 0; c < d; c++) tot += fc[k * d + c] + this.alpha;
      for (let c = 0; c < d; c++) lp[k * d + c] = Math.log((fc[k * d + c] + this.alpha) / tot);
    }
    this.logPrior = n.map((v) => Math.log(v / X.rows));
    this.logProb = lp;
    this.cls = classes;
    this.cols = d;
  }

  /** Joint log-likelihood per class. // [n, K] */
  logLikelihood(X: Matrix): Matrix {
    checkPredictInput(this.name, X, this.cols);
    const K = this.cls!.length, d = X.cols;
    const out = matrix(X.rows, K);
    for (let r = 0; r < X.rows; r++) {
      for (let k = 0; k < K; k++) {
        let s = this.logPrior![k];
        for (let c = 0; c < d; c++) s += X.data[r * d + c] * this.logProb![k * d + c];
        out.data[r * K + k] = s;
      }
    }
    return out;
  }

}

export class GaussianNB extends NaiveBayes {
  readonly name = 'nb-gaussian';
  private logPrior?: Float64Array;
  private mean?: Float64Array; // [K, d]
  private variance?: Float64Array; // [K, d]
  private cols?: number;

  constructor(readonly varSmoothing = 1e-9) {
    super();
    if (!(varSmoothing >= 0)) throw new RangeError(`Gaussian NB: varSmoothing must be ≥ 0, got ${varSmoothing}`);
  }

  fit(X: Matrix, y: Int32Array): void {
    checkFitInput(this.name, X, y);
    const { classes, codes } = encodeLabels(y);
    const K = classes.length, d = X.cols;
    const n = new Float64Array(K), mean = new Float64Array(K * d), variance = new Float64Array(K * d);
    for (let r = 0; r < X.rows; r++) {
      n[codes[r]]++;
      for (let c = 0; c < d; c++) mean[codes[r] * d + c] += X.data[r * d + c];
    }
    for (let k = 0; k < K; k++) for (let c = 0; c < d; c++) mean[k * d + c] /= n[k];
    for (let r = 0; r < X.rows; r++) {
      for (let c = 0; c < d; c++) variance[codes[r] * d + c] += (X.data[r * d + c] - mean[codes[r] * d + c]) ** 2;
    }
    for (let k = 0; k < K; k++) for (let c = 0; c < d; c++) variance[k * d + c] /= n[k];
    // epsilon = varSmoothing × the largest variance of any feature over all rows
    let maxVar = 0;
    for (let c = 0; c < d; c++) {
      let s = 0, s2 = 0;
      for (let r = 0; r < X.rows; r++) { const v = X.data[r * d + c]; s += v; s2 += v * v; }
      const m = s / X.rows;
      maxVar = Math.max(maxVar, s2 / X.rows - m * m);
    }
    const eps = this.varSmoothing * maxVar;
    for (let i = 0; i < variance.length; i++) variance[i] += eps;
    this.logPrior = n.map((v) => Math.log(v / X.rows));
    this.mean = mean;
    this.variance = variance;
    this.cls = classes;
    this.cols = d;
  }

  logLikelihood(X: Matrix): Matrix {
    checkPredictInput(this.name, X, this.cols);
    const K = this.cls!.length, d = X.cols;
    const out = matrix(X.rows, K);
    for (let r = 0; r < X.rows; r++) {
      for (let k = 0; k < K; k++) {
        let s = this.logPrior![k];
        for (let c = 0; c < d; c++) {
          const v = this.variance![k * d + c];
          if (v === 0) {
            // a constant feature in every class (zero variance overall): it carries no information
            continue;
          }
          s -= 0.5 * Math.log(2 * Math.PI * v) + (X.data[r * d + c] - this.mean![k * d + c]) ** 2 / (2 * v);
        }
        out.data[r * K + k] = s;
      }
    }
    return out;
  }

}
