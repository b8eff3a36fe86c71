/* listener: the calibration to a listener's own face (issue 19) -- the
 * solver against facts (the stationary condition, symmetry, a large
 * penalty, a closed-form one-example case solved here by bisection), its
 * application, and the examples and fit in a real store, LMDB and a real
 * redis-server: the bound, bad examples, forgetting, hand-edited documents
 * and concurrent writers that lose nothing. */
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "listener/listener.h"
#include "support.h"

#define K ET_EXPR_COUNT
#define LAMBDA ET_LISTENER_CALIB_LAMBDA

/* ---- the solver, against facts ---- */

/* softmax(z + b), computed here on its own. */
static void softmax_of(const double z[K], const double b[K], double p[K])
{
    double m = -INFINITY, sum = 0;
    for (int k = 0; k < K; k++)
        m = fmax(m, z[k] + b[k]);
    for (int k = 0; k < K; k++)
        sum += p[k] = exp(z[k] + b[k] - m);
    for (int k = 0; k < K; k++)
        p[k] /= sum;
}

/* The largest component of the penalised loss's gradient at b. */
static double gradient_norm(const double (*z)[K], const int *y, size_t n, double lambda,
                            const double b[K])
{
    double g[K];
    for (int k = 0; k < K; k++)
        g[k] = lambda * b[k];
    for (size_t i = 0; i < n; i++) {
        double p[K];
        softmax_of(z[i], b, p);
        for (int k = 0; k < K; k++)
            g[k] += p[k] - (y[i] == k);
    }
    double worst = 0;
    for (int k = 0; k < K; k++)
        worst = fmax(worst, fabs(g[k]));
    return worst;
}

static void fit_ok(const double (*z)[K], const int *y, size_t n, double lambda, double b[K],
                   int *it)
{
    char err[ET_ERR_MAX];
    if (et_listener_calib_fit(z, y, n, lambda, b, it, err) != ET_OK)
        fail_msg("fit: %s", err);
}

static void no_examples_give_no_bias(void **state)
{
    (void)state;
    double b[K] = {1, 2, 3, 4, 5, 6, 7};
    fit_ok(NULL, NULL, 0, LAMBDA, b, NULL);
    for (int k = 0; k < K; k++)
        assert_true(b[k] == 0);
}

/* One example of class y on a uniform reading: by symmetry the six other
 * classes share one bias -c and class y has 6c (the biases sum to 0, as
 * the stationary condition summed over classes says); the condition for a
 * class k != y reads p_k = lambda c with p_k = 1 / (6 + e^{7c}), one
 * equation in c, solved here by bisection. */
static void one_uniform_example_matches_the_closed_form(void **state)
{
    (void)state;
    double z[1][K] = {{0}};
    int y[1] = {ET_EXPR_SAD};
    double b[K];
    int it = 0;
    fit_ok((const double(*)[K])z, y, 1, LAMBDA, b, &it);
    double lo = 0, hi = 1;
    for (int i = 0; i < 200; i++) {
        double c = (lo + hi) / 2;
        if (1 / (6 + exp(7 * c)) - LAMBDA * c > 0)
            lo = c;
        else
            hi = c;
    }
    double c = (lo + hi) / 2;
    for (int k = 0; k < K; k++)
        assert_float_equal(b[k], k == ET_EXPR_SAD ? 6 * c : -c, 1e-9);
    assert_true(it >= 2 && it <= ET_LISTENER_CALIB_MAX_ITER);
}

/* Any one example: the stationary condition softmax(z + b) - onehot(y) +
 * lambda b = 0 holds at the fit, so b = (onehot(y) - p) / lambda: only the
 * label's bias is positive, and the biases sum to 0. */
static void one_example_meets_the_stationary_condition(void **state)
{
    (void)state;
    double z[1][K] = {{log(0.6), log(0.05), log(0.1), log(0.05), log(0.1), log(0.05),
                       log(0.05)}};
    int y[1] = {ET_EXPR_ANGRY};
    double b[K], p[K];
    fit_ok((const double(*)[K])z, y, 1, LAMBDA, b, NULL);
    assert_true(gradient_norm((const double(*)[K])z, y, 1, LAMBDA, b) < 1e-9);
    softmax_of(z[0], b, p);
    double sum = 0;
    for (int k = 0; k < K; k++) {
        assert_float_equal(b[k], ((k == ET_EXPR_ANGRY) - p[k]) / LAMBDA, 1e-9);
        assert_true(k == ET_EXPR_ANGRY ? b[k] > 0 : b[k] < 0);
        sum += b[k];
    }
    assert_float_equal(sum, 0, 1e-12);
}

