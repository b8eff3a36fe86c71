/* server: the library's tracks over HTTP -- the list (paged by id, filtered
 * by mood) and one track. A track is shown by id with its tags, mood, codec
 * and cover, and a link's URL; never a file's path (files are reached by
 * id, track_file.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "library/library.h"
#include "mood/mood.h"
#include "server/server_internal.h"

#define TRACKS_DEFAULT_LIMIT 50
#define TRACKS_MAX_LIMIT 500
/* A request examines at most this many stored tracks: a mood few tracks
 * have gives short (even empty) pages with a next cursor, never one request
 * that walks the whole library. */
#define TRACKS_MAX_EXAMINED 5000
/* Tracks read per call of et_store_iterate when some may be left out. */
#define TRACKS_CHUNK 256

json_t *et__track_doc(et_server *s, const et__call *c, et__reply *fail)
{
    char err[ET_ERR_MAX];
    if (et_store_check_id(c->name, err) != ET_OK) {
        *fail = et__error(400, ET_E_INVALID, "not a track id: %s", err);
        return NULL;
    }
    et_store *st = et__store(s, fail);
    if (!st)
        return NULL;
    char *text;
    size_t len;
    et_status rc = et_store_get(st, ET_LIBRARY_TRACKS, c->name, &text, &len, err);
    if (rc != ET_OK) {
        *fail = rc == ET_E_NOT_FOUND ? et__error(404, rc, "no track %s", c->name)
                                     : et__error(503, ET_E_UNAVAILABLE, "%s", err);
        return NULL;
    }
    json_t *doc = json_loadb(text, len, 0, NULL);
    free(text);
    if (!json_is_object(doc))
        *fail = et__error(500, ET_E_CORRUPT, "track %s is not a JSON object", c->name);
    else if (json_is_true(json_object_get(doc, "missing")))
        *fail = et__error(404, ET_E_NOT_FOUND,
                          "the file of track %s is missing (a scan finds it if it is back)",
                          c->name);
    else
        return doc;
    json_decref(doc);
    return NULL;
}

/* A string field, null when absent or empty. */
static json_t *text_or_null(const json_t *doc, const char *key)
{
    const char *v = json_string_value(json_object_get(doc, key));
    return v && *v ? json_string(v) : json_null();
}

static json_t *mood_json(const json_t *doc)
{
    et_library_mood m;
    if (!et_library_track_mood(doc, &m))
        return json_null();
    return json_pack("{s:s,s:f,s:f,s:b,s:s}", "name", m.name, "valence", m.valence, "arousal",
                     m.arousal, "tagged", m.tagged, "source", m.source);
}

/* A track as the API shows it (the OpenAPI document's Track). */
static json_t *track_json(const char *id, const json_t *doc)
{
    const char *url = json_string_value(json_object_get(doc, "url"));
    const char *title = json_string_value(json_object_get(doc, "title"));
    bool link = url && !json_object_get(doc, "path");
    json_t *year = json_object_get(doc, "year"), *dur = json_object_get(doc, "duration");
    json_t *t = json_pack(
        "{s:s,s:s,s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:b}", "id", id, "kind", link ? "link" : "file",
        "title", title && *title ? title : id, "artist", text_or_null(doc, "artist"), "album",
        text_or_null(doc, "album"), "genre", text_or_null(doc, "genre"), "year",
        json_is_integer(year) ? json_incref(year) : json_null(), "duration",
        json_is_number(dur) && json_number_value(dur) > 0 ? json_incref(dur) : json_null(),
        "mood", mood_json(doc), "codec", text_or_null(doc, "codec"), "cover",
        json_is_true(json_object_get(doc, "cover")));
    if (t && link && json_object_set_new(t, "url", json_string(url)) != 0) {
        json_decref(t);
        t = NULL;
    }
    return t;
}

et__reply et__track(et_server *s, const et__call *c)
{
    et__reply fail;
    json_t *doc = et__track_doc(s, c, &fail);
    if (!doc)
        return fail;
    json_t *t = track_json(c->name, doc);
    json_decref(doc);
    return t ? (et__reply){.status = 200, .json = t}
             : et__error(503, ET_E_NOMEM, "out of memory");
}

/* One page of the list being gathered. */
typedef struct page {
    const char *want; /* the mood group asked (et_library_mood.group), or NULL */
    size_t limit;
    json_t *items;    /* up to limit + 1: the one past the page says more follow */
    char last[ET_STORE_MAX_ID + 1]; /* the last id examined ("" before any) */
    size_t examined;  /* over the whole request */
    size_t visited;   /* in the current chunk, the cursor's own track included */
    bool nomem;
} page;

