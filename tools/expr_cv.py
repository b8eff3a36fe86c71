#!/usr/bin/python3
"""Expression readers measured by stratified 5-fold cross-validation grouped
by person (issue 19): face-api 1.7.15, emotune-1 and emotune-2 and, when
the TSV has Human's emotion net's columns, that net alone (its own
probabilities, nothing fitted: "human-emotion") and emotune-3 and
emotune-3f (tools/expr_head3.py), every labelled face read once, on the
fold it was held out of, by readers fitted on the other four folds only
(scaler, C by inner cross-validation grouped by person, happy bias,
temperature). No person is in two folds (checked).
Figures overall and within each picture source (350x350 greyscale crops,
everything else), face-api's beside; a confusion picture per reader; the
demo photographs check; and the default decision (issue 19's criteria).

Input: the TSV of build/bench/expr_features --augment N (tools/expr_data.py
reads it); the held-out folds read only the original pictures, the training
folds of emotune-2 and emotune-3 also the augmented variants of their
pictures.

usage: tools/expr_cv.py [--seed N] [--json OUT] [--svg-dir DIR]
       [--demo DEMO.tsv --head1 JSON --head2 JSON] FEATURES.tsv
"""
import argparse
import json
import os
import sys
import warnings

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import expr_head as H  # noqa: E402
import expr_head2 as H2  # noqa: E402
import expr_head3 as H3  # noqa: E402
from expr_data import CLASSES, NCLS, SOURCES, Faces  # noqa: E402

# an inner fold without a class's faces (fearful) makes balanced accuracy say so
warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")

BASE_READERS = ["face-api", "emotune-1", "emotune-2"]
# with the emotion net's columns (issue 19): Human's emotion net alone (its
# own probabilities of the face, no fitting) and emotune-3 (expr_head3.py)
HUMAN = "human-emotion"
EMOTION_READERS = [HUMAN] + list(H3.VARIANTS)
SOURCE_NAMES = {"grey350": "350x350 greyscale crops", "other": "colour and other pictures"}
DEMO_SURE = 0.8
DEMO_NEED = 17


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
    return float(total)


def metrics(probs, y):
    """Accuracy, recall of each class (None without faces), their mean over
    the classes present, smiling (None without happy or neutral faces), ECE."""
    pred = probs.argmax(1)
    recall = {c: (float((pred[y == i] == i).mean()) if (y == i).any() else None)
              for i, c in enumerate(CLASSES)}
    present = [v for v in recall.values() if v is not None]
    hn = (y == H.HAPPY) | (y == H.NEUTRAL)
    return {
        "faces": int(len(y)),
        "counts": {c: int((y == i).sum()) for i, c in enumerate(CLASSES)},
        "accuracy": float((pred == y).mean()),
        "mean_recall": float(np.mean(present)),
        "recall": recall,
        "smiling": H.smiling_accuracy(pred, y) if hn.any() else None,
        "ece": ece(probs, y),
        "confusion": confusion_counts(pred, y).tolist(),
    }


def confusion_counts(pred, y):
    """Rows: the label; columns: the prediction."""
    return np.array([[int(((y == i) & (pred == j)).sum()) for j in range(NCLS)]
                     for i in range(NCLS)])


def folds_by_person(d, seed):
    """The outer folds: indices of original pictures; no person in two."""
    o = np.flatnonzero(d.is_orig)
    folds = [(o[tr], o[te]) for tr, te in StratifiedGroupKFold(5, shuffle=True, random_state=seed)
             .split(o, d.y[o], d.person[o])]
    seen = {}
    for k, (_, te) in enumerate(folds):
        for p in set(d.person[te]):
            assert p not in seen, f"person {p} in folds {seen[p]} and {k}"
            seen[p] = k
    assert sum(len(te) for _, te in folds) == len(o)
    return folds


def readers_of(d):
    """The readers measured on d: the emotion net's too when d has its columns."""
    return BASE_READERS + (EMOTION_READERS if d.emotion_views is not None else [])


