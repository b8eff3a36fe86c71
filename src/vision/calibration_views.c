/* vision: what a listener's calibration keeps of a picture of their face --
 * features, never pixels (listener.h, "calibration"). */
#include <string.h>

#include "vision/vision.h"

/* Faces looked at: the largest of them is the listener. */
#define CALIB_MAX_FACES 64

et_status et_vision_calibration_example(et_vision_ctx *ctx, const et_image *img,
                                        float x[ET_VISION_HEAD_INPUTS],
                                        float faceapi[ET_EXPR_COUNT], et_box *box, bool *found,
                                        char *err)
{
    if (!ctx || !img || !x || !faceapi || !found)
        return et_fail(err, ET_E_INVALID, "et_vision_calibration_example: NULL argument");
    *found = false;
    et_detect_opts o = et_vision_default_opts();
    o.model = ET_EXPR_MODEL_EMOTUNE; /* the second pass finds faces filling the picture */
    et_face faces[CALIB_MAX_FACES]; /* sorted largest first (of the best-scoring) */
    size_t n = 0;
    et_status st = et_vision_detect(ctx, img, &o, faces, CALIB_MAX_FACES, &n, err);
    if (st != ET_OK || n == 0)
        return st;
    const et_face face = faces[0];
    et_image_rect region = et_vision_face_region(face.box, img->width, img->height);
    if (region.width <= 0 || region.height <= 0)
        return ET_OK;
    float features[2][ET_VISION_EXPR_FEATURES], probs[2][ET_EXPR_COUNT];
    st = et_vision_expression_views(ctx, img, region, features, probs, err);
    if (st != ET_OK)
        return st;
    et_vision_head_inputs((const float(*)[ET_VISION_EXPR_FEATURES])features,
                          (const float(*)[ET_EXPR_COUNT])probs, x);
    memcpy(faceapi, probs[0], sizeof probs[0]);
    if (box)
        *box = face.box;
    *found = true;
    return ET_OK;
}
