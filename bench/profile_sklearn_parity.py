#!/usr/bin/python3
"""bench/profile_sklearn_parity.py: the scikit-learn reference for `src/models/profile/profile.test.ts`.

Fits scikit-learn's OneClassSVM (nu 0.1, RBF gamma 1: the profile model's defaults) on the call mixes of all 833
ADFA-LD Training_Data_Master traces -- each trace's share of every syscall number, square-rooted -- and writes once
the profile model's surprise S = -ln(score_samples(x) / sum of dual_coef_) of the first 200 Validation and the first
100 Attack traces (file names sorted), with the number of support vectors, to
  src/models/profile/testdata/sklearn-adfa.json
score_samples(x) is sum_i alpha_i K(s_i, x), the decision value before the offset rho. Names the training traces
never make get columns of their own here, where the TypeScript model pools them in one <unk> column: the squared
distance to any training vector is the same either way (their shares add up).
Run: /usr/bin/python3 bench/profile_sklearn_parity.py   (needs Debian's python3-sklearn and ../shared/data; the test
itself needs no Python)

With the argument `time` (what `npm run bench -- profile` runs): writes nothing; fits on all Training traces and
scores all Validation and Attack traces, each timed from the traces' call lists (read before timing) to the
result, median of 3, and prints JSON: fit and score seconds, support vectors, traces scored, the surprises' sum.
"""
import json
import os
import sys
import time
import zipfile

import numpy as np
from sklearn.svm import OneClassSVM

HERE = os.path.dirname(os.path.abspath(__file__))
ZIP = os.path.join(HERE, '..', '..', 'shared', 'data', 'adfa-ld', 'ADFA-LD.zip')
OUT = os.path.join(HERE, '..', 'src', 'models', 'profile', 'testdata', 'sklearn-adfa.json')
NU, GAMMA = 0.1, 1.0

z = zipfile.ZipFile(ZIP)
names = sorted(n for n in z.namelist() if n.endswith('.txt') and 'Syscall+List' not in n)


def traces(folder):
    return [(n.split('ADFA-LD/', 1)[1], [int(t) for t in z.read(n).split()]) for n in names if f'/{folder}/' in n]


train = traces('Training_Data_Master')
scored = traces('Validation_Data_Master')[:200] + traces('Attack_Data_Master')[:100]
V = 1 + max(c for _, s in train + scored for c in s)


def mixes(rows):
    X = np.zeros((len(rows), V))
    for i, (_, s) in enumerate(rows):
        X[i] = np.bincount(s, minlength=V)
    return np.sqrt(X / X.sum(1, keepdims=True))


if sys.argv[1:] == ['time']:
    everything = traces('Validation_Data_Master') + traces('Attack_Data_Master')
    V = max(V, 1 + max(c for _, s in everything for c in s))  # a column for every call number any trace makes
    fits, scores = [], []
    for _ in range(3):
        t0 = time.perf_counter()
        svm = OneClassSVM(nu=NU, gamma=GAMMA, kernel='rbf').fit(mixes(train))
        t1 = time.perf_counter()
        s = -np.log(svm.score_samples(mixes(everything)) / float(svm.dual_coef_.sum()))
        t2 = time.perf_counter()
        fits.append(t1 - t0)
        scores.append(t2 - t1)
    print(json.dumps({'fit_s': float(np.median(fits)), 'score_s': float(np.median(scores)), 'support_vectors': int(svm.support_.size),
                      'scored': len(everything), 'surprise_sum': float(s.sum())}))
    sys.exit(0)

svm = OneClassSVM(nu=NU, gamma=GAMMA, kernel='rbf').fit(mixes(train))
alpha_sum = float(svm.dual_coef_.sum())
s = -np.log(svm.score_samples(mixes(scored)) / alpha_sum)
os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, 'w') as f:
    json.dump({
        'nu': NU, 'gamma': GAMMA, 'trainTraces': len(train), 'supportVectors': int(svm.support_.size),
        'surprise': {rid: float(v) for (rid, _), v in zip(scored, s)},
    }, f, indent=0)
print(f'{len(train)} training traces, {svm.support_.size} support vectors; wrote {len(scored)} surprises to {OUT}')
