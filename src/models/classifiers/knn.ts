/**
 * @module models/classifiers/knn
 * k-nearest neighbours, brute force, Euclidean distance, uniform vote (ties go to the smaller class id).
 */
import { matrix, type Matrix } from '../../features/preprocess/matrix.js';
import { argmaxClasses, checkFitInput, checkPredictInput, encodeLabels, type Classifier } from './classifier.js';

export class KnnClassifier implements Classifier {
  readonly name = 'knn';
  private X?: Matrix;
  private norms?: Float64Array;
  private codes?: Int32Array;
  private cls?: Int32Array;

  constructor(readonly k = 5) {
    if (!Number.isInteger(k) || k < 1) throw new RangeError(`knn: k must be an integer ≥ 1, got ${k}`);
  }

  fit(X: Matrix, y: Int32Array): void {
    checkFitInput(this.name, X, y);
    const { classes, codes } = encodeLabels(y);
    this.X = { rows: X.rows, cols: X.cols, data: X.data.slice() };
    this.norms = new Float64Array(X.rows);
    for (let r = 0; r < X.rows; r++) {
      let s = 0;
      for (let c = 0; c < X.cols; c++) s += X.data[r * X.cols + c] ** 2;
      this.norms[r] = s;
    }
    this.codes = codes;
    this.cls = classes;
  }

  predictProba(Q: Matrix): Matrix {
    checkPredictInput(this.name, Q, this.X?.cols);
    const T = this.X!, d = T.cols, k = Math.min(this.k, T.rows), K = this.cls!.length;
    const out = matrix(Q.rows, K);
    const bestD = new Float64Array(k), bestI = new Int32Array(k);
    for (let q = 0; q < Q.rows; q++) {
      const qo = q * d;
      let qn = 0;
      for (let c = 0; c < d; c++) qn += Q.data[qo + c] ** 2;
      bestD.fill(Infinity);
      bestI.fill(-1);
      for (let r = 0; r < T.rows; r++) {
        const ro = r * d;
        let dot = 0;
        for (let c = 0; c < d; c++) dot += Q.data[qo + c] * T.data[ro + c];
        const dist = qn + this.norms![r] - 2 * dot;
        if (dist < bestD[k - 1]) {
          let j = k - 1;
          while (j > 0 && bestD[j - 1] > dist) {
            bestD[j] = bestD[j - 1];
            bestI[j] = bestI[j - 1];
            j--;
          }
          bestD[j] = dist;
          bestI[j] = r;
        }
      }
      for (let j = 0; j < k; j++) out.data[q * K + this.codes![bestI[j]]] += 1 / k;
    }
    return out;
  }

  predict(Q: Matrix): Int32Array {
    return argmaxClasses(this.predictProba(Q), this.cls!);
  }

  classes(): Int32Array {
    if (!this.cls) throw new Error('knn: not fitted');
    return this.cls;
  }
}
