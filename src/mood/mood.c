/* The listener's mood from face expressions: points, smoothing, hysteresis. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mood/mood.h"

/* Each expression's named mood, in et_expression order; its point comes from
 * the named-mood table (moods.c), so faces and music share one table. */
static const char *const expression_moods[ET_EXPR_COUNT] = {
    "calm", "happy", "sad", "angry", "tense", "disgusted", "surprised",
};

const char *et_mood_expression_mood(et_expression e)
{
    return (unsigned)e < ET_EXPR_COUNT ? expression_moods[e] : NULL;
}

static void expression_point(int e, double *v, double *a)
{
    /* Every name above is in the table; a missing one would be a build bug. */
    if (!et_mood_named_point(expression_moods[e], v, a))
        *v = *a = 0;
}

et_status et_mood_from_expressions(const float probs[ET_EXPR_COUNT], et_mood_point *out,
                                   char *err)
{
    if (!probs || !out)
        return et_fail(err, ET_E_INVALID, "mood: NULL probabilities or output");
    double sum = 0;
    for (int i = 0; i < ET_EXPR_COUNT; i++) {
        double p = probs[i];
        if (!isfinite(p) || p < 0 || p > 1)
            return et_fail(err, ET_E_INVALID, "mood: %s probability %g is not in [0, 1]",
                           et_vision_expression_name((et_expression)i), p);
        sum += p;
    }
    if (fabs(sum - 1) > ET_MOOD_PROB_TOLERANCE)
        return et_fail(err, ET_E_INVALID, "mood: probabilities sum to %g, not 1", sum);
    double v = 0, a = 0, h = 0;
    for (int i = 0; i < ET_EXPR_COUNT; i++) {
        double p = probs[i] / sum, ev, ea;
        expression_point(i, &ev, &ea);
        v += p * ev;
        a += p * ea;
        if (p > 0)
            h -= p * log(p);
    }
    double c = 1 - h / log(ET_EXPR_COUNT);
    out->valence = v;
    out->arousal = a;
    out->confidence = c < 0 ? 0 : c > 1 ? 1 : c;
    return ET_OK;
}

/* ---- the tracker ---- */

#define NO_NAME (-1)

typedef struct smile_frame {
    double time;
    bool smiling;
} smile_frame;

struct et_mood_tracker {
    et_mood_opts o;
    size_t frames, late_dropped;
    double last_time;
    double last_dt;  /* newest positive in-order interval (late-frame weight) */
    bool has_point;  /* some face was seen: v, a mean something */
    double v, a, conf;
    bool has_face;   /* newest in-order frame had a usable face */
    bool has_box;
    et_box box;      /* the face followed */
    int name, cand;  /* et_expression index of the named mood, or NO_NAME */
    double cand_since;
    size_t n_smile, smile_head;
    smile_frame smile[ET_MOOD_SMILE_FRAMES];
};

et_mood_opts et_mood_default_opts(void)
{
    return (et_mood_opts){.tau_s = 3.0, .hold_s = 2.0, .min_score = 0.5, .window_s = 10.0};
}

static et_status check_opts(const et_mood_opts *o, char *err)
{
    if (!(isfinite(o->tau_s) && o->tau_s > 0))
        return et_fail(err, ET_E_INVALID, "mood: tau_s %g must be > 0", o->tau_s);
    if (!(isfinite(o->hold_s) && o->hold_s >= 0))
        return et_fail(err, ET_E_INVALID, "mood: hold_s %g must be >= 0", o->hold_s);
    if (!(o->min_score >= 0 && o->min_score <= 1))
        return et_fail(err, ET_E_INVALID, "mood: min_score %g must be in [0, 1]", o->min_score);
    if (!(isfinite(o->window_s) && o->window_s > 0))
        return et_fail(err, ET_E_INVALID, "mood: window_s %g must be > 0", o->window_s);
    return ET_OK;
}

void et_mood_tracker_reset(et_mood_tracker *t)
{
    if (!t)
        return;
    et_mood_opts o = t->o;
    memset(t, 0, sizeof *t);
    t->o = o;
    t->name = t->cand = NO_NAME;
}