def run_cv(d, seed):
    """Each reader's held-out probabilities of every original picture, and of
    the augmented variants of every held-out picture (the proxy below)."""
    x = H.inputs(d.views)
    x3 = {n: H3.inputs(d, f) for n, f in H3.VARIANTS.items()} if d.emotion_views else {}
    kind = d.kind()
    p0 = d.views[0][0]
    out = {n: np.full((len(d), NCLS), np.nan) for n in readers_of(d)}
    chosen = []
    for k, (tr, te) in enumerate(folds_by_person(d, seed)):
        train_files = set(d.file[tr])
        test_files = set(d.file[te])
        rows_tr = np.flatnonzero([f in train_files for f in d.file])
        rows_te = np.flatnonzero([f in test_files for f in d.file])  # and their variants
        assert not set(d.person[rows_tr]) & set(d.person[rows_te])
        out["face-api"][rows_te] = p0[rows_te]
        m1 = H.fit(x[tr], kind[tr], d.y[tr], seed, groups=d.person[tr])
        out["emotune-1"][rows_te] = H.probabilities(m1, x[rows_te])
        m2 = H2.fit(d, rows_tr, seed)
        out["emotune-2"][rows_te] = H.probabilities(m2, x[rows_te])
        models = {"emotune-1": m1, "emotune-2": m2}
        if x3:
            out[HUMAN][rows_te] = d.emotion_views[0][0][rows_te]
            for n, xn in x3.items():
                models[n] = H2.fit(d, rows_tr, seed, x=xn)
                out[n][rows_te] = H.probabilities(models[n], xn[rows_te])
        chosen.append({"fold": k, "test_faces": int(len(te)),
                       "test_persons": int(len(set(d.person[te]))),
                       **{n: {"C": m["C"], "happy_bias": m["happy_bias"], "T": m["temperature"]}
                          for n, m in models.items()}})
        print(f"fold {k}: {len(te)} faces of {len(set(d.person[te]))} persons; " +
              "; ".join(f"{n} C={m['C']} bias {m['happy_bias']} T={m['temperature']:.3f}"
                        for n, m in models.items()), file=sys.stderr)
    return out, chosen


def evaluate(d, out):
    """{reader: {"all": metrics, "grey350": ..., "other": ..., "proxy": ...}}.
    proxy: the augmented variants of the held-out 350x350 greyscale crops
    (made small, JPEG-coarse, shifted: towards the colour photographs' look),
    the only stand-in here for colour neutral and happy faces."""
    res = {}
    o = d.is_orig
    for n in readers_of(d):
        r = {"all": metrics(out[n][o], d.y[o])}
        for s in SOURCES:
            m = o & (d.source == s)
            r[s] = metrics(out[n][m], d.y[m])
        m = ~o & (d.source == "grey350")
        if m.any():
            r["proxy"] = metrics(out[n][m], d.y[m])
        res[n] = r
    return res


def fmt(v, w=6):
    return f"{'-':>{w}s}" if v is None else f"{v:{w}.3f}"


def report(res, d):
    o = d.is_orig
    print(f"{o.sum()} faces of {len(set(d.person[o]))} persons, 5 folds grouped by person "
          f"(no person in two folds); {(~o).sum()} augmented variants used in training only")
    cols = ["acc", "meanrec", "smile", "ECE"] + [c[:5] for c in CLASSES]
    for part, title in [("all", "all pictures")] + [(s, SOURCE_NAMES[s]) for s in SOURCES] + \
            [("proxy", "proxy: the held-out greyscale crops' augmented variants (small, JPEG)")]:
        base = res["face-api"].get(part)
        if base is None:
            continue
        counts = ", ".join(f"{c} {n}" for c, n in base["counts"].items() if n)
        print(f"\n{title}: {base['faces']} faces ({counts})")
        print(f"  {'reader':14s}" + "".join(f"{c:>7s}" for c in cols))
        for n in res:
            r = res[n][part]
            vals = [r["accuracy"], r["mean_recall"], r["smiling"], r["ece"]]
            vals += [r["recall"][c] for c in CLASSES]
            print(f"  {n:14s}" + "".join(" " + fmt(v) for v in vals))


def print_confusion(name, counts):
    print(f"\nconfusion, {name} (rows label, columns prediction)")
    print(" " * 10 + "".join(f"{c[:5]:>7s}" for c in CLASSES))
    for i, c in enumerate(CLASSES):
        print(f"{c:10s}" + "".join(f"{counts[i][j]:7d}" for j in range(NCLS)))


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
                 f'shade: share of the row; 5 folds grouped by person</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def head_from_file(path):
    """A weights file (tools/train_expr.py) as expr_head.probabilities reads it."""
    with open(path) as f:
        doc = json.load(f)
    return {"mean": np.array(doc["mean"]), "scale": np.array(doc["scale"]),
            "weights": np.array(doc["weights"]), "bias": np.array(doc["bias"]),
            "temperature": doc["temperature"]}


