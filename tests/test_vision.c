/* The vision module's own promises: options checked, face regions clipped as
 * face-api clips them, contexts reusable across input sizes, and several
 * contexts running at once on shared models giving the same answers. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/image.h"
#include "nn/nn.h"
#include "support.h"
#include "vision/vision.h"

#define MAX_FACES 32

static void options_out_of_range_are_refused(void **state)
{
    (void)state;
    char err[ET_ERR_MAX];
    et_detect_opts o = et_vision_default_opts();
    assert_int_equal(o.input_size, 416);
    assert_int_equal(et_vision_check_opts(&o, err), ET_OK);
    static const int bad_sizes[] = {0, 96, 100, 640, 415, -32};
    for (size_t i = 0; i < sizeof bad_sizes / sizeof *bad_sizes; i++) {
        o = et_vision_default_opts();
        o.input_size = bad_sizes[i];
        assert_int_equal(et_vision_check_opts(&o, err), ET_E_INVALID);
    }
    static const double bad_scores[] = {0, 1, -0.1, 1.5};
    for (size_t i = 0; i < sizeof bad_scores / sizeof *bad_scores; i++) {
        o = et_vision_default_opts();
        o.min_score = bad_scores[i];
        assert_int_equal(et_vision_check_opts(&o, err), ET_E_INVALID);
    }
    o = et_vision_default_opts();
    o.detection = ET_DETECTION_COUNT;
    assert_int_equal(et_vision_check_opts(&o, err), ET_E_INVALID);
    assert_non_null(strstr(err, "detection"));
    o = et_vision_default_opts();
    o.model = ET_EXPR_MODEL_COUNT;
    assert_int_equal(et_vision_check_opts(&o, err), ET_E_INVALID);
    o = et_vision_default_opts();
    o.input_size = 608;
    assert_int_equal(et_vision_check_opts(&o, err), ET_OK);
}

static void face_regions_are_clipped_and_floored_like_face_api(void **state)
{
    (void)state;
    /* Box.clipAtImageBorders then floor: x=-10.5 w=100 -> x 0, right 89.5 -> w 89. */
    et_image_rect r = et_vision_face_region((et_box){-10.5, 5.9, 100, 50.2}, 640, 480);
    assert_int_equal(r.x, 0);
    assert_int_equal(r.y, 5);
    assert_int_equal(r.width, 89);
    assert_int_equal(r.height, 50);
    /* past the right and bottom edges: width = 640 - 600.2 = 39.8 -> 39 */
    r = et_vision_face_region((et_box){600.2, 470, 100, 100}, 640, 480);
    assert_int_equal(r.x, 600);
    assert_int_equal(r.width, 39);
    assert_int_equal(r.height, 10);
    /* wholly outside: nothing to read */
    r = et_vision_face_region((et_box){700, 10, 50, 50}, 640, 480);
    assert_true(r.width <= 0 || r.height <= 0);
    assert_string_equal(et_vision_expression_name(ET_EXPR_SURPRISED), "surprised");
    assert_null(et_vision_expression_name(ET_EXPR_COUNT));
}

typedef struct shared {
    et_vision_models *models;
    et_image img;
} shared;

static int setup(void **state)
{
    shared *s = calloc(1, sizeof *s);
    char err[ET_ERR_MAX], path[512];
    snprintf(path, sizeof path, "%s/sample5.jpg", ts_demo_dir());
    if (et_vision_models_load(ts_models_dir(), &s->models, err) != ET_OK ||
        et_image_load(path, NULL, &s->img, err) != ET_OK) {
        fprintf(stderr, "setup: %s\n", err);
        return -1;
    }
    *state = s;
    return 0;
}

static int teardown(void **state)
{
    shared *s = *state;
    et_image_free(&s->img);
    et_vision_models_free(s->models);
    free(s);
    return 0;
}