et_status et_mood_tracker_new(const et_mood_opts *opts, et_mood_tracker **out, char *err)
{
    if (!out)
        return et_fail(err, ET_E_INVALID, "mood: NULL output");
    et_mood_opts o = opts ? *opts : et_mood_default_opts();
    et_status s = check_opts(&o, err);
    if (s != ET_OK)
        return s;
    et_mood_tracker *t = malloc(sizeof *t);
    if (!t)
        return et_fail(err, ET_E_NOMEM, "mood: out of memory for a tracker");
    t->o = o;
    et_mood_tracker_reset(t);
    *out = t;
    return ET_OK;
}

void et_mood_tracker_free(et_mood_tracker *t) { free(t); }

static et_status check_face(const et_face *f, size_t i, char *err)
{
    const et_box *b = &f->box;
    if (!isfinite(b->x) || !isfinite(b->y) || !isfinite(b->width) || !isfinite(b->height) ||
        b->width < 0 || b->height < 0)
        return et_fail(err, ET_E_INVALID, "mood: face %zu: box is not finite and of size >= 0",
                       i);
    if (f->has_score && !(f->score >= 0 && f->score <= 1))
        return et_fail(err, ET_E_INVALID, "mood: face %zu: score %g is not in [0, 1]", i,
                       f->score);
    et_mood_point p;
    char why[ET_ERR_MAX];
    if (et_mood_from_expressions(f->expressions, &p, why) != ET_OK)
        return et_fail(err, ET_E_INVALID, "face %zu: %s", i, why);
    return ET_OK;
}

static double iou(et_box p, et_box q)
{
    double w = fmin(p.x + p.width, q.x + q.width) - fmax(p.x, q.x);
    double h = fmin(p.y + p.height, q.y + q.height) - fmax(p.y, q.y);
    if (w <= 0 || h <= 0)
        return 0;
    double inter = w * h, uni = p.width * p.height + q.width * q.height - inter;
    return uni > 0 ? inter / uni : 0;
}

/* The listener among faces: the best overlap with the followed box, else the
 * largest box; -1 when no face is usable. */
static long choose_face(const et_mood_tracker *t, const et_face *faces, size_t n)
{
    long best_iou = -1, largest = -1;
    double bi = ET_MOOD_FOLLOW_IOU, area = -1;
    for (size_t i = 0; i < n; i++) {
        const et_face *f = &faces[i];
        if (f->has_score && f->score < t->o.min_score)
            continue;
        double ar = f->box.width * f->box.height;
        if (ar > area)
            area = ar, largest = (long)i;
        if (t->has_box) {
            double o = iou(t->box, f->box);
            if (o > bi)
                bi = o, best_iou = (long)i;
        }
    }
    return best_iou >= 0 ? best_iou : largest;
}

/* The expression whose named mood is nearest the point. */
static int nearest_mood(double v, double a)
{
    const char *name = et_mood_nearest_named(v, a);
    for (int e = 0; e < ET_EXPR_COUNT; e++)
        if (strcmp(et_mood_expression_mood((et_expression)e), name) == 0)
            return e;
    return 0; /* not reached: the seven names are the expressions' moods */
}

/* Hysteresis on the name, evaluated at time now (the newest frame time). */
static void update_name(et_mood_tracker *t, double now)
{
    double need = t->name == NO_NAME ? ET_MOOD_RESUME_CONFIDENCE : ET_MOOD_MIN_CONFIDENCE;
    if (!t->has_point || t->conf < need) {
        t->name = t->cand = NO_NAME;
        return;
    }
    int near = nearest_mood(t->v, t->a);
    if (t->name == NO_NAME) { /* nothing to flicker from: name it now */
        t->name = t->cand = near;
        t->cand_since = now;
        return;
    }
    if (near == t->name) {
        t->cand = t->name;
        return;
    }
    if (near != t->cand) {
        t->cand = near;
        t->cand_since = now;
    }
    if (now - t->cand_since >= t->o.hold_s)
        t->name = t->cand;
}