def demo_readings(d, heads, fitted):
    """Each reader's probabilities of the demo faces d: heads {name: weights
    file} (emotune-2's inputs), fitted {name: model of expr_head3.py fitted on
    every labelled face}, and Human's emotion net's own."""
    x = H.inputs(d.views)
    got = {name: (path, H.probabilities(head_from_file(path), x)) for name, path in heads.items()}
    if d.emotion_views is not None:
        got[HUMAN] = ("Human's emotion net, no fitting", d.emotion_views[0][0])
        for name, m in fitted.items():
            got[name] = (f"fitted on every labelled face here ({H3.__name__})",
                         H.probabilities(m, H3.inputs(d, H3.VARIANTS[name])))
    return got


def demo_check(demo_tsv, heads, fitted=None):
    """face-api's demo photographs: each face's top expression under each
    head against face-api's. A face counts as kept unless face-api is at
    least DEMO_SURE sure of it and the head reads another expression."""
    d = Faces(demo_tsv)
    fa = d.views[0][0]
    top = fa.argmax(1)
    sure = fa.max(1) >= DEMO_SURE
    out = {"faces": int(len(d)), "face_api_sure": int(sure.sum()), "readers": {}}
    for name, (path, p) in demo_readings(d, heads, fitted or {}).items():
        own = p.argmax(1)
        same = own == top
        out["readers"][name] = {
            "weights": path,
            "agree": int(same.sum()),
            "sure_agree": int((same & sure).sum()),
            "kept": int(len(d) - (sure & ~same).sum()),
            "differ": [{"face": d.file[i].split("/")[-1],
                        "face_api": [CLASSES[top[i]], round(float(fa[i].max()), 3)],
                        name: [CLASSES[own[i]], round(float(p[i].max()), 3)]}
                       for i in np.flatnonzero(~same)],
            "probabilities": p.round(6).tolist(),
        }
    return out


def check_demo_against_emotune(demo_tsv, heads, jsonl):
    """The demo features are what `emotune detect` reads: face-api's
    probabilities (view 0) and each head's, computed here from the features,
    against emotune's own output (JSON lines of `emotune detect --json
    --expressions MODE`, MODE=path), faces in the same order. Returns the
    largest difference of a probability; fails on a different top expression."""
    d = Faces(demo_tsv)
    x = H.inputs(d.views)
    worst = 0.0
    for mode, path in jsonl.items():
        with open(path) as f:
            faces = [fc for line in f for fc in json.loads(line)["faces"]]
        assert len(faces) == len(d), f"{path}: {len(faces)} faces, the features {len(d)}"
        p = d.views[0][0] if mode == "face-api" else H.probabilities(
            head_from_file(heads[mode]), x)
        want = np.array([[fc["expressions"][c] for c in CLASSES] for fc in faces])
        assert (p.argmax(1) == want.argmax(1)).all(), f"{mode}: another top expression"
        worst = max(worst, float(np.abs(p - want).max()))
    return worst


def print_demo(demo):
    print(f"\nface-api's demo photographs ({demo['faces']} faces; face-api is >= {DEMO_SURE} "
          f"sure of {demo['face_api_sure']}):")
    for name, r in demo["readers"].items():
        print(f"  {name}: agrees with face-api's top expression on {r['agree']} of "
              f"{demo['faces']}, on {r['sure_agree']} of the {demo['face_api_sure']} sure ones; "
              f"kept (not contradicting a sure face-api) {r['kept']} of {demo['faces']}")
        for f in r["differ"]:
            print(f"    {f['face']}: face-api {f['face_api'][0]} {f['face_api'][1]:.2f}, "
                  f"{name} {f[name][0]} {f[name][1]:.2f}")


