#!/usr/bin/python3
"""Stratified 5-fold cross-validation of expression heads on the expression
net's inner features (issue 13), against face-api's own probabilities.

Input: the TSV that build/bench/expr_features writes (label, file, face-api's
7 probabilities and 256 features, then the same for the mirrored picture).
Every image is measured exactly once, on the fold it was held out of; the
scaler, the regression, the choice of C and the temperature are fitted on the
four training folds only.

usage: tools/expr_cv.py [--seed N] [--json OUT] build/expr/features.tsv
"""
import argparse
import csv
import json
import sys

import numpy as np
from scipy.optimize import minimize_scalar
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict, GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

CLASSES = ["neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised"]
NFEAT = 256
NCLS = len(CLASSES)
C_GRID = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0]
TARGETS = {"mean_recall": 0.60, "accuracy": 0.70, "smiling": 0.95, "ece": 0.05}


def load(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f, delimiter="\t"))
    head, rows = rows[0], rows[1:]
    assert head[2] == "p_neutral" and len(head) == 2 + 2 * (NCLS + NFEAT), "unexpected header"
    y = np.array([CLASSES.index(r[0]) for r in rows])
    num = np.array([[float(v) for v in r[2:]] for r in rows])
    w = NCLS + NFEAT
    views = []
    for v in range(2):
        block = num[:, v * w:(v + 1) * w]
        views.append((block[:, :NCLS], block[:, NCLS:]))
    return y, views


def ece(probs, y, bins=15):
    """Expected calibration error of the top class, equal-width bins."""
    conf = probs.max(1)
    correct = probs.argmax(1) == y
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (conf > lo) & (conf <= hi)
        if m.any():
            total += m.mean() * abs(correct[m].mean() - conf[m].mean())
    return total


def metrics(probs, y):
    pred = probs.argmax(1)
    recall = [float((pred[y == c] == c).mean()) for c in range(NCLS)]
    hn = (y == CLASSES.index("happy")) | (y == CLASSES.index("neutral"))
    happy = CLASSES.index("happy")
    smiling = float(((pred[hn] == happy) == (y[hn] == happy)).mean())
    return {
        "accuracy": float((pred == y).mean()),
        "mean_recall": float(np.mean(recall)),
        "recall": dict(zip(CLASSES, recall)),
        "smiling": smiling,
        "ece": float(ece(probs, y)),
    }


def softmax(z):
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def fit_temperature(logits, y):
    """The T minimising the negative log-likelihood of softmax(logits / T)."""
    def nll(t):
        p = softmax(logits / t)
        return -np.mean(np.log(p[np.arange(len(y)), y] + 1e-12))
    return minimize_scalar(nll, bounds=(0.05, 20.0), method="bounded").x


def logreg(c):
    return make_pipeline(StandardScaler(),
                         LogisticRegression(C=c, class_weight="balanced", max_iter=5000))


def inner_cv(seed):
    return StratifiedKFold(4, shuffle=True, random_state=seed + 1)


def choose_c(x, y, seed):
    grid = GridSearchCV(logreg(1.0), {"logisticregression__C": C_GRID},
                        scoring="balanced_accuracy", cv=inner_cv(seed))
    grid.fit(x, y)
    return grid.best_params_["logisticregression__C"]


def train_oof_logits(model, x, y, seed):
    """Out-of-fold logits of the training folds (inner CV): the held-out fold
    plays no part, and they are not the over-confident in-sample ones."""
    return cross_val_predict(model, x, y, cv=inner_cv(seed), method="decision_function")


def tuned(xtr, ytr, xte, seed):
    """C chosen by inner CV, then T on the training folds' out-of-fold logits.
    Returns the held-out probabilities without and with T, C, T, and the
    training out-of-fold and held-out logits (both divided by T)."""
    c = choose_c(xtr, ytr, seed)
    m = logreg(c).fit(xtr, ytr)
    oof = train_oof_logits(logreg(c), xtr, ytr, seed)
    t = fit_temperature(oof, ytr)
    zte = m.decision_function(xte) / t
    return m.predict_proba(xte), softmax(zte), c, float(t), oof / t, zte