/* Two classes given alike (a uniform reading, one example each) get the
 * same bias, and the five others share another, lower one. */
static void symmetric_examples_get_symmetric_biases(void **state)
{
    (void)state;
    double z[2][K] = {{0}};
    int y[2] = {ET_EXPR_HAPPY, ET_EXPR_SURPRISED};
    double b[K];
    fit_ok((const double(*)[K])z, y, 2, LAMBDA, b, NULL);
    assert_float_equal(b[ET_EXPR_HAPPY], b[ET_EXPR_SURPRISED], 1e-12);
    for (int k = 0; k < K; k++)
        if (k != ET_EXPR_HAPPY && k != ET_EXPR_SURPRISED) {
            assert_float_equal(b[k], b[ET_EXPR_NEUTRAL], 1e-12);
            assert_true(b[k] < b[ET_EXPR_HAPPY]);
        }
}

/* Relabelling the classes relabels the biases. */
static void permuting_the_classes_permutes_the_biases(void **state)
{
    (void)state;
    srand(ts_seed("calibration permutation", 20261204));
    enum { N = 9 };
    double z[N][K], zp[N][K], b[K], bp[K];
    int y[N], yp[N];
    const int perm[K] = {3, 5, 0, 6, 1, 4, 2}; /* class k becomes perm[k] */
    for (int i = 0; i < N; i++) {
        double p[K], zero[K] = {0}, r[K];
        for (int k = 0; k < K; k++)
            r[k] = 3.0 * rand() / RAND_MAX;
        softmax_of(r, zero, p);
        for (int k = 0; k < K; k++)
            zp[i][perm[k]] = z[i][k] = log(p[k]);
        yp[i] = perm[y[i] = rand() % K];
    }
    fit_ok((const double(*)[K])z, y, N, LAMBDA, b, NULL);
    fit_ok((const double(*)[K])zp, yp, N, LAMBDA, bp, NULL);
    for (int k = 0; k < K; k++)
        assert_float_equal(bp[perm[k]], b[k], 1e-9);
    assert_true(gradient_norm((const double(*)[K])z, y, N, LAMBDA, b) < 1e-8);
}

/* A very large penalty leaves the reader as it is: b ~ -gradient(0) /
 * lambda, the first Newton step's own limit. */
static void a_large_penalty_keeps_the_population_reader(void **state)
{
    (void)state;
    double z[3][K] = {{0}, {log(0.9), log(0.1 / 6), log(0.1 / 6), log(0.1 / 6), log(0.1 / 6),
                            log(0.1 / 6), log(0.1 / 6)}, {0}};
    int y[3] = {ET_EXPR_SAD, ET_EXPR_SAD, ET_EXPR_FEARFUL};
    double b[K], g0[K] = {0}, zero[K] = {0};
    const double lambda = 1e6;
    fit_ok((const double(*)[K])z, y, 3, lambda, b, NULL);
    for (int i = 0; i < 3; i++) {
        double p[K];
        softmax_of(z[i], zero, p);
        for (int k = 0; k < K; k++)
            g0[k] += p[k] - (y[i] == k);
    }
    for (int k = 0; k < K; k++) {
        assert_true(fabs(b[k]) < 3e-6);
        assert_float_equal(b[k], -g0[k] / lambda, 1e-11);
    }
}

/* Many examples of a class move a reading further towards it than few,
 * and every fit is a stationary point reached within the iteration cap. */
