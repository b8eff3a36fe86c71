/* Fuzzes what the store checks on every write: the document validator
 * (yajl) and the collection and id checks. A document accepted here must
 * also parse with jansson, the library the rest of emotune reads it with. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[ET_ERR_MAX];
    if (et_store_check_doc(NULL, (const char *)data, size, err) == ET_OK) {
        json_t *v = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
        if (!v)
            abort(); /* the two parsers disagree */
        json_decref(v);
    }
    char name[300];
    size_t n = size < sizeof name - 1 ? size : sizeof name - 1;
    memcpy(name, data, n);
    name[n] = '\0';
    et_store_check_collection(name, err);
    et_store_check_id(name, err);
    return 0;
}
