/* Export, import and copy of a whole store, through the public interface
 * only, so they work between any two backends. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"

#define DEFAULT_BATCH 1000
#define MAX_LINE ((size_t)8 << 20)

/* Calls fn for every document of every collection, in order. */
typedef et_status (*each_fn)(void *user, const char *coll, const char *id, const char *json,
                             size_t len, char *err);

typedef struct walk {
    const char *coll;
    each_fn fn;
    void *user;
    et_status st;
    char *err;
} walk;

static int walk_one(void *user, const char *id, const char *json, size_t len)
{
    walk *w = user;
    w->st = w->fn(w->user, w->coll, id, json, len, w->err);
    return w->st != ET_OK;
}

static et_status for_each_doc(et_store *s, each_fn fn, void *user, char *err)
{
    char **names;
    size_t n;
    et_status st = et_store_collections(s, &names, &n, err);
    for (size_t i = 0; st == ET_OK && i < n; i++) {
        walk w = {names[i], fn, user, ET_OK, err};
        st = et_store_iterate(s, names[i], NULL, 0, walk_one, &w, err);
        if (st == ET_OK)
            st = w.st;
    }
    et_store_free_names(names, n);
    return st;
}

typedef struct export_state {
    FILE *out;
    size_t count;
} export_state;

static et_status export_one(void *user, const char *coll, const char *id, const char *json,
                            size_t len, char *err)
{
    export_state *e = user;
    int one_line = !memchr(json, '\n', len) && !memchr(json, '\r', len);
    char *compact = NULL;
    if (!one_line) {
        json_t *v = json_loadb(json, len, JSON_DECODE_ANY, NULL);
        compact = v ? json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY) : NULL;
        json_decref(v);
        if (!compact)
            return et_fail(err, ET_E_CORRUPT, "%s/%s: stored document does not parse", coll, id);
    }
    /* Names and ids are plain ASCII without quotes or backslashes (checked
     * on every write), so they need no escaping. */
    fprintf(e->out, "{\"collection\":\"%s\",\"id\":\"%s\",\"doc\":", coll, id);
    if (compact)
        fputs(compact, e->out);
    else
        fwrite(json, 1, len, e->out);
    fputs("}\n", e->out);
    free(compact);
    e->count++;
    return ferror(e->out) ? et_fail(err, ET_E_IO, "export: write error") : ET_OK;
}

et_status et_store_export(et_store *s, FILE *out, size_t *count, char *err)
{
    export_state e = {out, 0};
    et_status st = for_each_doc(s, export_one, &e, err);
    if (count)
        *count = e.count;
    return st;
}

/* A batch of owned documents, flushed when full. */
typedef struct pending {
    et_store *dst;
    et_store_op *ops;
    size_t n, cap, count;
} pending;

/* Frees the pending documents without writing them. */
static void discard(pending *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free((char *)p->ops[i].collection);
        free((char *)p->ops[i].id);
        free((char *)p->ops[i].json);
    }
    p->n = 0;
}

static et_status flush(pending *p, char *err)
{
    et_status st = p->n ? et_store_batch(p->dst, p->ops, p->n, err) : ET_OK;
    if (st == ET_OK)
        p->count += p->n;
    discard(p);
    return st;
}

static et_status add(pending *p, const char *coll, const char *id, const char *json, size_t len,
                     char *err)
{
    char *c = strdup(coll), *i = strdup(id), *j = malloc(len + 1);
    if (!c || !i || !j) {
        free(c);
        free(i);
        free(j);
        return et_fail(err, ET_E_NOMEM, "out of memory");
    }
    memcpy(j, json, len);
    j[len] = '\0';
    p->ops[p->n++] = (et_store_op){ET_STORE_OP_PUT, c, i, j, len};
    return p->n == p->cap ? flush(p, err) : ET_OK;
}