static void more_examples_move_the_reading_further(void **state)
{
    (void)state;
    double z[20][K];
    int y[20];
    for (int i = 0; i < 20; i++) { /* a reader sure of neutral; the listener says sad */
        for (int k = 0; k < K; k++)
            z[i][k] = log(k == ET_EXPR_NEUTRAL ? 0.7 : 0.05);
        y[i] = ET_EXPR_SAD;
    }
    double last = 0;
    const size_t counts[] = {1, 3, 5, 20};
    for (size_t c = 0; c < 4; c++) {
        double b[K];
        int it = 0;
        fit_ok((const double(*)[K])z, y, counts[c], LAMBDA, b, &it);
        assert_true(it <= ET_LISTENER_CALIB_MAX_ITER);
        assert_true(gradient_norm((const double(*)[K])z, y, counts[c], LAMBDA, b) < 1e-8);
        float p[K];
        for (int k = 0; k < K; k++)
            p[k] = k == ET_EXPR_NEUTRAL ? 0.7f : 0.05f;
        et_listener_calib_apply(b, p);
        assert_true(p[ET_EXPR_SAD] > last);
        last = p[ET_EXPR_SAD];
    }
    /* 20 examples: past neutral; one: held towards the reader */
    assert_true(last > 0.35);
}

static void bad_input_to_the_solver_is_refused(void **state)
{
    (void)state;
    double z[1][K] = {{0}}, b[K];
    int y[1] = {7};
    char err[ET_ERR_MAX];
    assert_int_equal(et_listener_calib_fit((const double(*)[K])z, y, 1, LAMBDA, b, NULL, err),
                     ET_E_INVALID);
    y[0] = 0;
    assert_int_equal(et_listener_calib_fit((const double(*)[K])z, y, 1, 0, b, NULL, err),
                     ET_E_INVALID);
    z[0][3] = NAN;
    assert_int_equal(et_listener_calib_fit((const double(*)[K])z, y, 1, LAMBDA, b, NULL, err),
                     ET_E_INVALID);
}

/* softmax(log p + b): b = 0 and any constant b keep the reading; the result
 * sums to 1; a probability 0 counts as the floor. */
static void applying_a_bias_is_a_shifted_softmax(void **state)
{
    (void)state;
    const float p0[K] = {0.5f, 0.2f, 0.1f, 0.1f, 0.05f, 0.05f, 0.0f};
    const double zero[K] = {0}, same[K] = {3, 3, 3, 3, 3, 3, 3},
                 b[K] = {0, 0, 1, 0, 0, 0, -1};
    float p[K];
    for (int pass = 0; pass < 2; pass++) {
        memcpy(p, p0, sizeof p);
        et_listener_calib_apply(pass ? same : zero, p);
        for (int k = 0; k < K; k++)
            assert_float_equal(p[k], p0[k] > 0 ? p0[k] : 1e-7, 1e-6);
    }
    memcpy(p, p0, sizeof p);
    et_listener_calib_apply(b, p);
    double sum = 0, e = exp(1), norm = 0.5 + 0.2 + 0.1 * e + 0.1 + 0.05 + 0.05 + 1e-7 / e;
    for (int k = 0; k < K; k++)
        sum += p[k];
    assert_float_equal(sum, 1, 1e-6);
    assert_float_equal(p[ET_EXPR_SAD], 0.1 * e / norm, 1e-6);
    assert_float_equal(p[ET_EXPR_NEUTRAL], 0.5 / norm, 1e-6);

    et_face f = {.model = ET_EXPR_MODEL_FACEAPI, .top = ET_EXPR_NEUTRAL};
    memcpy(f.expressions, p0, sizeof p0);
    et_listener_calibration cal = {.in_use = false};
    cal.bias[ET_EXPR_MODEL_FACEAPI][ET_EXPR_SAD] = 5;
    assert_false(et_listener_calib_apply_face(&cal, &f)); /* not in use: untouched */
    assert_true(f.top == ET_EXPR_NEUTRAL && f.expressions[0] == p0[0]);
    cal.in_use = true;
    assert_true(et_listener_calib_apply_face(&cal, &f));
    assert_int_equal(f.top, ET_EXPR_SAD);
    assert_false(f.smiling);
}

/* ---- the store ---- */

/* An example: features that vary with `seed`, face-api's reading leaning
 * towards `lean`. */
