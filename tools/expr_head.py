"""emotune-1, the opt-in expression model (issue 13): how it is fitted and
applied. One home for the recipe, used by tools/train_expr.py (which fits it
on all the labelled faces and writes models/emotune-expressions-1.json) and by
tools/expr_cv.py (which fits it on four folds and measures it on the fifth).

The model: x = the mean of the expression net's 256 pooled features on the
face and on its mirror image (src/vision, et_vision_detect does the same);
u = (x - mean) / scale; z = W u + b; p = softmax(z / T).

Fitting, on the training faces only:
1. a standard scaler and a multinomial logistic regression with balanced
   class weights; C chosen from C_GRID by 4-fold inner cross-validation
   (balanced accuracy);
2. the inner cross-validation's out-of-fold logits (honest, not in-sample);
3. a bias added to happy's logit: the one in HAPPY_BIASES that maximises
   smiling accuracy (happy against neutral) on those logits. Balanced class
   weights pull faces from the large classes (happy) to the small ones
   (disgusted); this gives happy back what it lost, and no more;
4. a temperature T minimising the negative log-likelihood of those logits
   with the bias, so that the probabilities mean what they say;
5. the regression refitted on all the training faces.
"""
import numpy as np
from scipy.optimize import minimize_scalar
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

CLASSES = ["neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised"]
NEUTRAL, HAPPY = 0, 1
NCLS = len(CLASSES)
C_GRID = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0]
HAPPY_BIASES = np.round(np.arange(0.0, 3.0001, 0.05), 2)
MODEL_NAME = "emotune-1"
FEATURES = "face-api-expression-net-256-mirror-mean"


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


def inner_cv(seed):
    return StratifiedKFold(4, shuffle=True, random_state=seed + 1)


def choose_c(x, y, seed):
    grid = GridSearchCV(logreg(1.0), {"logisticregression__C": C_GRID},
                        scoring="balanced_accuracy", cv=inner_cv(seed))
    grid.fit(x, y)
    return grid.best_params_["logisticregression__C"]


def choose_happy_bias(logits, y):
    """The smallest bias of HAPPY_BIASES with the best smiling accuracy."""
    scores = [smiling_accuracy((logits + b * np.eye(NCLS)[HAPPY]).argmax(1), y)
              for b in HAPPY_BIASES]
    return float(HAPPY_BIASES[int(np.argmax(scores))])


def fit(x, y, seed):
    """The model fitted on (x, y): a dict of numpy arrays and numbers."""
    c = choose_c(x, y, seed)
    oof = cross_val_predict(logreg(c), x, y, cv=inner_cv(seed), method="decision_function")
    bias = choose_happy_bias(oof, y)
    shift = bias * np.eye(NCLS)[HAPPY]
    t = fit_temperature(oof + shift, y)
    pipe = logreg(c).fit(x, y)
    scaler, reg = pipe.named_steps["standardscaler"], pipe.named_steps["logisticregression"]
    return {"mean": scaler.mean_, "scale": scaler.scale_, "weights": reg.coef_,
            "bias": reg.intercept_ + shift, "temperature": t, "C": c, "happy_bias": bias}


def probabilities(model, x):
    """softmax((W (x - mean) / scale + b) / T), one row per face."""
    u = (x - model["mean"]) / model["scale"]
    return softmax((u @ model["weights"].T + model["bias"]) / model["temperature"])


def mirror_mean(views):
    """x for the model: the mean of the two views' 256 features."""
    (_, f0), (_, f1) = views
    return (f0 + f1) / 2
