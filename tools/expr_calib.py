#!/usr/bin/python3
"""Leave-one-person-out measurement of calibration to the listener's own
face (issue 19, item 4).

For every person of the labelled faces with at least MIN_EXPRESSIONS
expressions and MIN_PICTURES pictures: the population reader is fitted
without that person (face-api: nothing to fit; emotune-2: tools/expr_head2.py
on every other person's pictures and their augmented variants, C chosen by
its inner cross-validation grouped by person; emotune-3, when the TSV has
Human's emotion net's columns: tools/expr_head3.py, the same recipe with the
emotion net's 7 log-probabilities as 7 more inputs); then k = 1, 3, 5 of the
person's pictures per expression (seeded draws, DRAWS of them; only
expressions with more than k pictures) calibrate it, and the rest of the
person's pictures are read, calibrated and not. A person's figures are the
mean over the draws; a person is helped when calibration raises their
accuracy by more than 0.01, harmed when it lowers it by more than 0.01.

THE CALIBRATION RECIPE (fixed; src/ implements exactly this): the population
reader's log-probabilities z (natural log, probabilities floored at 1e-7); a
bias b minimising sum_i CE(softmax(z_i + b), y_i) + (lambda/2) |b|^2,
lambda = 2, by Newton's method from b = 0 (25 iterations or until the
largest step is below 1e-6); the calibrated reading is softmax(z + b).

usage: tools/expr_calib.py [--seed N] [--json EXPR_CV.json] FEATURES.tsv
(--json adds a "calibration" entry to that file.)
"""
import argparse
import json
import os
import sys
import zlib

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import expr_head as H  # noqa: E402
import expr_head2 as H2  # noqa: E402
import expr_head3 as H3  # noqa: E402
from expr_data import CLASSES, NCLS, Faces  # noqa: E402

MIN_EXPRESSIONS = 3
MIN_PICTURES = 10
KS = (1, 3, 5)
DRAWS = 5
LAMBDA = 2.0
LAMBDAS_TRIED = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
FLOOR = 1e-7
MAX_ITER = 25
TOL = 1e-6
CHANGE = 0.01


def log_probs(p):
    return np.log(np.maximum(p, FLOOR))


def calibration_bias(z, y, lam=LAMBDA):
    """The listener's bias b (the recipe above) from calibration examples:
    z (n x 7) log-probabilities, y (n) labels."""
    b = np.zeros(NCLS)
    onehot = np.eye(NCLS)[y]
    for _ in range(MAX_ITER):
        p = H.softmax(z + b)
        g = (p - onehot).sum(0) + lam * b
        hess = np.diag(p.sum(0)) - p.T @ p + lam * np.eye(NCLS)
        step = np.linalg.solve(hess, g)
        b = b - step
        if np.abs(step).max() < TOL:
            break
    return b


def scores(z, y):
    """Accuracy and mean recall (over the classes present) of readings z."""
    pred = z.argmax(1)
    rec = [np.mean(pred[y == c] == c) for c in np.unique(y)]
    return float(np.mean(pred == y)), float(np.mean(rec))


def eligible(d):
    o = np.flatnonzero(d.is_orig)
    out = []
    for p in sorted(set(d.person[o])):
        mine = o[d.person[o] == p]
        if len(set(d.y[mine])) >= MIN_EXPRESSIONS and len(mine) >= MIN_PICTURES:
            out.append((p, mine))
    return out


def draws_for(person, k, seed):
    return np.random.default_rng([seed, zlib.crc32(person.encode()), k])


def measure_person(z, y, person, seed, lambdas=(LAMBDA,)):
    """{k: {lambda: (before accuracy, mean recall, after accuracy, mean recall)}}
    averaged over the draws, for one person's log-probabilities z and labels y;
    k is left out when no expression has more than k pictures."""
    out = {}
    for k in KS:
        classes = [c for c in np.unique(y) if (y == c).sum() > k]
        if not classes:
            continue
        rng = draws_for(person, k, seed)
        acc = {lam: [] for lam in lambdas}
        for _ in range(DRAWS):
            cal = np.concatenate([rng.choice(np.flatnonzero(y == c), k, replace=False)
                                  for c in classes])
            rest = np.setdiff1d(np.arange(len(y)), cal)
            before = scores(z[rest], y[rest])
            for lam in lambdas:
                b = calibration_bias(z[cal], y[cal], lam)
                acc[lam].append(before + scores(z[rest] + b, y[rest]))
        out[k] = {lam: tuple(np.mean(v, 0)) for lam, v in acc.items()}
    return out


