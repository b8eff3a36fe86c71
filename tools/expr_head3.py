"""emotune-3 (issue 19): emotune-2's recipe (tools/expr_head2.py, fitted the
same way: augmented rows, each class, source and person weighing the same,
C by inner cross-validation grouped by person, happy bias, temperature) on
more inputs: emotune-2's 263 (face-api's expression net's 256 features and
7 log-probabilities) and Human's emotion net's 7 log-probabilities, each
averaged over the face and its mirror (the emotion net's 64x64 input
flipped, bench/expr_features); and, as the variant "emotune-3f", its 256
features (the mean of its last block, mirror-averaged) too.

x = [face-api features 256, face-api log-probabilities 7,
     (emotune-3f: emotion features 256,) emotion log-probabilities 7].
"""
import numpy as np

import expr_head as H
import expr_head2 as H2

VARIANTS = {"emotune-3": False, "emotune-3f": True}  # name -> with the emotion features


def emotion_log_probs(d):
    """Human's emotion net's 7 log-probabilities (floored as face-api's),
    averaged over the face and its mirror."""
    (q0, _), (q1, _) = d.emotion_views
    return (np.log(np.maximum(q0, H.LOG_FLOOR)) + np.log(np.maximum(q1, H.LOG_FLOOR))) / 2


def inputs(d, features=False):
    """x of every row of d (an expr_data.Faces with the emotion columns)."""
    assert d.emotion_views is not None, "no emotion net columns (bench/expr_features)"
    parts = [H.inputs(d.views)]
    if features:
        (_, g0), (_, g1) = d.emotion_views
        parts.append((g0 + g1) / 2)
    parts.append(emotion_log_probs(d))
    return np.hstack(parts)


def fit(d, rows, seed, features=False, x=None):
    """emotune-3 (or -3f) fitted on d's rows, as expr_head2.fit."""
    return H2.fit(d, rows, seed, x=inputs(d, features) if x is None else x)
