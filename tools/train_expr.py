#!/usr/bin/python3
"""Fits an expression head on every labelled face and writes its weights
file and the file's checksum (issues 13 and 19; `make train`).

Input: the TSV of build/bench/expr_features (the expression net's features of
each face and of its mirror image, computed by emotune's own code; with
--augment, also of augmented variants, which only emotune-2 uses). The
recipes: --reader emotune-1, tools/expr_head.py's (original pictures only);
--reader emotune-2 (the default), tools/expr_head2.py's; tools/expr_cv.py
measures both. Both write the same format, the one src/vision/head.c loads
(its "model" is "emotune-1", the name of the head's mode in emotune today;
"training"."reader" says which recipe fitted it). Deterministic: the same
features give the same file, byte for byte (run with one BLAS thread, as
`make train` does).

usage: tools/train_expr.py [--seed N] [--reader R] FEATURES.tsv OUT.json
writes OUT.json and OUT.json.sha256 (sha256sum's format, OUT.json's path as
given, so run it from the repository root with a relative path).
"""
import argparse
import hashlib
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import expr_head as H  # noqa: E402
import expr_head2 as H2  # noqa: E402
from expr_data import Faces  # noqa: E402


def numbers(a):
    """A list of floats printed with 9 significant digits (float32 exact)."""
    return [float(f"{v:.9g}") for v in np.asarray(a, dtype=np.float64).ravel()]


def document(model, y, seed, source, reader, rows):
    counts = {c: int((y == i).sum()) for i, c in enumerate(H.CLASSES)}
    doc = {
        "format": "emotune-expression-head",
        "version": 1,
        "model": H.MODEL_NAME,
        "classes": H.CLASSES,
        "features": H.FEATURES,
        "mean": numbers(model["mean"]),
        "scale": numbers(model["scale"]),
        "weights": [numbers(row) for row in model["weights"]],
        "bias": numbers(model["bias"]),
        "temperature": float(f"{model['temperature']:.9g}"),
        "training": {
            "tool": f"tools/train_expr.py (recipe: {RECIPES[reader]})",
            "data": source,
            "faces": int(len(y)),
            "counts": counts,
            "seed": seed,
            "C": model["C"],
            "happy_bias": model["happy_bias"],
        },
    }
    if reader == "emotune-1":  # as issue 13 wrote it, so that make train gives the same file
        doc["training"]["picture_kind"] = (
            "an input of the fit, 1 for a picture that is not a 350x350 greyscale crop, "
            "folded into the bias as 0 (tools/expr_head.py)")
    else:
        doc["training"].update({
            "reader": reader, "rows": int(rows),
            "augmented": "bench/expr_features --augment: every training picture and its "
                         "variants; the picture's kind not an input (tools/expr_head2.py)"})
    return doc


RECIPES = {"emotune-1": "tools/expr_head.py", "emotune-2": "tools/expr_head2.py"}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("features")
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--reader", choices=sorted(RECIPES), default="emotune-2")
    a = ap.parse_args()
    d = Faces(a.features)
    o = d.is_orig
    x = H.inputs(d.views)
    if a.reader == "emotune-1":
        rows = np.flatnonzero(o)
        model = H.fit(x[rows], d.kind()[rows], d.y[rows], a.seed)
    else:
        rows = np.arange(len(d))
        model = H2.fit(d, rows, a.seed)
    doc = document(model, d.y[o], a.seed, "../shared/data/faces (labels.csv)", a.reader,
                   len(rows))
    text = json.dumps(doc, indent=1) + "\n"
    with open(a.out, "w") as f:
        f.write(text)
    digest = hashlib.sha256(text.encode()).hexdigest()
    with open(a.out + ".sha256", "w") as f:
        f.write(f"{digest}  {a.out}\n")
    train = H.probabilities(model, x[o])
    print(f"train_expr: {a.reader}, {o.sum()} faces ({len(rows)} rows), C={model['C']}, "
          f"happy bias {model['happy_bias']}, T={model['temperature']:.3f}; accuracy on the "
          f"training faces themselves {(train.argmax(1) == d.y[o]).mean():.3f} (in-sample: see "
          f"tools/expr_cv.py for the honest figure); wrote {a.out} and {a.out}.sha256",
          file=sys.stderr)


if __name__ == "__main__":
    main()