def summarise(per_person, lam=LAMBDA):
    """Per k: persons, mean (over persons) accuracy and mean recall before
    and after, and how many persons calibration helps, harms, leaves alone."""
    rows = {}
    for k in KS:
        vals = np.array([m[k][lam] for m in per_person.values() if k in m])
        if not len(vals):
            continue
        delta = vals[:, 2] - vals[:, 0]
        rows[k] = {"persons": int(len(vals)),
                   "accuracy": [float(vals[:, 0].mean()), float(vals[:, 2].mean())],
                   "mean_recall": [float(vals[:, 1].mean()), float(vals[:, 3].mean())],
                   "helps": int((delta > CHANGE).sum()), "harms": int((delta < -CHANGE).sum()),
                   "leaves": int((np.abs(delta) <= CHANGE).sum())}
    return rows


def population_emotune2(d, person, seed):
    """emotune-2 fitted on every row of the other persons."""
    rows = np.flatnonzero(d.person != person)
    return H2.fit(d, rows, seed)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("features")
    ap.add_argument("--seed", type=int, default=19)
    ap.add_argument("--json", help="add the figures to this JSON file (expr_cv.json)")
    a = ap.parse_args()
    d = Faces(a.features)
    x = H.inputs(d.views)
    fitted = {"emotune-2": (x, lambda p: population_emotune2(d, p, a.seed))}
    if d.emotion_views is not None:
        x3 = H3.inputs(d)
        fitted["emotune-3"] = (x3, lambda p: H3.fit(d, np.flatnonzero(d.person != p), a.seed,
                                                    x=x3))
    persons = eligible(d)
    print(f"\nleave-one-person-out calibration: {len(persons)} persons with >= {MIN_EXPRESSIONS} "
          f"expressions and >= {MIN_PICTURES} pictures; k pictures per expression calibrate "
          f"(only expressions with more than k), the rest are read; {DRAWS} seeded draws each; "
          f"lambda = {LAMBDA}", flush=True)
    per = {"face-api": {}, **{r: {} for r in fitted}}
    detail = []
    for p, mine in persons:
        y = d.y[mine]
        z_fa = log_probs(d.views[0][0][mine])
        per["face-api"][p] = measure_person(z_fa, y, p, a.seed, LAMBDAS_TRIED)
        cs = {}
        for r, (xr, fit_without) in fitted.items():
            m = fit_without(p)
            cs[f"{r}_C"] = m["C"]
            z = log_probs(H.probabilities(m, xr[mine]))
            per[r][p] = measure_person(z, y, p, a.seed, LAMBDAS_TRIED)
        counts = {CLASSES[c]: int((y == c).sum()) for c in np.unique(y)}
        detail.append({"person": p, "pictures": int(len(mine)), "counts": counts, **cs,
                       **{r: {str(k): [round(v, 4) for v in per[r][p][k][LAMBDA]]
                              for k in per[r][p]} for r in per}})
        print(f"  {p}: {len(mine)} pictures {counts}; fitted without them ({cs})",
              file=sys.stderr, flush=True)
    table = {r: summarise(per[r]) for r in per}
    print(f"\n{'reader':10s} {'k':>2s} {'persons':>7s}  {'accuracy before -> after':>25s}  "
          f"{'mean recall before -> after':>28s}  helps harms leaves")
    for r in per:
        for k, t in table[r].items():
            print(f"{r:10s} {k:2d} {t['persons']:7d}  {t['accuracy'][0]:11.3f} -> "
                  f"{t['accuracy'][1]:.3f}       {t['mean_recall'][0]:14.3f} -> "
                  f"{t['mean_recall'][1]:.3f}      {t['helps']:5d} {t['harms']:5d} {t['leaves']:6d}")
    other = {r: {str(lam): {str(k): v for k, v in summarise(per[r], lam).items()}
                 for lam in LAMBDAS_TRIED} for r in per}
    print("\nother lambdas (not the recipe's; accuracy after, mean over persons, k = 1 / 3 / 5):")
    for r in per:
        cells = []
        for lam in LAMBDAS_TRIED:
            s = other[r][str(lam)]
            cells.append(f"{lam:g}: " + "/".join(f"{s[str(k)]['accuracy'][1]:.3f}"
                                                 for k in KS if str(k) in s))
        print(f"  {r:10s} " + "   ".join(cells))
    if a.json:
        with open(a.json) as f:
            doc = json.load(f)
        doc["calibration"] = {"lambda": LAMBDA, "draws": DRAWS, "seed": a.seed,
                              "min_expressions": MIN_EXPRESSIONS, "min_pictures": MIN_PICTURES,
                              "table": {r: {str(k): v for k, v in t.items()}
                                        for r, t in table.items()},
                              "other_lambdas": other, "persons": detail}
        with open(a.json, "w") as f:
            json.dump(doc, f, indent=1)


if __name__ == "__main__":
    main()
