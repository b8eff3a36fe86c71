"""emotune-2, a reader that cannot lean on person or source (issue 19): how
it is fitted. Used by tools/expr_cv.py (fitted on four folds, measured on
the fifth), tools/expr_calib.py (fitted without one person) and
tools/train_expr.py --reader emotune-2 (fitted on every labelled face).

The model is emotune-1's format exactly (tools/expr_head.py; read by
src/vision/head.c): x = the mean over the face and its mirror image of the
expression net's 256 pooled features and face-api's 7 log-probabilities,
263 inputs; u = (x - mean) / scale; z = W u + b; p = softmax(z / T).
What differs is the fit:

1. The rows are the training pictures and their augmented variants
   (bench/expr_features --augment: the 350x350 greyscale crops made small
   and JPEG-coarse, the colour photographs made grey, all shifted, cropped,
   brightened), so that the look of a source is no cue for a class.
2. Each row's weight: every class weighs the same; within a class, each
   source present in it (grey350, other) weighs the same; within a class
   and source, each person weighs the same; within a person, each picture;
   a picture's weight is shared by its variants. One person with 86
   disgusted pictures weighs as much as one with 1.
3. Unlike emotune-1, the fit is not told the picture's kind (USE_KIND): a
   reader that must not lean on the source is not given it. (With it, read
   as 0 as emotune-1 does, grouped mean recall was 0.530 against 0.548 and
   colour mean recall 0.228 against 0.257; issue 19's notes.)
4. C is chosen from C_GRID by 3-fold inner cross-validation grouped by
   person (mean recall of the inner held-out persons' original pictures,
   each person weighing the same within its class); the inner out-of-fold
   logits of the original pictures give the happy bias (smiling accuracy)
   and the temperature, as emotune-1's.
5. The regression is refitted on all the training rows.
"""
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.preprocessing import StandardScaler

import expr_head as H
from expr_head import NCLS, HAPPY

MODEL_NAME = "emotune-2"
C_GRID = [0.003, 0.01, 0.03, 0.1]
INNER_FOLDS = 3
# 0: each source of a class, each person of a class and source, weighs the
# same (the recipe); 1 would weigh them by their persons and pictures.
SOURCE_POWER = 0.0
PERSON_POWER = 0.0
# The picture's kind as an input, read as 0 (emotune-1's device): off, the
# reader is not told the source at all.
USE_KIND = False


def row_weights(y, person, source, picture):
    """The weight of each row (2. above), mean 1."""
    w = np.zeros(len(y))
    for c in np.unique(y):
        in_c = y == c
        sources = np.unique(source[in_c])
        src_size = np.array([len(np.unique(person[in_c & (source == s)])) for s in sources])
        src_share = src_size ** SOURCE_POWER / (src_size ** SOURCE_POWER).sum()
        for s, s_share in zip(sources, src_share):
            in_cs = in_c & (source == s)
            persons, idx = np.unique(person[in_cs], return_inverse=True)
            pics_of = np.array([len(np.unique(picture[in_cs][idx == k]))
                                for k in range(len(persons))])
            p_share = pics_of ** PERSON_POWER / (pics_of ** PERSON_POWER).sum()
            rows = np.flatnonzero(in_cs)
            # each picture's share of its person, split over its rows
            _, pic_idx, rows_per_pic = np.unique(picture[rows], return_inverse=True,
                                                 return_counts=True)
            w[rows] = s_share * p_share[idx] / pics_of[idx] / rows_per_pic[pic_idx]
    return w * len(w) / w.sum()


def _fit_rows(xk, y, w, c):
    scaler = StandardScaler().fit(xk)
    reg = LogisticRegression(C=c, max_iter=5000)
    reg.fit(scaler.transform(xk), y, sample_weight=w)
    return scaler, reg


def _logits(scaler, reg, xk):
    return reg.decision_function(scaler.transform(xk))


def _person_recall(logits, y, person):
    """Mean recall with each person weighing the same within a class."""
    pred = logits.argmax(1)
    rec = []
    for c in np.unique(y):
        m = y == c
        per = [np.mean(pred[m & (person == p)] == c) for p in np.unique(person[m])]
        rec.append(np.mean(per))
    return float(np.mean(rec))


def fit(d, rows, seed, c=None, inner_folds=INNER_FOLDS, x=None):
    """emotune-2 fitted on d's rows `rows` (indices into an expr_data.Faces,
    originals and variants of the training pictures): a dict as
    expr_head.fit's. With c given, C is not chosen (the inner folds still
    give the happy bias and the temperature). x: every row's inputs, when
    not emotune-2's (tools/expr_head3.py)."""
    x = (H.inputs(d.views) if x is None else x)[rows]
    kind = d.kind()[rows]
    y, person, source = d.y[rows], d.person[rows], d.source[rows]
    picture, orig = d.file[rows], d.is_orig[rows]
    if not USE_KIND:
        kind = np.zeros_like(kind)
    xk = np.hstack([x, kind[:, None].astype(float)])
    w = row_weights(y, person, source, picture)
    # inner folds over the original pictures, grouped by person
    o = np.flatnonzero(orig)
    folds = list(StratifiedGroupKFold(inner_folds, shuffle=True, random_state=seed + 1)
                 .split(o, y[o], person[o]))
    grid = [c] if c is not None else C_GRID
    best = None
    for cc in grid:
        oof = np.zeros((len(o), NCLS))
        for tr, te in folds:
            keep = np.isin(picture, picture[o[tr]])
            wi = row_weights(y[keep], person[keep], source[keep], picture[keep])
            scaler, reg = _fit_rows(xk[keep], y[keep], wi, cc)
            oof[te] = _logits(scaler, reg, xk[o[te]])
        score = _person_recall(oof, y[o], person[o])
        if best is None or score > best[0]:
            best = (score, cc, oof)
    _, c, oof = best
    bias = H.choose_happy_bias(oof, y[o])
    shift = bias * np.eye(NCLS)[HAPPY]
    t = H.fit_temperature(oof + shift, y[o])
    scaler, reg = _fit_rows(xk, y, w, c)
    model = H.fold_kind(scaler, reg)
    model["bias"] = model["bias"] + shift
    model.update({"temperature": t, "C": c, "happy_bias": bias, "inner_score": best[0]})
    return model
