"""scikit-learn side of src/bench/sklearn-parity.ts.

Usage: /usr/bin/python3 bench/sklearn_parity.py DIR
DIR holds X.npy (float64, already log1p), y.npy, folds.npy (int32) written by the TypeScript side.
For each model and fold: fit on the other folds (MinMaxScaler fitted on train only where `scaled`), predict the
fold; prints one JSON object: {model: {accuracy, macro_f1, fit_s, predict_s}}.
"""
import json
import sys
import time

import numpy as np
from sklearn.ensemble import IsolationForest, RandomForestClassifier  # noqa: F401
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.naive_bayes import GaussianNB, MultinomialNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import MinMaxScaler
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier

d = sys.argv[1]
X = np.load(f"{d}/X.npy")
y = np.load(f"{d}/y.npy")
folds = np.load(f"{d}/folds.npy")

# name -> (factory, scaled): the same models and settings as the TypeScript side
MODELS = {
    "svm-linear": (lambda: SVC(kernel="linear", C=1.0), True),
    "svm-rbf": (lambda: SVC(kernel="rbf", C=1.0, gamma="scale"), True),
    "knn": (lambda: KNeighborsClassifier(n_neighbors=5, algorithm="brute"), True),
    "nb-multinomial": (lambda: MultinomialNB(alpha=1.0), False),
    "nb-gaussian": (lambda: GaussianNB(), False),
    "tree": (lambda: DecisionTreeClassifier(random_state=0), False),
    "forest": (lambda: RandomForestClassifier(n_estimators=100, max_features="sqrt", random_state=0, n_jobs=1), False),
    "logistic": (lambda: LogisticRegression(C=1.0, max_iter=100), True),
}

only = sys.argv[2].split(",") if len(sys.argv) > 2 else list(MODELS)
out = {}
for name in only:
    make, scaled = MODELS[name]
    pred = np.zeros_like(y)
    fit_s = predict_s = 0.0
    for f in range(int(folds.max()) + 1):
        te = folds == f
        Xtr, Xte = X[~te], X[te]
        t0 = time.perf_counter()
        if scaled:
            s = MinMaxScaler().fit(Xtr)
            Xtr, Xte = s.transform(Xtr), s.transform(Xte)
        m = make().fit(Xtr, y[~te])
        t1 = time.perf_counter()
        pred[te] = m.predict(Xte)
        predict_s += time.perf_counter() - t1
        fit_s += t1 - t0
    out[name] = {
        "accuracy": float(accuracy_score(y, pred)),
        "macro_f1": float(f1_score(y, pred, average="macro")),
        "fit_s": fit_s,
        "predict_s": predict_s,
    }
print(json.dumps(out))
