"""The labelled faces' features as bench/expr_features writes them (issue 19),
and who is who in them.

The TSV's columns are found by name, so that a file with more feature
columns (another net's outputs, added later with their own prefix) still
reads: label, file, variant ("orig" for the picture itself, "augK:..." for
an augmented variant of it), source ("grey350" for a 350x350 greyscale crop,
"other"), then face-api's 7 probabilities p_* and the expression net's 256
features f0..f255, then the same of the mirrored view (m_p_*, m_f*).
Columns this reader does not know are kept in `extra` (name -> column).
Human's emotion net's columns (e_p_*, e_f0..e_f255, m_e_p_*, m_e_f*; issue
19) are also given as `emotion_views`, shaped as `views` (None without them).
"""
import re

import numpy as np

CLASSES = ["neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised"]
NCLS = len(CLASSES)
NFEAT = 256
EMOTION_NFEAT = 256
SOURCES = ["grey350", "other"]
KNOWN = {"label", "file", "variant", "source"}


def person(file):
    """A file's person: its stem without a trailing `_?digits`
    (`Dwarakish_12.jpg` -> `Dwarakish`); a `facial-expressions_...` file is
    its own person (its name is a picture number, not a person's)."""
    stem = file.rsplit("/", 1)[-1].split("#", 1)[0].rsplit(".", 1)[0]
    if stem.startswith("facial-expressions_"):
        return stem
    return re.sub(r"_?\d+$", "", stem)


class Faces:
    """Rows of the TSV: y (class index, -1 for "-"), file, variant, source,
    person, is_orig, views [(probs, features)] x 2, extra {name: column}."""

    def __init__(self, path):
        with open(path) as f:
            head = f.readline().rstrip("\n").split("\t")
            rows = [line.rstrip("\n").split("\t") for line in f if line.strip()]
        col = {n: i for i, n in enumerate(head)}
        for need in ("label", "file"):
            assert need in col, f"{path}: no {need} column"
        text = lambda n, dflt: [r[col[n]] if n in col else dflt for r in rows]  # noqa: E731
        self.file = np.array(text("file", ""))
        self.variant = np.array(text("variant", "orig"))
        self.source = np.array(text("source", "unknown"))
        labels = text("label", "-")
        self.y = np.array([CLASSES.index(v) if v != "-" else -1 for v in labels])
        self.person = np.array([person(f) for f in self.file])
        self.is_orig = self.variant == "orig"
        numeric = [n for n in head if n not in KNOWN]
        num = np.array([[r[col[n]] for n in numeric] for r in rows], dtype=float).reshape(
            len(rows), len(numeric))
        ncol = {n: i for i, n in enumerate(numeric)}

        def block(prefix):
            p = num[:, [ncol[f"{prefix}p_{c}"] for c in CLASSES]]
            f = num[:, [ncol[f"{prefix}f{i}"] for i in range(NFEAT)]]
            return p, f
        self.views = [block(""), block("m_")]
        known = {f"{m}p_{c}" for m in ("", "m_") for c in CLASSES}
        known |= {f"{m}f{i}" for m in ("", "m_") for i in range(NFEAT)}
        self.extra = {n: num[:, ncol[n]] for n in numeric if n not in known}
        self.emotion_views = None
        if all(f"{m}e_p_{c}" in ncol for m in ("", "m_") for c in CLASSES):
            self.emotion_views = [
                (num[:, [ncol[f"{m}e_p_{c}"] for c in CLASSES]],
                 num[:, [ncol[f"{m}e_f{i}"] for i in range(EMOTION_NFEAT)]])
                for m in ("", "m_")]

    def __len__(self):
        return len(self.y)

    def kind(self):
        """1 for a row whose picture is not a 350x350 greyscale crop."""
        return (self.source != "grey350").astype(int)
