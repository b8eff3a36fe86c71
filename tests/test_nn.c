/* Tensor operations and the weight loader, on small cases worked out by hand. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn.h"
#include "support.h"

static void same_padding_matches_tensorflow(void **state)
{
    (void)state;
    /* TF: out = ceil(in/stride); total = max((out-1)*stride + k - in, 0). */
    et_nn_pad p = et_nn_same_padding(112, 3, 2); /* out 56: 55*2+3-112 = 1 */
    assert_int_equal(p.before, 0);
    assert_int_equal(p.after, 1);
    p = et_nn_same_padding(13, 2, 1); /* out 13: 12+2-13 = 1 */
    assert_int_equal(p.before, 0);
    assert_int_equal(p.after, 1);
    p = et_nn_same_padding(416, 2, 2); /* out 208: 207*2+2-416 = 0 */
    assert_int_equal(p.before + p.after, 0);
    p = et_nn_same_padding(7, 3, 1); /* total 2, split 1/1 */
    assert_int_equal(p.before, 1);
    assert_int_equal(p.after, 1);
    assert_int_equal(et_nn_out_size(112, 3, 2, et_nn_same_padding(112, 3, 2)), 56);
}

static void conv3x3_sums_neighbourhoods_with_zero_padding(void **state)
{
    (void)state;
    /* 3x3 single-channel image 1..9, all-ones filter, pad 1: each output is the
     * sum of the 3x3 neighbourhood, e.g. centre = 45, corner (0,0) = 1+2+4+5. */
    float in[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, filter[9], out[9];
    for (int i = 0; i < 9; i++)
        filter[i] = 1.0f;
    float bias = 0.5f;
    et_nn_pad one = {1, 1};
    et_nn_conv_geom g = et_nn_geom(3, 3, 1, one, one);
    et_nn_conv3x3(in, &g, 1, filter, &bias, 1, out);
    const float want[9] = {12, 21, 16, 27, 45, 33, 24, 39, 28};
    for (int i = 0; i < 9; i++)
        assert_float_equal(out[i], want[i] + 0.5f, 1e-5);
}

static void conv3x3_orders_filter_as_hwio(void **state)
{
    (void)state;
    /* 1x1 image with 2 channels (a=2, b=3), pad 1, 2 outputs. Only the centre
     * tap (ky=kx=1) sees the pixel: out[o] = a*F[1][1][0][o] + b*F[1][1][1][o].
     * HWIO index of (1,1,i,o) = ((1*3+1)*2 + i)*2 + o = 16 + 2i + o. */
    float in[2] = {2, 3}, filter[36] = {0}, out[2];
    filter[16] = 1;  /* i0 -> o0 */
    filter[17] = 10; /* i0 -> o1 */
    filter[18] = 100;  /* i1 -> o0 */
    filter[19] = 1000; /* i1 -> o1 */
    filter[0] = 7;     /* a corner tap: reads padding only */
    et_nn_pad one = {1, 1};
    et_nn_conv_geom g = et_nn_geom(1, 1, 1, one, one);
    et_nn_conv3x3(in, &g, 2, filter, NULL, 2, out);
    assert_float_equal(out[0], 2 * 1 + 3 * 100, 1e-4);
    assert_float_equal(out[1], 2 * 10 + 3 * 1000, 1e-3);
}

static void conv3x3_stride2_same_pads_after(void **state)
{
    (void)state;
    /* 4x4 image of ones, stride 2, 'same' padding (0 before, 1 after):
     * output (0,0) covers rows/cols 0..2 -> 9 ones; (1,1) covers 2..4 where 4
     * is padding -> 4 ones; (0,1) -> 6; (1,0) -> 6. */
    float in[16], filter[9], out[4];
    for (int i = 0; i < 16; i++)
        in[i] = 1;
    for (int i = 0; i < 9; i++)
        filter[i] = 1;
    et_nn_pad p = et_nn_same_padding(4, 3, 2);
    et_nn_conv_geom g = et_nn_geom(4, 4, 2, p, p);
    assert_int_equal(g.oh, 2);
    et_nn_conv3x3(in, &g, 1, filter, NULL, 1, out);
    assert_float_equal(out[0], 9, 1e-6);
    assert_float_equal(out[1], 6, 1e-6);
    assert_float_equal(out[2], 6, 1e-6);
    assert_float_equal(out[3], 4, 1e-6);
}

/* The vectorised paths (16 channels at a time, 4 pixels at a time inside the
 * image) must give what the plain path gives one output channel at a time. */
static void conv3x3_wide_paths_equal_one_channel_at_a_time(void **state)
{
    (void)state;
    enum { H = 9, W = 11, CIN = 3, COUT = 32 };
    float in[H * W * CIN], filter[9 * CIN * COUT], bias[COUT];
    float one_filter[9 * CIN], wide[H * W * COUT], narrow[H * W];
    for (int i = 0; i < H * W * CIN; i++)
        in[i] = (float)((i * 37) % 23) / 7.0f - 1.5f;
    for (int i = 0; i < 9 * CIN * COUT; i++)
        filter[i] = (float)((i * 11) % 17) / 9.0f - 0.9f;
    for (int i = 0; i < COUT; i++)
        bias[i] = (float)i / 10.0f;
    for (int stride = 1; stride <= 2; stride++) {
        et_nn_pad py = et_nn_same_padding(H, 3, stride), px = et_nn_same_padding(W, 3, stride);
        et_nn_conv_geom g = et_nn_geom(H, W, stride, py, px);
        et_nn_conv3x3(in, &g, CIN, filter, bias, COUT, wide);
        for (int co = 0; co < COUT; co++) {
            for (int t = 0; t < 9 * CIN; t++)
                one_filter[t] = filter[t * COUT + co];
            et_nn_conv3x3(in, &g, CIN, one_filter, &bias[co], 1, narrow);
            for (int p = 0; p < g.oh * g.ow; p++)
                assert_float_equal(wide[p * COUT + co], narrow[p], 1e-5);
        }
    }
}

static void depthwise_keeps_channels_apart(void **state)
{
    (void)state;
    /* 2x2 image, 2 channels: channel 0 = 1,2,3,4; channel 1 = 10,20,30,40.
     * Filter for channel 0: only the centre tap = 1 (identity); channel 1:
     * only tap (ky=1,kx=2) = 1, i.e. out(y,x) = in(y,x+1), 0 past the edge. */
    float in[8] = {1, 10, 2, 20, 3, 30, 4, 40}, filter[18] = {0}, out[8];
    filter[(1 * 3 + 1) * 2 + 0] = 1;
    filter[(1 * 3 + 2) * 2 + 1] = 1;
    et_nn_pad one = {1, 1};
    et_nn_conv_geom g = et_nn_geom(2, 2, 1, one, one);
    et_nn_depthwise3x3(in, &g, 2, filter, out);
    const float want[8] = {1, 20, 2, 0, 3, 40, 4, 0};
    for (int i = 0; i < 8; i++)
        assert_float_equal(out[i], want[i], 1e-6);
}

static void depthwise_vector_width_does_not_matter(void **state)
{
    (void)state;
    /* 37 channels (not a multiple of any vector width): each channel c scaled
     * by its centre tap (c+1); result = in * (c+1). */
    enum { C = 37 };
    float in[3 * 3 * C], filter[9 * C] = {0}, out[3 * 3 * C];
    for (int i = 0; i < 9 * C; i++)
        in[i] = (float)(i % 11) - 5;
    for (int c = 0; c < C; c++)
        filter[4 * C + c] = (float)(c + 1);
    et_nn_pad one = {1, 1};
    et_nn_conv_geom g = et_nn_geom(3, 3, 1, one, one);
    et_nn_depthwise3x3(in, &g, C, filter, out);
    for (int i = 0; i < 9 * C; i++)
        assert_float_equal(out[i], in[i] * (float)(i % C + 1), 1e-5);
}

static void pointwise_is_a_matrix_product_plus_bias(void **state)
{
    (void)state;
    /* Two pixels [1,2] and [3,4] times W = [[1,2,3],[4,5,6]] plus [1,1,1]:
     * [9,12,15]+1 and [19,26,33]+1. */
    float in[4] = {1, 2, 3, 4}, w[6] = {1, 2, 3, 4, 5, 6}, b[3] = {1, 1, 1}, out[6];
    et_nn_pointwise(in, 2, 2, w, b, 3, out);
    const float want[6] = {10, 13, 16, 20, 27, 34};
    for (int i = 0; i < 6; i++)
        assert_float_equal(out[i], want[i], 1e-5);
    et_nn_pointwise(in, 2, 2, w, NULL, 3, out);
    assert_float_equal(out[0], 9, 1e-5);
}

static void maxpool_stride1_same_ignores_padding(void **state)
{
    (void)state;
    /* 2x2, one channel, all negative: padding must not win with a 0. */
    float in[4] = {-4, -3, -2, -1}, out[4];
    et_nn_maxpool2x2(in, 2, 2, 1, 1, out);
    /* (0,0): max(-4,-3,-2,-1) = -1; (0,1): max(-3,-1) = -1; (1,0): max(-2,-1);
     * (1,1): -1 alone. */
    for (int i = 0; i < 4; i++)
        assert_float_equal(out[i], -1, 0);
    float in2[16] = {1, 5, 2, 0, 3, 4, 8, 1, 0, 0, 1, 1, 9, 0, 1, 7}, out2[4];
    et_nn_maxpool2x2(in2, 4, 4, 1, 2, out2);
    assert_float_equal(out2[0], 5, 0);
    assert_float_equal(out2[1], 8, 0);
    assert_float_equal(out2[2], 9, 0);
    assert_float_equal(out2[3], 7, 0);
}

static void activations_and_softmax(void **state)
{
    (void)state;
    float x[4] = {-10, -0.5f, 0, 5};
    et_nn_leaky(x, 4);
    assert_float_equal(x[0], -1, 1e-6);
    assert_float_equal(x[1], -0.05, 1e-7);
    assert_float_equal(x[2], 0, 0);
    assert_float_equal(x[3], 5, 1e-6);
    float r[3] = {-1, 0, 2};
    et_nn_relu(r, 3);
    assert_float_equal(r[0], 0, 0);
    assert_float_equal(r[2], 2, 0);
    /* softmax(0, ln 2, ln 3) = (1, 2, 3) / 6; shifted by 10. */
    float s[3] = {10, 10 + logf(2), 10 + logf(3)};
    et_nn_softmax(s, 3);
    assert_float_equal(s[0], 1.0 / 6, 1e-6);
    assert_float_equal(s[1], 2.0 / 6, 1e-6);
    assert_float_equal(s[2], 3.0 / 6, 1e-6);
    float avg_in[8] = {1, 10, 2, 20, 3, 30, 6, 40}, avg[2];
    et_nn_global_avgpool(avg_in, 2, 2, 2, avg);
    assert_float_equal(avg[0], 3, 1e-6);
    assert_float_equal(avg[1], 25, 1e-6);
    float d_in[2] = {1, 2}, d_w[4] = {1, 2, 3, 4}, d_b[2] = {0.5f, -0.5f}, d_out[2];
    et_nn_dense(d_in, 2, d_w, d_b, 2, d_out);
    assert_float_equal(d_out[0], 7.5, 1e-6);
    assert_float_equal(d_out[1], 9.5, 1e-6);
}

/* ---- weights ---- */

static const char manifest_ok[] =
    "[{\"paths\":[\"x.bin\"],\"weights\":["
    "{\"name\":\"a\",\"shape\":[2],\"dtype\":\"float32\","
    "\"quantization\":{\"dtype\":\"uint8\",\"scale\":0.5,\"min\":-1}},"
    "{\"name\":\"b\",\"shape\":[1,1],\"dtype\":\"float32\"}]}]";

static void weights_dequantise_uint8_and_read_float32(void **state)
{
    (void)state;
    uint8_t bin[6] = {0, 255};
    float f = 3.25f;
    memcpy(bin + 2, &f, 4);
    et_nn_weights *w;
    char err[ET_ERR_MAX];
    assert_int_equal(et_nn_weights_parse("t", manifest_ok, strlen(manifest_ok), bin, 6, &w, err),
                     ET_OK);
    assert_int_equal(et_nn_weights_count(w), 2);
    const et_nn_tensor *a;
    assert_int_equal(et_nn_weights_expect(w, "a", 1, (int[]){2}, &a, err), ET_OK);
    assert_float_equal(a->data[0], -1.0, 0);        /* 0 * 0.5 - 1 */
    assert_float_equal(a->data[1], 126.5, 0);       /* 255 * 0.5 - 1 */
    const et_nn_tensor *b;
    assert_int_equal(et_nn_weights_expect(w, "b", 2, (int[]){1, 1}, &b, err), ET_OK);
    assert_float_equal(b->data[0], 3.25, 0);
    assert_int_equal(et_nn_weights_expect(w, "b", 1, (int[]){1}, &b, err), ET_E_MODEL);
    assert_non_null(strstr(err, "shape [1,1], expected [1]"));
    assert_int_equal(et_nn_weights_expect(w, "zz", 1, (int[]){1}, &b, err), ET_E_MODEL);
    assert_non_null(strstr(err, "zz is missing"));
    et_nn_weights_free(w);
}

static void weights_refuse_sizes_that_do_not_add_up(void **state)
{
    (void)state;
    uint8_t bin[8] = {0};
    et_nn_weights *w = (void *)1;
    char err[ET_ERR_MAX];
    /* one byte short: tensor b would read past the end */
    assert_int_equal(et_nn_weights_parse("t", manifest_ok, strlen(manifest_ok), bin, 5, &w, err),
                     ET_E_MODEL);
    assert_null(w);
    assert_non_null(strstr(err, "tensor b needs 4 bytes"));
    /* two bytes too many */
    assert_int_equal(et_nn_weights_parse("t", manifest_ok, strlen(manifest_ok), bin, 8, &w, err),
                     ET_E_MODEL);
    assert_non_null(strstr(err, "the tensors take 6 bytes but the weight data has 8"));
}

static void weights_refuse_bad_manifests(void **state)
{
    (void)state;
    static const char *bad[] = {
        "", "{}", "[{\"weights\":3}]", "[{\"paths\":[],\"weights\":[{\"name\":\"a\"}]}]",
        "[{\"paths\":[],\"weights\":[{\"name\":\"a\",\"shape\":[0],\"dtype\":\"float32\"}]}]",
        "[{\"paths\":[],\"weights\":[{\"name\":\"a\",\"shape\":[-3],\"dtype\":\"float32\"}]}]",
        "[{\"paths\":[],\"weights\":[{\"name\":\"a\",\"shape\":[1],\"dtype\":\"int32\"}]}]",
        "[{\"paths\":[],\"weights\":[{\"name\":\"a\",\"shape\":[1048576,1048576],\"dtype\":\"float32\"}]}]",
        "[{\"paths\":[],\"weights\":[{\"name\":\"a\",\"shape\":[1],\"dtype\":\"float32\","
        "\"quantization\":{\"dtype\":\"uint4\",\"scale\":1,\"min\":0}}]}]",
        "[{\"paths\":[],\"weights\":[{\"name\":\"a\",\"shape\":[1,1,1,1,1],\"dtype\":\"float32\"}]}]",
    };
    uint8_t bin[4] = {0};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        et_nn_weights *w = (void *)1;
        char err[ET_ERR_MAX] = "";
        assert_int_equal(et_nn_weights_parse("m", bad[i], strlen(bad[i]), bin, 4, &w, err),
                         ET_E_MODEL);
        assert_null(w);
        assert_true(strlen(err) > 3);
    }
}

