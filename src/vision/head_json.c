/* The weights of emotune-1 (models/emotune-expressions-1.json), compiled in:
 * the build checks the file against its .sha256 and turns it into the C
 * string included here (Makefile, build/gen/expr_head_json.inc). */
#include "vision/vision_internal.h"

const char et__expr_head_json[] =
#include "expr_head_json.inc"
    ;
const size_t et__expr_head_json_len = sizeof et__expr_head_json - 1;

const char *et_vision_head_builtin(size_t *len)
{
    *len = et__expr_head_json_len;
    return et__expr_head_json;
}
