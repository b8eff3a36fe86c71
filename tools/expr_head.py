"""emotune-1, the opt-in expression model (issue 13): how it is fitted and
applied. One home for the recipe, used by tools/train_expr.py (which fits it
on all the labelled faces and writes models/emotune-expressions-1.json) and by
tools/expr_cv.py (which fits it on four folds and measures it on the fifth).

The model: x = the mean over the face and its mirror image of the expression
net's 256 pooled features, then of face-api's 7 log-probabilities (clipped at
1e-7), 263 inputs (src/vision/head.c computes the same); u = (x - mean) /
scale; z = W u + b; p = softmax(z / T).

The picture's kind. The labelled faces come from two sources: happy, neutral
and surprised are all 350x350 greyscale crops, while most disgusted and sad
faces are small colour pictures. A head fitted on them learns the kind of
picture as a cue for the class, and then reads colour photographs (webcam
frames) as disgusted or sad. So the fit gets one more input, 1 for a picture
that is not a 350x350 greyscale crop (picture_kind), which soaks up that cue;
the model is then read with it set to 0, its weight folded into the bias
(fold_kind), and so are the held-out folds in tools/expr_cv.py: honest about
what a reader that never knows the kind gets.

Fitting, on the training faces only:
1. a standard scaler and a multinomial logistic regression with balanced
   class weights, on the 263 inputs and the kind; C chosen from C_GRID by
   4-fold inner cross-validation (balanced accuracy);
2. the inner cross-validation's out-of-fold logits (honest, not in-sample);
3. a bias added to happy's logit: the one in HAPPY_BIASES that maximises
   smiling accuracy (happy against neutral) on those logits. Balanced class
   weights pull faces from the large classes (happy) to the small ones
   (disgusted); this gives happy back what it lost, and no more;
4. a temperature T minimising the negative log-likelihood of those logits
   with the bias, so that the probabilities mean what they say;
5. the regression refitted on all the training faces, and the kind folded
   into the bias.
"""
import numpy as np
from scipy.optimize import minimize_scalar
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import (GridSearchCV, StratifiedGroupKFold, StratifiedKFold,
                                     cross_val_predict)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

CLASSES = ["neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised"]
NEUTRAL, HAPPY = 0, 1
NCLS = len(CLASSES)
C_GRID = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0]
HAPPY_BIASES = np.round(np.arange(0.0, 3.0001, 0.05), 2)
MODEL_NAME = "emotune-1"
FEATURES = "face-api-expression-net-256-and-log-probabilities-7-mirror-mean"
LOG_FLOOR = 1e-7


def softmax(z):
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def fit_temperature(logits, y):
    """The T minimising the negative log-likelihood of softmax(logits / T)."""
    def nll(t):
        p = softmax(logits / t)
        return -np.mean(np.log(p[np.arange(len(y)), y] + 1e-12))
    return float(minimize_scalar(nll, bounds=(0.05, 20.0), method="bounded").x)


def smiling_accuracy(pred, y):
    """On the happy and neutral faces: is the top expression happy exactly
    when the label is?"""
    hn = (y == HAPPY) | (y == NEUTRAL)
    return float(((pred[hn] == HAPPY) == (y[hn] == HAPPY)).mean())


def logreg(c):
    return make_pipeline(StandardScaler(),
                         LogisticRegression(C=c, class_weight="balanced", max_iter=5000))


def inner_cv(seed, grouped):
    """The inner folds: by picture as shipped (issue 13), or by person
    (grouped, issue 19: a person's other pictures cannot help choose C)."""
    if grouped:
        return StratifiedGroupKFold(4, shuffle=True, random_state=seed + 1)
    return StratifiedKFold(4, shuffle=True, random_state=seed + 1)


def choose_c(x, y, seed, groups=None):
    grid = GridSearchCV(logreg(1.0), {"logisticregression__C": C_GRID},
                        scoring="balanced_accuracy", cv=inner_cv(seed, groups is not None))
    grid.fit(x, y, groups=groups)
    return grid.best_params_["logisticregression__C"]


def choose_happy_bias(logits, y):
    """The smallest bias of HAPPY_BIASES with the best smiling accuracy."""
    scores = [smiling_accuracy((logits + b * np.eye(NCLS)[HAPPY]).argmax(1), y)
              for b in HAPPY_BIASES]
    return float(HAPPY_BIASES[int(np.argmax(scores))])


def fold_kind(scaler, reg):
    """The model with the kind input (the last) set to 0 and removed: its
    term, weight * (0 - mean) / scale, joins the bias."""
    w, m, sd = reg.coef_[:, -1], scaler.mean_[-1], scaler.scale_[-1]
    return {"mean": scaler.mean_[:-1], "scale": scaler.scale_[:-1],
            "weights": reg.coef_[:, :-1], "bias": reg.intercept_ + w * (0 - m) / sd}


def fit(x, kind, y, seed, groups=None):
    """The model fitted on inputs x, the pictures' kind (picture_kind) and
    labels y: a dict of numpy arrays and numbers, to read with kind 0. With
    groups (each face's person), the inner folds are grouped by person."""
    xk = np.hstack([x, kind[:, None].astype(float)])
    c = choose_c(xk, y, seed, groups)
    oof = cross_val_predict(logreg(c), xk, y, cv=inner_cv(seed, groups is not None),
                            groups=groups, method="decision_function")
    bias = choose_happy_bias(oof, y)
    shift = bias * np.eye(NCLS)[HAPPY]
    t = fit_temperature(oof + shift, y)
    pipe = logreg(c).fit(xk, y)
    model = fold_kind(pipe.named_steps["standardscaler"], pipe.named_steps["logisticregression"])
    model["bias"] = model["bias"] + shift
    model.update({"temperature": t, "C": c, "happy_bias": bias})
    return model


def probabilities(model, x):
    """softmax((W (x - mean) / scale + b) / T), one row per face."""
    u = (x - model["mean"]) / model["scale"]
    return softmax((u @ model["weights"].T + model["bias"]) / model["temperature"])


def inputs(views):
    """x for the model: the two views' 256 features and 7 log-probabilities
    (face-api's), each averaged over the views."""
    (p0, f0), (p1, f1) = views
    logp = (np.log(np.maximum(p0, LOG_FLOOR)) + np.log(np.maximum(p1, LOG_FLOOR))) / 2
    return np.hstack([(f0 + f1) / 2, logp])