static et_listener_calib_example example(et_expression e, et_expression lean, int seed)
{
    et_listener_calib_example ex = {.expression = e, .time = 1764800000.0 + seed};
    for (int j = 0; j < ET_VISION_HEAD_INPUTS; j++)
        ex.x[j] = (float)(0.01 * ((j * 7 + seed * 13) % 97)) + 0.125f;
    for (int k = 0; k < K; k++)
        ex.faceapi[k] = k == (int)lean ? 0.7f : 0.05f;
    return ex;
}

static void add_ok(et_store *s, const char *name, const et_listener_calib_example *ex,
                   et_listener_calibration *cal)
{
    char err[ET_ERR_MAX];
    if (et_listener_calib_add(s, name, ex, cal, err) != ET_OK)
        fail_msg("add: %s", err);
}

static void examples_are_kept_as_given_and_counted(void **state)
{
    ts_store_fixture *f = *state;
    et_listener_calibration cal, got;
    et_listener_calib_example a = example(ET_EXPR_SAD, ET_EXPR_NEUTRAL, 1),
                              b = example(ET_EXPR_HAPPY, ET_EXPR_HAPPY, 2);
    char err[ET_ERR_MAX];
    assert_int_equal(et_listener_calib_get(f->s, "ann", &got, err), ET_OK);
    assert_false(got.in_use);
    assert_int_equal(got.total, 0);
    add_ok(f->s, "ann", &a, &cal);
    add_ok(f->s, "ann", &b, &cal);
    assert_int_equal(cal.total, 2);
    assert_int_equal(cal.counts[ET_EXPR_SAD], 1);
    assert_int_equal(cal.counts[ET_EXPR_HAPPY], 1);
    assert_true(cal.in_use);
    assert_int_equal(et_listener_calib_get(f->s, "ann", &got, err), ET_OK);
    assert_memory_equal(got.counts, cal.counts, sizeof cal.counts);
    assert_true(got.in_use);
    for (int m = 0; m < ET_EXPR_MODEL_COUNT; m++)
        for (int k = 0; k < K; k++)
            assert_float_equal(got.bias[m][k], cal.bias[m][k], 1e-12);
    /* face-api's bias: towards sad, the label its reading missed */
    assert_true(cal.bias[ET_EXPR_MODEL_FACEAPI][ET_EXPR_SAD] > 0);
    assert_true(cal.bias[ET_EXPR_MODEL_FACEAPI][ET_EXPR_NEUTRAL] < 0);
    /* the stored examples: every float as given (features, never pictures) */
    et_listener_calib_example *ex;
    size_t n;
    assert_int_equal(et_listener_calib_examples(f->s, "ann", &ex, &n, err), ET_OK);
    assert_int_equal(n, 2);
    assert_int_equal(ex[0].expression, ET_EXPR_SAD);
    assert_memory_equal(ex[0].x, a.x, sizeof a.x);
    assert_memory_equal(ex[1].faceapi, b.faceapi, sizeof b.faceapi);
    assert_float_equal(ex[1].time, b.time, 1e-3);
    free(ex);
    /* another listener has none */
    assert_int_equal(et_listener_calib_get(f->s, "bob", &got, err), ET_OK);
    assert_false(got.in_use);
}

/* The stored fit is the solver's on the stored examples, for both readers
 * (emotune-1's on its head's reading of the stored x). */
static void the_stored_fit_is_the_fit_of_the_stored_examples(void **state)
{
    ts_store_fixture *f = *state;
    et_listener_calibration cal;
    for (int i = 0; i < 4; i++) {
        et_listener_calib_example ex = example(i % 2 ? ET_EXPR_ANGRY : ET_EXPR_SAD,
                                               ET_EXPR_NEUTRAL, i);
        add_ok(f->s, "ann", &ex, &cal);
    }
    char err[ET_ERR_MAX];
    size_t len;
    const char *text = et_vision_head_builtin(&len);
    et_vision_head *head;
    assert_int_equal(et_vision_head_parse(text, len, &head, err), ET_OK);
    et_listener_calib_example *ex;
    size_t n;
    assert_int_equal(et_listener_calib_examples(f->s, "ann", &ex, &n, err), ET_OK);
    assert_int_equal(n, 4);
    double z[2][4][K], b[K];
    int y[4];
    for (size_t i = 0; i < n; i++) {
        float p[K];
        et_listener_calib_logits(ex[i].faceapi, z[0][i]);
        et_vision_head_read(head, ex[i].x, p);
        et_listener_calib_logits(p, z[1][i]);
        y[i] = (int)ex[i].expression;
    }
    for (int m = 0; m < 2; m++) {
        fit_ok((const double(*)[K])z[m], y, n, LAMBDA, b, NULL);
        for (int k = 0; k < K; k++)
            assert_float_equal(cal.bias[m][k], b[k], 1e-9);
    }
    assert_true(fabs(cal.bias[0][ET_EXPR_SAD] - cal.bias[1][ET_EXPR_SAD]) > 1e-6);
    free(ex);
    et_vision_head_free(head);
}

