/* The vision module's own promises: options checked, face regions clipped as
 * face-api clips them, contexts reusable across input sizes, and several
 * contexts running at once on shared models giving the same answers. */
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
    };
    int failed = cmocka_run_group_tests_name("vision", plain, NULL, NULL);
    return failed + cmocka_run_group_tests_name("vision with models", with_models, setup, teardown);
}