/* Whether a stored track belongs on the page: not missing, and in the mood. */
static bool listed(const json_t *doc, const char *want)
{
    et_library_mood m;
    return json_is_object(doc) && !json_is_true(json_object_get(doc, "missing")) &&
           (!want || (et_library_track_mood(doc, &m) && strcmp(m.group, want) == 0));
}

static bool page_done(const page *p)
{
    return p->nomem || json_array_size(p->items) > p->limit ||
           p->examined >= TRACKS_MAX_EXAMINED;
}

static int take(void *user, const char *id, const char *json, size_t len)
{
    page *p = user;
    p->visited++;
    if (strcmp(id, p->last) == 0)
        return 0; /* where this chunk starts: examined by the one before */
    p->examined++;
    snprintf(p->last, sizeof p->last, "%s", id);
    json_t *doc = json_loadb(json, len, 0, NULL);
    if (listed(doc, p->want)) {
        json_t *t = track_json(id, doc);
        p->nomem = !t || json_array_append_new(p->items, t) != 0;
    }
    json_decref(doc);
    return page_done(p);
}

/* The query's mood (its group) into *want, NULL when not asked; false with
 * a 400 in *fail. */
static bool query_mood(const et__call *c, const char **want, et__reply *fail)
{
    const char *v = MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, "mood");
    double valence, arousal;
    *want = NULL;
    if (!v)
        return true;
    if (!et_mood_named_point(v, &valence, &arousal)) {
        *fail = et__error(400, ET_E_INVALID,
                          "mood: not a named mood (happy, calm, sad, angry, tense, disgusted, "
                          "surprised, energetic, excited, neutral, relaxed, fearful)");
        return false;
    }
    *want = et_mood_nearest_named(valence, arousal);
    return true;
}

/* The query's cursor into p->last ("" when not given); false with a 400. */
static bool query_after(const et__call *c, page *p, et__reply *fail)
{
    const char *v = MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, "after");
    char err[ET_ERR_MAX];
    if (v && et_store_check_id(v, err) != ET_OK) {
        *fail = et__error(400, ET_E_INVALID, "after: not a track id: %s", err);
        return false;
    }
    snprintf(p->last, sizeof p->last, "%s", v ? v : "");
    return true;
}

/* Reads chunks of the collection from the cursor on until the page is full,
 * the collection ends (*end) or the request has examined its share. */
static et_status gather(et_store *st, page *p, bool *end, char *err)
{
    size_t chunk = p->limit + 2; /* the cursor, the page, one more */
    if (p->want && chunk < TRACKS_CHUNK)
        chunk = TRACKS_CHUNK;
    *end = false;
    while (!page_done(p) && !*end) {
        p->visited = 0;
        et_status rc = et_store_iterate(st, ET_LIBRARY_TRACKS, *p->last ? p->last : NULL, chunk,
                                        take, p, err);
        if (rc != ET_OK)
            return rc;
        *end = p->visited < chunk && !page_done(p);
    }
    return ET_OK;
}

et__reply et__tracks(et_server *s, const et__call *c)
{
    et__reply fail;
    double limit;
    page p = {0};
    et_store *st;
    char err[ET_ERR_MAX];
    const char *lim = MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, "limit");
    if (!et__query_number("limit", lim, 1, TRACKS_MAX_LIMIT, true, TRACKS_DEFAULT_LIMIT, &limit,
                          err))
        return et__error(400, ET_E_INVALID, "%s", err);
    if (!query_mood(c, &p.want, &fail) || !query_after(c, &p, &fail) ||
        !(st = et__store(s, &fail)))
        return fail;
    p.limit = (size_t)limit;
    if (!(p.items = json_array()))
        return et__error(503, ET_E_NOMEM, "out of memory");
    bool end;
    et_status rc = gather(st, &p, &end, err);
    if (rc != ET_OK || p.nomem) {
        json_decref(p.items);
        return rc != ET_OK ? et__error(503, ET_E_UNAVAILABLE, "%s", err)
                           : et__error(503, ET_E_NOMEM, "out of memory");
    }
    /* The next page starts after the last track shown when the page is
     * full, after the last examined when the request's share ran out. */
    json_t *next = json_null();
    if (json_array_size(p.items) > p.limit) {
        json_array_remove(p.items, p.limit);
        next = json_incref(json_object_get(json_array_get(p.items, p.limit - 1), "id"));
    } else if (!end) {
        next = json_string(p.last);
    }
    return (et__reply){.status = 200,
                       .json = json_pack("{s:o,s:o}", "tracks", p.items, "next", next)};
}