def decide(res, demo, reader="emotune-2"):
    """Issue 19's criteria for `reader` to become the default: a list of
    (criterion, reader's figure, face-api's or the bound, PASS)."""
    new, fa = res[reader], res["face-api"]
    crit = [("mean recall >= 0.60", new["all"]["mean_recall"], 0.60),
            ("accuracy >= face-api's", new["all"]["accuracy"], fa["all"]["accuracy"]),
            ("smiling >= face-api's", new["all"]["smiling"], fa["all"]["smiling"])]
    for c in CLASSES:
        crit.append((f"recall {c} >= face-api's", new["all"]["recall"][c], fa["all"]["recall"][c]))
    crit.append(("colour source: mean recall >= face-api's", new["other"]["mean_recall"],
                 fa["other"]["mean_recall"]))
    for c in ("neutral", "happy"):
        a, b = new["other"]["recall"][c], fa["other"]["recall"][c]
        if a is None and "proxy" in new:  # no such colour face: the proxy stands in
            crit.append((f"colour source: {c} recall >= face-api's (no colour {c} face: "
                         f"proxy)", new["proxy"]["recall"][c], fa["proxy"]["recall"][c]))
        else:
            crit.append((f"colour source: {c} recall >= face-api's", a, b))
    if demo and reader in demo["readers"]:
        kept = demo["readers"][reader]["kept"]
        crit.append((f"demo photographs: faces kept (of {demo['faces']}) >= {DEMO_NEED}",
                     kept, DEMO_NEED))
    return [(n, a, b, a is not None and b is not None and a >= b - 1e-12) for n, a, b in crit]


def print_decision(crit, reader="emotune-2"):
    print(f"\ndefault decision for {reader} (issue 19; grouped by person):")
    for n, a, b, ok in crit:
        fa, fb = (f"{a}", f"{b}") if isinstance(a, int) else (fmt(a, 5), fmt(b, 5))
        print(f"  {'PASS ' if ok else 'SHORT'} {n:58s} {reader} {fa}  against {fb}")
    short = [n for n, _, _, ok in crit if not ok]
    if short:
        print(f"=> face-api stays the default: {len(short)} of {len(crit)} criteria short "
              f"({'; '.join(short)})")
    else:
        print(f"=> {reader} may become the default: every criterion passes")
    return not short


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("features")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--json", help="write the figures here")
    ap.add_argument("--svg-dir", help="write confusion-READER.svg here")
    ap.add_argument("--demo", help="expr_features --detect of face-api's demo photographs")
    ap.add_argument("--head1", default="models/emotune-expressions-1.json")
    ap.add_argument("--head2", help="emotune-2's weights fitted on every face (train_expr.py)")
    ap.add_argument("--demo-jsonl", action="append", default=[], metavar="MODE=PATH",
                    help="emotune detect --json --expressions MODE of the demo photographs, to "
                         "check the demo features against")
    a = ap.parse_args()
    d = Faces(a.features)
    out, chosen = run_cv(d, a.seed)
    res = evaluate(d, out)
    report(res, d)
    for n in res:
        print_confusion(n, res[n]["all"]["confusion"])
        if a.svg_dir:
            r = res[n]["all"]
            with open(os.path.join(a.svg_dir, f"confusion-{n}.svg"), "w") as f:
                f.write(confusion_svg(f"{n}: {r['accuracy']:.1%} of {r['faces']} faces, "
                                      f"mean recall {r['mean_recall']:.3f}",
                                      np.array(r["confusion"])))
    demo = None
    if a.demo:
        heads = {"emotune-1": a.head1}
        if a.head2:
            heads["emotune-2"] = a.head2
        fitted = {}
        if d.emotion_views is not None:  # emotune-3 fitted on every labelled face
            every = np.arange(len(d))
            fitted = {n: H3.fit(d, every, a.seed, f) for n, f in H3.VARIANTS.items()}
        demo = demo_check(a.demo, heads, fitted)
        if a.demo_jsonl:
            demo["emotune_max_difference"] = check_demo_against_emotune(
                a.demo, heads, dict(v.split("=", 1) for v in a.demo_jsonl))
        print_demo(demo)
        if a.demo_jsonl:
            print(f"  (the features give emotune's own readings of these faces, "
                  f"{', '.join(v.split('=')[0] for v in a.demo_jsonl)}: same top expressions, "
                  f"probabilities within {demo['emotune_max_difference']:.1e})")
    decisions = {}
    for reader in [r for r in res if r != "face-api"]:  # all, for comparison
        if reader == "emotune-2" and not a.head2:
            continue
        crit = decide(res, demo, reader)
        decisions[reader] = {"default": print_decision(crit, reader),
                             "criteria": [{"criterion": n, "reader": x, "against": y, "pass": p}
                                          for n, x, y, p in crit]}
    if a.json:
        doc = {"seed": a.seed, "folds": chosen, "results": res, "demo": demo,
               "decision": decisions}
        with open(a.json, "w") as f:
            json.dump(doc, f, indent=1)


if __name__ == "__main__":
    main()