static void one_example_beyond_the_bound_is_refused_and_changes_nothing(void **state)
{
    ts_store_fixture *f = *state;
    et_listener_calibration cal;
    for (int i = 0; i < ET_LISTENER_CALIB_MAX_PER_EXPR; i++) {
        et_listener_calib_example ex = example(ET_EXPR_SAD, ET_EXPR_NEUTRAL, i);
        add_ok(f->s, "ann", &ex, &cal);
    }
    char *before = ts_store_export(f->s), err[ET_ERR_MAX];
    et_listener_calib_example more = example(ET_EXPR_SAD, ET_EXPR_SAD, 99);
    assert_int_equal(et_listener_calib_add(f->s, "ann", &more, &cal, err), ET_E_INVALID);
    assert_non_null(strstr(err, "already has 20 examples of sad"));
    char *after = ts_store_export(f->s);
    assert_string_equal(before, after);
    free(after);
    /* another expression still has room */
    more.expression = ET_EXPR_HAPPY;
    add_ok(f->s, "ann", &more, &cal);
    assert_int_equal(cal.total, ET_LISTENER_CALIB_MAX_PER_EXPR + 1);
    free(before);
}

static void bad_examples_are_refused_and_change_nothing(void **state)
{
    ts_store_fixture *f = *state;
    et_listener_calibration cal;
    et_listener_calib_example good = example(ET_EXPR_SAD, ET_EXPR_NEUTRAL, 1);
    add_ok(f->s, "ann", &good, &cal);
    char *before = ts_store_export(f->s), err[ET_ERR_MAX];
    et_listener_calib_example bad[5];
    for (int i = 0; i < 5; i++)
        bad[i] = good;
    bad[0].x[17] = NAN;
    bad[1].faceapi[2] = 0.9f; /* sums to 1.65 */
    bad[2].expression = (et_expression)9;
    bad[3].time = 0;
    bad[4].faceapi[0] = -0.5f;
    for (int i = 0; i < 5; i++)
        assert_int_equal(et_listener_calib_add(f->s, "ann", &bad[i], &cal, err), ET_E_INVALID);
    assert_int_equal(et_listener_calib_add(f->s, "no/such", &good, &cal, err), ET_E_INVALID);
    assert_int_equal(et_listener_calib_forget(f->s, "ann", 7, NULL, &cal, err), ET_E_INVALID);
    char *after = ts_store_export(f->s);
    assert_string_equal(before, after);
    free(before);
    free(after);
    et_expression e;
    assert_int_equal(et_listener_calib_expression_parse("Surprised", &e, err), ET_OK);
    assert_int_equal(e, ET_EXPR_SURPRISED);
    assert_int_equal(et_listener_calib_expression_parse("smile", &e, err), ET_E_INVALID);
    assert_non_null(strstr(err, "unknown expression 'smile'"));
}