static void one_context_serves_every_input_size(void **state)
{
    shared *s = *state;
    et_vision_ctx *ctx;
    char err[ET_ERR_MAX];
    assert_int_equal(et_vision_ctx_new(s->models, &ctx, err), ET_OK);
    et_face faces[MAX_FACES], again[MAX_FACES];
    size_t n, m;
    for (int size = 128; size <= 608; size += 160) {
        assert_int_equal(et_vision_find_faces(ctx, &s->img, size, 0.3, faces, MAX_FACES, &n, err),
                         ET_OK);
        assert_true(n < MAX_FACES);
    }
    /* back to 416: the same answer as a fresh context */
    assert_int_equal(et_vision_find_faces(ctx, &s->img, 416, 0.5, faces, MAX_FACES, &n, err),
                     ET_OK);
    et_vision_ctx *fresh;
    assert_int_equal(et_vision_ctx_new(s->models, &fresh, err), ET_OK);
    assert_int_equal(et_vision_find_faces(fresh, &s->img, 416, 0.5, again, MAX_FACES, &m, err),
                     ET_OK);
    assert_int_equal(n, m);
    assert_true(n >= 1);
    for (size_t i = 0; i < n; i++)
        assert_memory_equal(&faces[i].box, &again[i].box, sizeof faces[i].box);
    /* asking for fewer faces than there are: the count says how many exist */
    assert_int_equal(et_vision_find_faces(fresh, &s->img, 416, 0.5, again, 1, &m, err), ET_OK);
    assert_int_equal(m, n);
    et_vision_ctx_free(fresh);
    et_vision_ctx_free(ctx);
}

typedef struct job {
    shared *s;
    et_face faces[MAX_FACES];
    size_t n;
    et_status st;
} job;

static void *run_job(void *arg)
{
    job *j = arg;
    et_vision_ctx *ctx;
    char err[ET_ERR_MAX];
    j->st = et_vision_ctx_new(j->s->models, &ctx, err);
    et_detect_opts o = et_vision_default_opts();
    for (int r = 0; r < 3 && j->st == ET_OK; r++)
        j->st = et_vision_detect(ctx, &j->s->img, &o, j->faces, MAX_FACES, &j->n, err);
    et_vision_ctx_free(ctx);
    return NULL;
}

static void contexts_in_parallel_share_models_and_agree(void **state)
{
    shared *s = *state;
    job *jobs = calloc(3, sizeof *jobs);
    pthread_t t[2];
    for (int i = 0; i < 3; i++)
        jobs[i].s = s;
    run_job(&jobs[0]); /* alone first */
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, run_job, &jobs[i + 1]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 3; i++)
        assert_int_equal(jobs[i].st, ET_OK);
    assert_true(jobs[0].n >= 1);
    for (int i = 1; i < 3; i++) {
        assert_int_equal(jobs[i].n, jobs[0].n);
        for (size_t k = 0; k < jobs[0].n; k++) {
            assert_memory_equal(&jobs[i].faces[k].box, &jobs[0].faces[k].box, sizeof(et_box));
            assert_memory_equal(jobs[i].faces[k].expressions, jobs[0].faces[k].expressions,
                                sizeof jobs[0].faces[k].expressions);
        }
    }
    free(jobs);
}

/* |a - b| relative to 1 + |b|. */
static double rel_diff(double a, double b) { return fabs(a - b) / (1.0 + fabs(b)); }

/* Detects on one image with each available kernel table and compares with
 * generic: nn.h bounds the tables' differences at 1e-5, and that must hold
 * through both whole networks (boxes, scores, probabilities). */