static et_status pending_init(pending *p, et_store *dst, size_t batch, char *err)
{
    *p = (pending){.dst = dst, .cap = batch ? batch : DEFAULT_BATCH};
    p->ops = calloc(p->cap, sizeof *p->ops);
    return p->ops ? ET_OK : et_fail(err, ET_E_NOMEM, "out of memory");
}

static et_status copy_one(void *user, const char *coll, const char *id, const char *json,
                          size_t len, char *err)
{
    return add(user, coll, id, json, len, err);
}

et_status et_store_copy(et_store *src, et_store *dst, size_t *count, char *err)
{
    pending p;
    et_status st = pending_init(&p, dst, 0, err);
    if (st == ET_OK)
        st = for_each_doc(src, copy_one, &p, err);
    if (st == ET_OK)
        st = flush(&p, err);
    else
        discard(&p);
    if (count)
        *count = p.count;
    free(p.ops);
    return st;
}

/* The document's own text when the line has exactly the layout export
 * writes, so that export then import gives back the very bytes; NULL when
 * the line was written some other way. */
static char *raw_doc(const char *line, size_t len, const char *coll, const char *id)
{
    char head[ET_STORE_MAX_COLLECTION + ET_STORE_MAX_ID + 64];
    int h = snprintf(head, sizeof head, "{\"collection\":\"%s\",\"id\":\"%s\",\"doc\":", coll,
                     id);
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    if (h < 0 || (size_t)h + 1 >= len || memcmp(line, head, (size_t)h) != 0 || line[len - 1] != '}')
        return NULL;
    return strndup(line + h, len - (size_t)h - 1);
}

/* One export line -> collection, id and the document's text. */
static et_status parse_line(const char *line, size_t len, size_t lineno, char **coll, char **id,
                            char **doc, char *err)
{
    json_error_t jerr;
    json_t *v = json_loadb(line, len, 0, &jerr);
    const char *c = json_string_value(json_object_get(v, "collection"));
    const char *i = json_string_value(json_object_get(v, "id"));
    json_t *d = json_object_get(v, "doc");
    if (!v || !c || !i || !d) {
        json_decref(v);
        return et_fail(err, ET_E_INVALID,
                       "line %zu: not an export line {\"collection\", \"id\", \"doc\"}", lineno);
    }
    *coll = strdup(c);
    *id = strdup(i);
    *doc = raw_doc(line, len, c, i);
    if (!*doc)
        *doc = json_dumps(d, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY |
                                 JSON_REAL_PRECISION(17));
    json_decref(v);
    if (!*coll || !*id || !*doc)
        return et_fail(err, ET_E_NOMEM, "line %zu: out of memory", lineno);
    return ET_OK;
}

et_status et_store_import(et_store *s, FILE *in, size_t batch, size_t *count, char *err)
{
    pending p;
    et_status st = pending_init(&p, s, batch, err);
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t got;
    while (st == ET_OK && (got = getline(&line, &cap, in)) >= 0) {
        lineno++;
        if (got == 0 || line[0] == '\n')
            continue;
        if ((size_t)got > MAX_LINE) {
            st = et_fail(err, ET_E_TOO_LARGE, "line %zu: longer than %zu bytes", lineno, MAX_LINE);
            break;
        }
        char *c = NULL, *i = NULL, *d = NULL;
        st = parse_line(line, (size_t)got, lineno, &c, &i, &d, err);
        if (st == ET_OK) {
            char why[ET_ERR_MAX];
            st = et_store_check_collection(c, why);
            if (st == ET_OK)
                st = et_store_check_id(i, why);
            if (st == ET_OK)
                st = add(&p, c, i, d, strlen(d), why);
            if (st != ET_OK)
                et_fail(err, st, "line %zu: %s", lineno, why);
        }
        free(c);
        free(i);
        free(d);
    }
    free(line);
    if (st == ET_OK)
        st = flush(&p, err);
    else
        discard(&p); /* the lines after the last full batch are not written */
    if (count)
        *count = p.count;
    free(p.ops);
    return st;
}
