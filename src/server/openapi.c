/* server: the OpenAPI 3 document of the API, served at /api/v1/openapi.json.
 * It is written in src/server/openapi.json; the build turns it into the C
 * string included here (build/gen/openapi_json.inc), with ET_VERSION for
 * "@ET_VERSION@". et_server_start checks that every route is in it;
 * tests/test_server.c checks that every path in it is answered. */
#include "server/server_internal.h"

const char et__openapi_json[] =
#include "openapi_json.inc"
    ;
