/* library: its stamp, bumped after every change to the tracks made here, so
 * that caches of the tracks, in any process sharing the store, know when
 * they are stale (library.h). */
#include "library/library.h"

#define STAMP_ID "stamp"

et_status et_library_stamp(et_store *s, uint64_t *stamp, char *err)
{
    return et_store_stamp_read(s, ET_LIBRARY_STATE, STAMP_ID, stamp, err);
}

et_status et_library_stamp_bump(et_store *s, uint64_t *stamp, char *err)
{
    return et_store_stamp_bump(s, ET_LIBRARY_STATE, STAMP_ID, stamp, err);
}
