#!/usr/bin/python3
"""Stratified 5-fold cross-validation of expression heads on the expression
net's inner features (issue 13), against face-api's own probabilities.

Input: the TSV that build/bench/expr_features writes (label, file, face-api's
7 probabilities and 256 features, then the same for the mirror image).
Every image is measured exactly once, on the fold it was held out of; the
scaler, the regression, the choice of C, the happy bias and the temperature
are fitted on the four training folds only (tools/expr_head.py, the recipe
tools/train_expr.py ships). With --svg-dir, a confusion matrix picture per
model (face-api, emotune-1).

usage: tools/expr_cv.py [--seed N] [--json OUT] [--svg-dir DIR] build/expr/features.tsv
"""
import argparse
import csv
import json
import os
import sys

import numpy as np
from sklearn.model_selection import StratifiedKFold

import expr_head as H
from expr_head import CLASSES, NCLS, softmax, fit_temperature

NFEAT = 256
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
    return y, views, [r[1] for r in rows]


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
    return {
        "accuracy": float((pred == y).mean()),
        "mean_recall": float(np.mean(recall)),
        "recall": dict(zip(CLASSES, recall)),
        "smiling": H.smiling_accuracy(pred, y),
        "ece": float(ece(probs, y)),
    }


def run_cv(y, views, kind, seed):
    """Every face's held-out probabilities under each model, and what each
    fold chose. emotune-1 is the shipped recipe (tools/expr_head.py), read
    on the held-out fold without the pictures' kind, as emotune reads; the
    other rows show where it stands."""
    (p0, p1) = (views[0][0], views[1][0])
    x = H.inputs(views)
    fa_logits = np.log(np.clip(p0, 1e-12, 1))
    names = ["face-api", "face-api mirror-avg", "face-api +T",
             "logistic head without the happy bias +T", "emotune-1"]
    out = {n: np.zeros((len(y), NCLS)) for n in names}
    fold_of = np.zeros(len(y), int)
    chosen = []
    folds = StratifiedKFold(5, shuffle=True, random_state=seed)
    for k, (tr, te) in enumerate(folds.split(x, y)):
        fold_of[te] = k
        out["face-api"][te] = p0[te]
        out["face-api mirror-avg"][te] = (p0[te] + p1[te]) / 2
        t_fa = fit_temperature(fa_logits[tr], y[tr])
        out["face-api +T"][te] = softmax(fa_logits[te] / t_fa)
        m = H.fit(x[tr], kind[tr], y[tr], seed)
        out["emotune-1"][te] = H.probabilities(m, x[te])
        unbiased = dict(m, bias=m["bias"] - m["happy_bias"] * np.eye(NCLS)[H.HAPPY])
        # its own temperature would differ a little; this row is for the bias's effect
        out["logistic head without the happy bias +T"][te] = H.probabilities(unbiased, x[te])
        chosen.append({"fold": k, "C": m["C"], "happy_bias": m["happy_bias"],
                       "T": m["temperature"], "T_face_api": float(t_fa)})
        print(f"fold {k}: C={m['C']} happy bias {m['happy_bias']} T={m['temperature']:.3f}; "
              f"T(face-api)={t_fa:.3f}", file=sys.stderr)
    results = {}
    for n in names:
        r = metrics(out[n], y)
        per_fold = [metrics(out[n][fold_of == k], y[fold_of == k]) for k in range(5)]
        r["accuracy_sd"] = float(np.std([f["accuracy"] for f in per_fold]))
        r["mean_recall_sd"] = float(np.std([f["mean_recall"] for f in per_fold]))
        r["confusion"] = confusion_counts(out[n], y).tolist()
        results[n] = r
    return results, chosen, out


def confusion_counts(probs, y):
    """Rows: the label; columns: the prediction."""
    pred = probs.argmax(1)
    return np.array([[int(((y == i) & (pred == j)).sum()) for j in range(NCLS)]
                     for i in range(NCLS)])


def confusion_svg(title, counts):
    """A confusion matrix as an SVG picture: each row shaded by the share of
    that label's faces, counts written in the cells."""
    cell, left, top = 56, 96, 64
    w, h = left + cell * NCLS + 16, top + cell * NCLS + 40
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
             f'font-family="sans-serif" font-size="12">',
             f'<rect width="{w}" height="{h}" fill="#fff"/>',
             f'<text x="{w / 2}" y="18" text-anchor="middle" font-size="14">{title}</text>',
             f'<text x="{left + cell * NCLS / 2}" y="38" text-anchor="middle">predicted</text>']
    for j, c in enumerate(CLASSES):
        parts.append(f'<text x="{left + cell * j + cell / 2}" y="{top - 6}" '
                     f'text-anchor="middle">{c[:5]}</text>')
    for i, c in enumerate(CLASSES):
        total = max(1, counts[i].sum())
        y0 = top + cell * i
        parts.append(f'<text x="{left - 6}" y="{y0 + cell / 2 + 4}" text-anchor="end">{c}</text>')
        for j in range(NCLS):
            share = counts[i][j] / total
            shade = int(255 - 200 * share)
            ink = "#fff" if share > 0.55 else "#000"
            parts.append(f'<rect x="{left + cell * j}" y="{y0}" width="{cell}" height="{cell}" '
                         f'fill="rgb({shade},{shade},255)" stroke="#888"/>')
            parts.append(f'<text x="{left + cell * j + cell / 2}" y="{y0 + cell / 2 + 4}" '
                         f'text-anchor="middle" fill="{ink}">{counts[i][j]}</text>')
    parts.append(f'<text x="8" y="{h - 12}">rows: the label ({int(counts.sum())} faces); '
                 f'shade: share of the row; 5-fold cross-validation</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


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


def print_confusion(name, counts):
    print(f"\nconfusion, {name} (rows label, columns prediction)")
    print(" " * 10 + "".join(f"{c[:5]:>7s}" for c in CLASSES))
    for i, c in enumerate(CLASSES):
        print(f"{c:10s}" + "".join(f"{counts[i][j]:7d}" for j in range(NCLS)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("features")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--faces", default="../shared/data/faces",
                    help="the labelled faces (their pictures give each one's kind)")
    ap.add_argument("--json", help="also write the figures here")
    ap.add_argument("--svg-dir", help="write confusion-face-api.svg and confusion-emotune-1.svg here")
    a = ap.parse_args()
    y, views, files = load(a.features)
    results, chosen, _ = run_cv(y, views, H.picture_kind(a.faces, files), a.seed)
    report(results, y)
    for n in ("face-api", "emotune-1"):
        print_confusion(n, results[n]["confusion"])
        if a.svg_dir:
            with open(os.path.join(a.svg_dir, f"confusion-{n}.svg"), "w") as f:
                f.write(confusion_svg(f"{n}: {results[n]['accuracy']:.1%} of {len(y)} faces",
                                      np.array(results[n]["confusion"])))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"seed": a.seed, "folds": chosen, "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
