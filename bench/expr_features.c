/* Writes, for every labelled face of a folder (labels.csv: image,expression;
 * pictures in images/), one tab-separated line: the label, the file name,
 * face-api's seven probabilities and the expression net's 256 inner features
 * (vision.h et_vision_expression_views), then the same two for the
 * face mirrored left-right as emotune-1 mirrors it at run time (the
 * net's input tensor flipped: vision.h et_vision_expression_views), so the
 * features a head is fitted on are the ones it reads. Each picture is used
 * whole, as one face (`emotune detect --face-crop`). The input of
 * tools/expr_cv.py and tools/train_expr.py.
 *
 * usage: expr_features [--models DIR] FACES_DIR OUT.tsv */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/image.h"
#include "nn/nn.h"
#include "vision/vision.h"

#define LINE_MAX_LEN 1024

/* The face-api probabilities and features of one view. */
static void write_view(const float probs[ET_EXPR_COUNT],
                       const float feats[ET_VISION_EXPR_FEATURES], FILE *out)
{
    for (int i = 0; i < ET_EXPR_COUNT; i++)
        fprintf(out, "\t%.9g", probs[i]);
    for (int i = 0; i < ET_VISION_EXPR_FEATURES; i++)
        fprintf(out, "\t%.9g", feats[i]);
}

static void write_header(FILE *out)
{
    fputs("label\tfile", out);
    const char *views[] = {"", "m_"};
    for (int v = 0; v < 2; v++) {
        for (int i = 0; i < ET_EXPR_COUNT; i++)
            fprintf(out, "\t%sp_%s", views[v], et_vision_expression_name((et_expression)i));
        for (int i = 0; i < ET_VISION_EXPR_FEATURES; i++)
            fprintf(out, "\t%sf%d", views[v], i);
    }
    fputc('\n', out);
}

/* One face: both views on one line. */
static et_status write_face(et_vision_ctx *ctx, const char *dir, const char *file,
                            const char *label, FILE *out, char *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/images/%s", dir, file);
    et_image img = {0};
    float feats[2][ET_VISION_EXPR_FEATURES], probs[2][ET_EXPR_COUNT];
    et_status s = et_image_load(path, NULL, &img, err);
    if (s == ET_OK) {
        et_image_rect all = {0, 0, img.width, img.height};
        s = et_vision_expression_views(ctx, &img, all, feats, probs, err);
    }
    if (s == ET_OK) {
        fprintf(out, "%s\t%s", label, file);
        for (int v = 0; v < 2; v++)
            write_view(probs[v], feats[v], out);
        fputc('\n', out);
    }
    et_image_free(&img);
    return s;
}

static int run(et_vision_ctx *ctx, const char *dir, FILE *labels, FILE *out)
{
    char line[LINE_MAX_LEN], err[ET_ERR_MAX];
    int faces = 0, failed = 0;
    write_header(out);
    if (!fgets(line, sizeof line, labels)) /* header: image,expression */
        return 1;
    while (fgets(line, sizeof line, labels)) {
        line[strcspn(line, "\r\n")] = '\0';
        char *comma = strchr(line, ',');
        if (!comma)
            continue;
        *comma = '\0';
        if (write_face(ctx, dir, line, comma + 1, out, err) != ET_OK) {
            fprintf(stderr, "expr_features: %s: %s\n", line, err);
            failed++;
        } else {
            faces++;
        }
    }
    fprintf(stderr, "expr_features: %d faces written, %d failed\n", faces, failed);
    return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
    et_nn_set_blas_threads(1); /* as every emotune program: same sums as `emotune detect` */
    const char *models = "build/models";
    int i = 1;
    if (argc > 2 && !strcmp(argv[1], "--models")) {
        models = argv[2];
        i = 3;
    }
    if (argc - i != 2) {
        fprintf(stderr, "usage: expr_features [--models DIR] FACES_DIR OUT.tsv\n");
        return 2;
    }
    const char *dir = argv[i];
    char path[4096], err[ET_ERR_MAX];
    snprintf(path, sizeof path, "%s/labels.csv", dir);
    FILE *labels = fopen(path, "r");
    if (!labels) {
        fprintf(stderr, "expr_features: cannot open %s\n", path);
        return 1;
    }
    FILE *out = fopen(argv[i + 1], "w");
    et_vision_models *m = NULL;
    et_vision_ctx *ctx = NULL;
    int rc = 1;
    if (!out)
        fprintf(stderr, "expr_features: cannot write %s\n", argv[i + 1]);
    else if (et_vision_models_load(models, &m, err) || et_vision_ctx_new(m, &ctx, err))
        fprintf(stderr, "expr_features: %s\n", err);
    else
        rc = run(ctx, dir, labels, out);
    if (out && fclose(out) != 0)
        rc = 1;
    fclose(labels);
    et_vision_ctx_free(ctx);
    et_vision_models_free(m);
    return rc;
}