static void forgetting_one_expression_or_all_refits(void **state)
{
    ts_store_fixture *f = *state;
    et_listener_calibration cal;
    for (int i = 0; i < 3; i++) {
        et_listener_calib_example s = example(ET_EXPR_SAD, ET_EXPR_NEUTRAL, i),
                                  h = example(ET_EXPR_HAPPY, ET_EXPR_NEUTRAL, 10 + i);
        add_ok(f->s, "ann", &s, &cal);
        add_ok(f->s, "ann", &h, &cal);
    }
    char err[ET_ERR_MAX];
    unsigned removed = 99;
    assert_int_equal(et_listener_calib_forget(f->s, "ann", ET_EXPR_SAD, &removed, &cal, err),
                     ET_OK);
    assert_int_equal(removed, 3);
    assert_int_equal(cal.counts[ET_EXPR_SAD], 0);
    assert_int_equal(cal.counts[ET_EXPR_HAPPY], 3);
    assert_true(cal.bias[ET_EXPR_MODEL_FACEAPI][ET_EXPR_HAPPY] > 0);
    assert_true(cal.bias[ET_EXPR_MODEL_FACEAPI][ET_EXPR_SAD] < 0); /* no longer pulled up */
    et_listener_calibration got;
    assert_int_equal(et_listener_calib_get(f->s, "ann", &got, err), ET_OK);
    assert_int_equal(got.total, 3);
    assert_int_equal(et_listener_calib_forget(f->s, "ann", ET_EXPR_SAD, &removed, &cal, err),
                     ET_OK);
    assert_int_equal(removed, 0);
    assert_int_equal(et_listener_calib_forget(f->s, "ann", -1, &removed, &cal, err), ET_OK);
    assert_int_equal(removed, 3);
    assert_int_equal(et_listener_calib_get(f->s, "ann", &got, err), ET_OK);
    assert_false(got.in_use);
    for (int k = 0; k < K; k++)
        assert_true(got.bias[ET_EXPR_MODEL_FACEAPI][k] == 0);
    /* forgetting a listener who never calibrated is not an error */
    assert_int_equal(et_listener_calib_forget(f->s, "bob", -1, &removed, &cal, err), ET_OK);
    assert_int_equal(removed, 0);
}

/* Documents edited by hand: entries that are not examples are skipped; a
 * fit document that is not one reads as no calibration. */
static void hand_edited_documents_are_skipped_not_fatal(void **state)
{
    ts_store_fixture *f = *state;
    char err[ET_ERR_MAX];
    et_listener_calib_example good = example(ET_EXPR_SAD, ET_EXPR_NEUTRAL, 1);
    json_t *item = json_object();
    json_t *x = json_array();
    for (int j = 0; j < ET_VISION_HEAD_INPUTS; j++)
        json_array_append_new(x, json_real(good.x[j]));
    json_t *pa = json_array();
    for (int k = 0; k < K; k++)
        json_array_append_new(pa, json_real(good.faceapi[k]));
    json_object_set_new(item, "expression", json_string("sad"));
    json_object_set_new(item, "time_ms", json_integer(1764800000000));
    json_object_set_new(item, "x", x);
    json_object_set_new(item, "faceapi", pa);
    json_t *doc = json_pack("{s:i, s:[s, {s:s}, O, i]}", "rev", 4, "examples", "junk",
                            "expression", "sad", item, 3);
    json_decref(item);
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    assert_int_equal(et_store_put(f->s, "profiles", "ann/calibration", text, strlen(text), err),
                     ET_OK);
    free(text);
    const char *junk_fit = "{\"rev\": 3, \"counts\": {\"sad\": 1e9}, \"bias\": []}";
    assert_int_equal(et_store_put(f->s, "profiles", "ann/calibration_fit", junk_fit,
                                  strlen(junk_fit), err),
                     ET_OK);
    et_listener_calibration got;
    assert_int_equal(et_listener_calib_get(f->s, "ann", &got, err), ET_OK);
    assert_false(got.in_use);
    et_listener_calib_example *ex;
    size_t n;
    assert_int_equal(et_listener_calib_examples(f->s, "ann", &ex, &n, err), ET_OK);
    assert_int_equal(n, 1);
    free(ex);
    /* the next change starts from the valid example, revision 5 */
    et_listener_calibration cal;
    add_ok(f->s, "ann", &good, &cal);
    assert_int_equal(cal.total, 2);
    assert_int_equal(cal.rev, 5);
    assert_int_equal(et_listener_calib_get(f->s, "ann", &got, err), ET_OK);
    assert_int_equal(got.counts[ET_EXPR_SAD], 2);
}

/* ---- concurrent writers ---- */