static void copy_file(const char *from, const char *to, long truncate_at)
{
    uint8_t *d;
    size_t n;
    assert_int_equal(et_read_file(from, 1 << 26, &d, &n, NULL), ET_OK);
    ts_write_file(to, d, truncate_at >= 0 && (size_t)truncate_at < n ? (size_t)truncate_at : n);
    free(d);
}

static void model_loader_names_the_missing_or_corrupt_file(void **state)
{
    (void)state;
    const char *m = ts_models_dir();
    char src[1024], dst[1024];
    snprintf(src, sizeof src, "%s/tiny_face_detector_model-weights_manifest.json", m);
    FILE *probe = fopen(src, "rb");
    if (!probe)
        TS_SKIP("models not built in %s", m);
    fclose(probe);
    char *dir = ts_tempdir();
    char err[ET_ERR_MAX];
    et_nn_weights *w;
    snprintf(dst, sizeof dst, "%s/tiny_face_detector_model-weights_manifest.json", dir);
    copy_file(src, dst, -1);
    /* manifest present, .bin missing */
    assert_int_equal(et_nn_weights_load(dst, &w, err), ET_E_MODEL);
    assert_non_null(strstr(err, "tiny_face_detector_model.bin"));
    /* .bin truncated by 100 bytes */
    snprintf(src, sizeof src, "%s/tiny_face_detector_model.bin", m);
    char bin[1024];
    snprintf(bin, sizeof bin, "%s/tiny_face_detector_model.bin", dir);
    copy_file(src, bin, 193321 - 100);
    assert_int_equal(et_nn_weights_load(dst, &w, err), ET_E_MODEL);
    assert_non_null(strstr(err, "tiny_face_detector_model-weights_manifest.json"));
    /* the whole file loads: 19 tensors (face-api 1.7.15 manifest) */
    copy_file(src, bin, -1);
    assert_int_equal(et_nn_weights_load(dst, &w, err), ET_OK);
    assert_int_equal(et_nn_weights_count(w), 19);
    et_nn_weights_free(w);
    ts_rmtree(dir);
    free(dir);
}

int main(void)
{
    et_nn_set_blas_threads(1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(same_padding_matches_tensorflow),
        cmocka_unit_test(conv3x3_sums_neighbourhoods_with_zero_padding),
        cmocka_unit_test(conv3x3_orders_filter_as_hwio),
        cmocka_unit_test(conv3x3_stride2_same_pads_after),
        cmocka_unit_test(conv3x3_wide_paths_equal_one_channel_at_a_time),
        cmocka_unit_test(depthwise_keeps_channels_apart),
        cmocka_unit_test(depthwise_vector_width_does_not_matter),
        cmocka_unit_test(pointwise_is_a_matrix_product_plus_bias),
        cmocka_unit_test(maxpool_stride1_same_ignores_padding),
        cmocka_unit_test(activations_and_softmax),
        cmocka_unit_test(weights_dequantise_uint8_and_read_float32),
        cmocka_unit_test(weights_refuse_sizes_that_do_not_add_up),
        cmocka_unit_test(weights_refuse_bad_manifests),
        cmocka_unit_test(model_loader_names_the_missing_or_corrupt_file),
    };
    return cmocka_run_group_tests_name("nn", tests, NULL, NULL);
}