static void compare_tables_on(et_vision_ctx *ctx, const char *path)
{
    char err[ET_ERR_MAX];
    et_image img;
    assert_int_equal(et_image_load(path, NULL, &img, err), ET_OK);
    et_detect_opts o = et_vision_default_opts();
    et_face ref[MAX_FACES], got[MAX_FACES];
    size_t n_ref, n_got;
    et_vision_ctx_use_kernels(ctx, et_nn_kernels_for(ET_NN_ISA_GENERIC));
    assert_int_equal(et_vision_detect(ctx, &img, &o, ref, MAX_FACES, &n_ref, err), ET_OK);
    assert_true(n_ref >= 1);
    for (int isa = ET_NN_ISA_GENERIC + 1; isa < ET_NN_ISA_COUNT; isa++) {
        const et_nn_kernels *k = et_nn_kernels_for((et_nn_isa)isa);
        if (!k)
            continue;
        et_vision_ctx_use_kernels(ctx, k);
        assert_ptr_equal(et_vision_ctx_kernels(ctx), k);
        assert_int_equal(et_vision_detect(ctx, &img, &o, got, MAX_FACES, &n_got, err), ET_OK);
        if (n_got != n_ref)
            fail_msg("%s: %s finds %zu faces, generic %zu", path, et_nn_isa_name(k->isa), n_got,
                     n_ref);
        double worst = 0;
        for (size_t f = 0; f < n_ref; f++) {
            const double a[] = {got[f].box.x, got[f].box.y, got[f].box.width,
                                got[f].box.height, got[f].score};
            const double b[] = {ref[f].box.x, ref[f].box.y, ref[f].box.width,
                                ref[f].box.height, ref[f].score};
            for (int i = 0; i < 5; i++)
                worst = fmax(worst, rel_diff(a[i], b[i]));
            for (int e = 0; e < ET_EXPR_COUNT; e++)
                worst = fmax(worst, fabs((double)got[f].expressions[e] - ref[f].expressions[e]));
        }
        print_message("  %s: %s against generic, largest difference %.2g\n", path,
                      et_nn_isa_name(k->isa), worst);
        if (worst > 1e-5)
            fail_msg("%s: %s differs from generic by %g", path, et_nn_isa_name(k->isa), worst);
    }
    et_image_free(&img);
}

static void every_kernel_table_finds_the_same_faces(void **state)
{
    shared *s = *state;
    et_vision_ctx *ctx;
    char err[ET_ERR_MAX], path[512];
    assert_int_equal(et_vision_ctx_new(s->models, &ctx, err), ET_OK);
    for (int i = 1; i <= 6; i++) {
        snprintf(path, sizeof path, "%s/sample%d.jpg", ts_demo_dir(), i);
        compare_tables_on(ctx, path);
    }
    et_vision_ctx_free(ctx);
}

/* A context runs what EMOTUNE_CPU names, and refuses to start on a table
 * this CPU cannot run rather than die of an illegal instruction later. */
static void contexts_follow_emotune_cpu(void **state)
{
    shared *s = *state;
    char err[ET_ERR_MAX];
    const char *saved = getenv(ET_NN_CPU_ENV);
    char *keep = saved ? strdup(saved) : NULL;
    for (int isa = 0; isa < ET_NN_ISA_COUNT; isa++) {
        setenv(ET_NN_CPU_ENV, et_nn_isa_name((et_nn_isa)isa), 1);
        et_vision_ctx *ctx = NULL;
        et_status st = et_vision_ctx_new(s->models, &ctx, err);
        if (et_nn_isa_available((et_nn_isa)isa)) {
            assert_int_equal(st, ET_OK);
            assert_int_equal(et_vision_ctx_kernels(ctx)->isa, isa);
        } else {
            assert_int_equal(st, ET_E_UNSUPPORTED);
            assert_null(ctx);
        }
        et_vision_ctx_free(ctx);
    }
    if (keep)
        setenv(ET_NN_CPU_ENV, keep, 1);
    else
        unsetenv(ET_NN_CPU_ENV);
    free(keep);
}

int main(void)
{
    et_nn_set_blas_threads(1);
    const struct CMUnitTest plain[] = {
        cmocka_unit_test(options_out_of_range_are_refused),
        cmocka_unit_test(face_regions_are_clipped_and_floored_like_face_api),
    };
    const struct CMUnitTest with_models[] = {
        cmocka_unit_test(one_context_serves_every_input_size),
        cmocka_unit_test(contexts_in_parallel_share_models_and_agree),
        cmocka_unit_test(every_kernel_table_finds_the_same_faces),
        cmocka_unit_test(contexts_follow_emotune_cpu),
    };
    int failed = cmocka_run_group_tests_name("vision", plain, NULL, NULL);
    return failed + cmocka_run_group_tests_name("vision with models", with_models, setup, teardown);
}
