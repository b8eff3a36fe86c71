#!/usr/bin/python3
"""Fits emotune-1, the opt-in expression model, on every labelled face and
writes its weights file and the file's checksum (issue 13; `make train`).

Input: the TSV of build/bench/expr_features (the expression net's features of
each face and of its mirror image, computed by emotune's own code). The
recipe is tools/expr_head.py's, the one tools/expr_cv.py measures. It is
deterministic: the same features give the same file, byte for byte (run with
one BLAS thread, as `make train` does).

usage: tools/train_expr.py [--seed N] [--faces DIR] FEATURES.tsv OUT.json
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
import expr_cv  # noqa: E402  (the TSV reader)
import expr_head as H  # noqa: E402


def numbers(a):
    """A list of floats printed with 9 significant digits (float32 exact)."""
    return [float(f"{v:.9g}") for v in np.asarray(a, dtype=np.float64).ravel()]


def document(model, y, seed, source):
    counts = {c: int((y == i).sum()) for i, c in enumerate(H.CLASSES)}
    return {
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
            "tool": "tools/train_expr.py (recipe: tools/expr_head.py)",
            "data": source,
            "faces": int(len(y)),
            "counts": counts,
            "seed": seed,
            "C": model["C"],
            "happy_bias": model["happy_bias"],
            "picture_kind": "an input of the fit, 1 for a picture that is not a 350x350 "
                            "greyscale crop, folded into the bias as 0 (tools/expr_head.py)",
        },
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("features")
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--faces", default="../shared/data/faces",
                    help="the labelled faces (their pictures give each one's kind)")
    a = ap.parse_args()
    y, views, files = expr_cv.load(a.features)
    kind = H.picture_kind(a.faces, files)
    model = H.fit(H.inputs(views), kind, y, a.seed)
    text = json.dumps(document(model, y, a.seed, "../shared/data/faces (labels.csv)"),
                      indent=1) + "\n"
    with open(a.out, "w") as f:
        f.write(text)
    digest = hashlib.sha256(text.encode()).hexdigest()
    with open(a.out + ".sha256", "w") as f:
        f.write(f"{digest}  {a.out}\n")
    train = H.probabilities(model, H.inputs(views))
    print(f"train_expr: {len(y)} faces, C={model['C']}, happy bias {model['happy_bias']}, "
          f"T={model['temperature']:.3f}; accuracy on the training faces themselves "
          f"{(train.argmax(1) == y).mean():.3f} (in-sample: see tools/expr_cv.py for the "
          f"honest figure); wrote {a.out} and {a.out}.sha256", file=sys.stderr)


if __name__ == "__main__":
    main()