static void add_smile(et_mood_tracker *t, double time, bool smiling)
{
    t->smile[t->smile_head] = (smile_frame){time, smiling};
    t->smile_head = (t->smile_head + 1) % ET_MOOD_SMILE_FRAMES;
    if (t->n_smile < ET_MOOD_SMILE_FRAMES)
        t->n_smile++;
}

/* Blends the face in with weight w (point) and wc (confidence). */
static void blend(et_mood_tracker *t, const et_face *f, double w, double wc)
{
    et_mood_point p;
    et_mood_from_expressions(f->expressions, &p, NULL); /* checked before */
    double evidence = p.confidence * (f->has_score ? f->score : 1.0);
    if (!t->has_point)
        w = 1;
    t->v += w * (p.valence - t->v);
    t->a += w * (p.arousal - t->a);
    t->conf += wc * (evidence - t->conf);
    t->has_point = true;
}

et_status et_mood_tracker_push(et_mood_tracker *t, double time_s, const et_face *faces,
                               size_t n, char *err)
{
    if (!t)
        return et_fail(err, ET_E_INVALID, "mood: NULL tracker");
    if (n > 0 && !faces)
        return et_fail(err, ET_E_INVALID, "mood: %zu faces but a NULL array", n);
    if (!isfinite(time_s) || time_s < 0)
        return et_fail(err, ET_E_INVALID, "mood: frame time %g is not a time >= 0", time_s);
    if (t->frames > 0 && time_s - t->last_time > ET_MOOD_MAX_JUMP_S)
        return et_fail(err, ET_E_INVALID,
                       "mood: frame time %.3f is %.0f s after the newest frame (clock error?)",
                       time_s, time_s - t->last_time);
    for (size_t i = 0; i < n; i++) {
        et_status s = check_face(&faces[i], i, err);
        if (s != ET_OK)
            return s;
    }
    long k = choose_face(t, faces, n);
    double tau = t->o.tau_s;

    if (t->frames > 0 && time_s < t->last_time) { /* late */
        double age = t->last_time - time_s;
        if (age > ET_MOOD_LATE_MAX_S) {
            t->late_dropped++;
            return ET_OK;
        }
        if (k < 0)
            return ET_OK; /* no evidence: the decay belongs to the clock */
        double w = -expm1(-t->last_dt / tau) * exp(-age / tau);
        blend(t, &faces[k], w, w);
        add_smile(t, time_s, faces[k].smiling);
        t->frames++;
        update_name(t, t->last_time);
        return ET_OK;
    }

    double dt = t->frames > 0 ? time_s - t->last_time : 0;
    double alpha = -expm1(-dt / tau); /* 1 - exp(-dt/tau), exact for small dt */
    if (dt > 0)
        t->last_dt = dt;
    if (k >= 0) {
        blend(t, &faces[k], alpha, alpha);
        t->box = faces[k].box;
        t->has_box = true;
        add_smile(t, time_s, faces[k].smiling);
    } else {
        t->conf -= alpha * t->conf;
    }
    t->has_face = k >= 0;
    t->last_time = time_s;
    t->frames++;
    update_name(t, time_s);
    return ET_OK;
}

et_status et_mood_tracker_state(const et_mood_tracker *t, et_mood_state *out)
{
    if (!t || !out)
        return ET_E_INVALID;
    size_t faces = 0, smiles = 0;
    for (size_t i = 0; i < t->n_smile; i++)
        if (t->smile[i].time > t->last_time - t->o.window_s) {
            faces++;
            smiles += t->smile[i].smiling;
        }
    *out = (et_mood_state){
        .valence = t->v,
        .arousal = t->a,
        .confidence = t->conf,
        .name = t->name == NO_NAME ? "unknown" : expression_moods[t->name],
        .smiling_share = faces ? (double)smiles / (double)faces : 0,
        .has_face = t->has_face,
        .last_time = t->last_time,
        .frames = t->frames,
        .late_dropped = t->late_dropped,
    };
    return ET_OK;
}