typedef struct writer {
    const char *uri;
    int id;
    et_status st;
    char err[ET_ERR_MAX];
} writer;

enum { WRITERS = 4, PER_WRITER = 5 };

static void *write_examples(void *arg)
{
    writer *w = arg;
    et_store *s = NULL;
    w->st = et_store_open(w->uri, NULL, &s, w->err);
    for (int i = 0; w->st == ET_OK && i < PER_WRITER; i++) {
        et_listener_calib_example ex = example(ET_EXPR_SAD, ET_EXPR_NEUTRAL, w->id * 100 + i);
        w->st = et_listener_calib_add(s, "ann", &ex, NULL, w->err);
    }
    if (s)
        et_store_close(s);
    return NULL;
}

/* Four handles (as four servers) add five examples each of one expression
 * at once: all twenty are kept, and the fit read is that of all twenty;
 * the twenty-first is refused. */
static void concurrent_writers_lose_nothing(void **state)
{
    ts_store_fixture *f = *state;
    pthread_t t[WRITERS];
    writer w[WRITERS];
    for (int i = 0; i < WRITERS; i++) {
        w[i] = (writer){.uri = f->b->uri, .id = i};
        assert_int_equal(pthread_create(&t[i], NULL, write_examples, &w[i]), 0);
    }
    for (int i = 0; i < WRITERS; i++) {
        pthread_join(t[i], NULL);
        if (w[i].st != ET_OK)
            fail_msg("writer %d: %s", i, w[i].err);
    }
    char err[ET_ERR_MAX];
    et_listener_calibration got;
    assert_int_equal(et_listener_calib_get(f->s, "ann", &got, err), ET_OK);
    assert_int_equal(got.counts[ET_EXPR_SAD], WRITERS * PER_WRITER);
    assert_int_equal(got.rev, WRITERS * PER_WRITER);
    et_listener_calib_example *ex;
    size_t n;
    assert_int_equal(et_listener_calib_examples(f->s, "ann", &ex, &n, err), ET_OK);
    assert_int_equal(n, WRITERS * PER_WRITER);
    free(ex);
    et_listener_calib_example more = example(ET_EXPR_SAD, ET_EXPR_SAD, 7);
    assert_int_equal(et_listener_calib_add(f->s, "ann", &more, NULL, err), ET_E_INVALID);
}

#define T(f) cmocka_unit_test_setup_teardown(f, ts_store_open_fresh, ts_store_close)
#define STORE_TESTS \
    T(examples_are_kept_as_given_and_counted), \
    T(the_stored_fit_is_the_fit_of_the_stored_examples), \
    T(one_example_beyond_the_bound_is_refused_and_changes_nothing), \
    T(bad_examples_are_refused_and_change_nothing), \
    T(forgetting_one_expression_or_all_refits), \
    T(hand_edited_documents_are_skipped_not_fatal), \
    T(concurrent_writers_lose_nothing),

int main(void)
{
    const struct CMUnitTest solver[] = {
        cmocka_unit_test(no_examples_give_no_bias),
        cmocka_unit_test(one_uniform_example_matches_the_closed_form),
        cmocka_unit_test(one_example_meets_the_stationary_condition),
        cmocka_unit_test(symmetric_examples_get_symmetric_biases),
        cmocka_unit_test(permuting_the_classes_permutes_the_biases),
        cmocka_unit_test(a_large_penalty_keeps_the_population_reader),
        cmocka_unit_test(more_examples_move_the_reading_further),
        cmocka_unit_test(bad_input_to_the_solver_is_refused),
        cmocka_unit_test(applying_a_bias_is_a_shifted_softmax),
    };
    const struct CMUnitTest on_lmdb[] = {STORE_TESTS};
    const struct CMUnitTest on_redis[] = {STORE_TESTS};
    int failed = cmocka_run_group_tests_name("calibration solver", solver, NULL, NULL);
    failed += cmocka_run_group_tests_name("calibration on lmdb", on_lmdb, ts_backend_lmdb_setup,
                                          ts_backend_teardown);
    failed += cmocka_run_group_tests_name("calibration on redis", on_redis,
                                          ts_backend_redis_setup, ts_backend_teardown);
    return failed;
}