def run_cv(y, views, seed):
    (p0, f0), (p1, f1) = views
    favg = (f0 + f1) / 2
    fa_logits = np.log(np.clip(p0, 1e-12, 1))
    # face-api's own logits (mirror-averaged) beside the features: the
    # regression starts from what face-api's layer already knows.
    fa_avg_logits = (fa_logits + np.log(np.clip(p1, 1e-12, 1))) / 2
    fwith = np.hstack([favg, fa_avg_logits])
    names = ["face-api", "face-api mirror-avg", "face-api +T",
             "logreg C=1", "logreg C=1 mirror-avg feats", "logreg C=1 mirror-aug train+avg probs",
             "logreg inner-CV C, mirror-avg feats", "logreg inner-CV C, mirror-avg feats +T",
             "  same + face-api logits as features", "  same + face-api logits as features +T",
             "ensemble: mean of face-api mirror-avg +T, logreg +T",
             "ensemble: mean of both calibrated logits +T"]
    out = {n: np.zeros((len(y), NCLS)) for n in names}
    fold_of = np.zeros(len(y), int)
    chosen = []
    folds = StratifiedKFold(5, shuffle=True, random_state=seed)
    for k, (tr, te) in enumerate(folds.split(f0, y)):
        fold_of[te] = k
        out["face-api"][te] = p0[te]
        out["face-api mirror-avg"][te] = (p0[te] + p1[te]) / 2
        t_fa = fit_temperature(fa_logits[tr], y[tr])
        out["face-api +T"][te] = softmax(fa_logits[te] / t_fa)

        m = logreg(1.0).fit(f0[tr], y[tr])
        out["logreg C=1"][te] = m.predict_proba(f0[te])
        m = logreg(1.0).fit(favg[tr], y[tr])
        out["logreg C=1 mirror-avg feats"][te] = m.predict_proba(favg[te])
        m = logreg(1.0).fit(np.vstack([f0[tr], f1[tr]]), np.concatenate([y[tr], y[tr]]))
        out["logreg C=1 mirror-aug train+avg probs"][te] = (
            m.predict_proba(f0[te]) + m.predict_proba(f1[te])) / 2

        p, pt, c, t, z_oof, z_te = tuned(favg[tr], y[tr], favg[te], seed)
        out["logreg inner-CV C, mirror-avg feats"][te] = p
        out["logreg inner-CV C, mirror-avg feats +T"][te] = pt
        p, pt, c2, t2, _, _ = tuned(fwith[tr], y[tr], fwith[te], seed)
        out["  same + face-api logits as features"][te] = p
        out["  same + face-api logits as features +T"][te] = pt
        # face-api's mirror-averaged logits with their own T, averaged in
        # probability with the tuned regression's (both fitted on tr only).
        t_fam = fit_temperature(fa_avg_logits[tr], y[tr])
        tuned_t = out["logreg inner-CV C, mirror-avg feats +T"][te]
        out["ensemble: mean of face-api mirror-avg +T, logreg +T"][te] = (
            softmax(fa_avg_logits[te] / t_fam) + tuned_t) / 2
        # The same two in logits, with one more T fitted on the training
        # folds' out-of-fold logits of the regression and face-api's.
        fa_z = fa_avg_logits / t_fam
        t_ens = fit_temperature((z_oof + fa_z[tr]) / 2, y[tr])
        out["ensemble: mean of both calibrated logits +T"][te] = softmax(
            (z_te + fa_z[te]) / 2 / t_ens)
        chosen.append({"fold": k, "C": c, "T": t, "C_with_logits": c2, "T_with_logits": t2,
                       "T_face_api": float(t_fa), "T_ensemble": float(t_ens)})
        print(f"fold {k}: C={c} T={t:.3f}; with logits C={c2} T={t2:.3f}; "
              f"T(face-api)={t_fa:.3f}", file=sys.stderr)
    results = {}
    for n in names:
        r = metrics(out[n], y)
        per_fold = [metrics(out[n][fold_of == k], y[fold_of == k]) for k in range(5)]
        r["accuracy_sd"] = float(np.std([f["accuracy"] for f in per_fold]))
        r["mean_recall_sd"] = float(np.std([f["mean_recall"] for f in per_fold]))
        results[n] = r
    return results, chosen, out


def report(results, y):
    base = results["face-api"]["recall"]
    counts = {c: int((y == i).sum()) for i, c in enumerate(CLASSES)}
    print(f"{len(y)} faces: " + ", ".join(f"{c} {n}" for c, n in counts.items()))
    cols = ["acc", "meanrec", "smiling", "ECE"] + [c[:5] for c in CLASSES] + ["worst drop"]
    print(f"{'model':52s} " + " ".join(f"{c:>7s}" for c in cols))
    for n, r in results.items():
        drops = [base[c] - r["recall"][c] for c in CLASSES if c != "fearful"]
        vals = [r["accuracy"], r["mean_recall"], r["smiling"], r["ece"]]
        vals += [r["recall"][c] for c in CLASSES] + [max(drops)]
        print(f"{n:52s} " + " ".join(f"{v:7.3f}" for v in vals))
    print("targets: mean recall >= 0.60, accuracy >= 0.70, smiling >= 0.95, ECE <= 0.05, "
          "no class (fearful aside) below face-api's recall by more than 0.02")


def confusion(name, probs, y):
    """Rows: the label; columns: the prediction (counts)."""
    pred = probs.argmax(1)
    print(f"\nconfusion, {name.strip()} (rows label, columns prediction)")
    print(" " * 10 + "".join(f"{c[:5]:>7s}" for c in CLASSES))
    for i, c in enumerate(CLASSES):
        print(f"{c:10s}" + "".join(f"{int(((y == i) & (pred == j)).sum()):7d}"
                                   for j in range(NCLS)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("features")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--json", help="also write the figures here")
    a = ap.parse_args()
    y, views = load(a.features)
    results, chosen, out = run_cv(y, views, a.seed)
    report(results, y)
    for n in ("face-api", "logreg inner-CV C, mirror-avg feats +T"):
        confusion(n, out[n], y)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"seed": a.seed, "folds": chosen, "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
