/* server: the music library -- the --music folders scanned in the
 * background (when the server starts, and on request: one scan at a time,
 * on its own thread with its own store handle), its progress, and
 * catalogues imported from a request body. What a scan or an import writes
 * bumps the library's stamp (library.h), so every server on the store, this
 * one included, sees the new tracks at its next request. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "library/library.h"
#include "server/server_internal.h"

/* Failures (files that could not be read) listed by the progress route. */
#define MAX_LISTED_FAILURES 20

struct et__library {
    char **dirs; /* the --music folders, as given */
    char **real; /* the same resolved (NULL: could not be) */
    size_t ndirs;
    int jobs;    /* a scan's analysis threads */
    pthread_mutex_t lock; /* guards everything below */
    bool running, joinable, stopping;
    pthread_t thread;
    volatile sig_atomic_t cancel; /* set at stop: the scan ends soon */
    et__scan_view view;
    json_t *failures; /* of the last scan: [{path, reason}] */
};

static const char *const state_names[] = {"idle", "running", "done", "failed"};

/* ---- the scan's thread ---------------------------------------------------- */

static void on_progress(void *user, const et_scan_progress *p)
{
    et__library *l = user;
    pthread_mutex_lock(&l->lock);
    et__scan_view *v = &l->view;
    v->files = p->files;
    v->done = p->done;
    v->added = p->sum->added;
    v->updated = p->sum->updated + p->sum->moved;
    v->unchanged = p->sum->unchanged;
    v->missing = p->sum->missing + p->sum->pruned;
    v->failed = p->sum->failed;
    pthread_mutex_unlock(&l->lock);
}

static json_t *failures_json(const et_scan_summary *sum)
{
    json_t *list = json_array();
    for (size_t i = 0; list && i < sum->failed && i < MAX_LISTED_FAILURES; i++)
        json_array_append_new(list, json_pack("{s:s,s:s}", "path", sum->failures[i].path
                                                  ? sum->failures[i].path : "",
                                              "reason", sum->failures[i].reason
                                                  ? sum->failures[i].reason : ""));
    return list;
}

/* Records how a scan ended. */
static void finish(et__library *l, et_status rc, const et_scan_summary *sum, const char *err)
{
    json_t *failures = failures_json(sum);
    pthread_mutex_lock(&l->lock);
    et__scan_view *v = &l->view;
    bool ok = rc == ET_OK && !sum->cancelled;
    v->state = ok ? ET__SCAN_DONE : ET__SCAN_FAILED;
    v->finished = et__wall_time();
    v->runs_failed += !ok;
    snprintf(v->error, sizeof v->error, "%s",
             ok ? "" : rc != ET_OK ? err : "cancelled: the server is stopping");
    json_decref(l->failures);
    l->failures = failures;
    l->running = false;
    pthread_mutex_unlock(&l->lock);
}

static void *scan_main(void *arg)
{
    et_server *s = arg;
    et__library *l = s->library;
    char err[ET_ERR_MAX] = "";
    et_scan_summary sum = {0};
    et_store *st;
    et_status rc = et_store_open(s->store_uri, &s->store_opts, &st, err);
    if (rc == ET_OK) {
        et_scan_opts o = {.jobs = l->jobs, .cancel = &l->cancel, .on_progress = on_progress,
                          .progress_user = l};
        rc = et_library_scan(st, (const char *const *)l->dirs, l->ndirs, &o, &sum, err);
        et_store_close(st);
    }
    if (rc != ET_OK)
        et_log(ET_LOG_WARN, "the library scan failed: %s", err);
    finish(l, rc, &sum, err);
    et_scan_summary_free(&sum);
    return NULL;
}

/* Starts a scan unless one runs; with l->lock held. 0, or the HTTP status
 * of the refusal with its message in why. */
static unsigned start_locked(et_server *s, et__library *l, char *why, size_t len)
{
    if (l->stopping) {
        snprintf(why, len, "the server is stopping");
        return 503;
    }
    if (l->running) {
        snprintf(why, len, "a scan is running (%zu of %zu files done): one at a time",
                 l->view.done, l->view.files);
        return 409;
    }
    if (l->joinable) /* the last scan's thread, over */
        pthread_join(l->thread, NULL);
    l->joinable = false;
    unsigned long runs = l->view.runs, failed = l->view.runs_failed;
    l->view = (et__scan_view){.state = ET__SCAN_RUNNING, .started = et__wall_time(),
                              .runs = runs + 1, .runs_failed = failed};
    json_decref(l->failures);
    l->failures = NULL;
    if (pthread_create(&l->thread, NULL, scan_main, s) != 0) {
        l->view.state = ET__SCAN_FAILED;
        l->view.runs_failed++;
        snprintf(l->view.error, sizeof l->view.error, "no thread for the scan");
        snprintf(why, len, "no thread for the scan");
        return 503;
    }
    l->running = l->joinable = true;
    return 0;
}

/* ---- the server's life ---------------------------------------------------- */

et_status et__library_open(et_server *s, const et_server_opts *o, char *err)
{
    et__library *l = calloc(1, sizeof *l);
    if (!l)
        return et_fail(err, ET_E_NOMEM, "out of memory");
    s->library = l;
    pthread_mutex_init(&l->lock, NULL);
    l->jobs = o->scan_jobs;
    if (o->scan_jobs < 0 || o->scan_jobs > 64)
        return et_fail(err, ET_E_INVALID, "scan jobs %d: expected 1 to 64 (0: one)",
                       o->scan_jobs);
    if (!l->jobs)
        l->jobs = 1; /* in the background: the requests keep the other cores */
    if (o->n_music_dirs && (!(l->dirs = calloc(o->n_music_dirs, sizeof *l->dirs)) ||
                            !(l->real = calloc(o->n_music_dirs, sizeof *l->real))))
        return et_fail(err, ET_E_NOMEM, "out of memory");
    for (size_t i = 0; i < o->n_music_dirs; i++) {
        struct stat st;
        if (stat(o->music_dirs[i], &st) != 0 || !S_ISDIR(st.st_mode))
            return et_fail(err, ET_E_INVALID, "music folder %.200s: not a folder",
                           o->music_dirs[i]);
        l->real[l->ndirs] = realpath(o->music_dirs[i], NULL);
        if (!(l->dirs[l->ndirs++] = strdup(o->music_dirs[i])))
            return et_fail(err, ET_E_NOMEM, "out of memory");
    }
    return et__next_cache_open(s, err);
}

void et__library_begin(et_server *s)
{
    et__library *l = s->library;
    if (!l->ndirs)
        return;
    char why[ET_ERR_MAX];
    pthread_mutex_lock(&l->lock);
    if (start_locked(s, l, why, sizeof why))
        et_log(ET_LOG_WARN, "the library scan cannot start: %s", why);
    pthread_mutex_unlock(&l->lock);
}

void et__library_stop(et_server *s)
{
    et__library *l = s->library;
    if (!l)
        return;
    pthread_mutex_lock(&l->lock);
    l->stopping = true;
    l->cancel = 1;
    bool join = l->joinable;
    l->joinable = false;
    pthread_mutex_unlock(&l->lock);
    if (join) /* bounded: a cancelled scan stops after the files in hand */
        pthread_join(l->thread, NULL);
}

void et__library_close(et_server *s)
{
    et__library *l = s->library;
    if (!l)
        return;
    et__library_stop(s);
    for (size_t i = 0; i < l->ndirs; i++)
        free(l->dirs[i]), free(l->real[i]);
    free(l->dirs);
    free(l->real);
    json_decref(l->failures);
    pthread_mutex_destroy(&l->lock);
    free(l);
    s->library = NULL;
    et__next_cache_close(s);
}

void et__scan_snapshot(et_server *s, et__scan_view *out)
{
    et__library *l = s->library;
    pthread_mutex_lock(&l->lock);
    *out = l->view;
    pthread_mutex_unlock(&l->lock);
}

/* ---- the routes ----------------------------------------------------------- */

static json_t *time_or_null(double t) { return t > 0 ? json_real(t) : json_null(); }

/* The end of a folder's path: its last name ("music" of "/home/a/music/"),
 * as [*name, *name + *n). */
static void last_name(const char *dir, const char **name, size_t *n)
{
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/')
        len--;
    size_t start = len;
    while (start > 0 && dir[start - 1] != '/')
        start--;
    *name = dir + start;
    *n = len - start;
}

/* Whether text at p begins with the folder dir (trailing '/' ignored),
 * followed by '/' or the end of a path; its length in *n. */
static bool folder_at(const char *p, const char *dir, size_t *n)
{
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/')
        len--;
    if (len < 2 || strncmp(p, dir, len) != 0)
        return false;
    char next = p[len];
    *n = len;
    return next == '/' || next == '\0' || next == ' ' || next == ':' || next == '\'' ||
           next == ',' || next == ')';
}

/* text as a server without a token shows it: every --music folder in it
 * (as given, and resolved) is written as its last name alone, so that
 * paths read relative to the folders and no other path of the server's
 * shows; with a token, as it is. NULL when out of memory. */
static json_t *shown_text(const et_server *s, const char *text)
{
    const et__library *l = s->library;
    if (s->token || !text)
        return json_string(text ? text : "");
    size_t cap = strlen(text) + 1, len = 0;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    for (const char *p = text; *p;) {
        size_t n = 0, i = 0;
        for (; i < l->ndirs; i++)
            if (folder_at(p, l->dirs[i], &n) || (l->real[i] && folder_at(p, l->real[i], &n)))
                break;
        if (i == l->ndirs) {
            out[len++] = *p++;
            continue;
        }
        const char *name;
        size_t nn;
        last_name(l->dirs[i], &name, &nn);
        memcpy(out + len, name, nn); /* nn <= n: it fits */
        len += nn;
        p += n;
    }
    out[len] = '\0';
    json_t *js = json_string(out);
    free(out);
    return js;
}

/* The scan's failures, their paths shown as above. */
static json_t *shown_failures(const et_server *s, const json_t *failures)
{
    json_t *list = json_array();
    size_t i;
    json_t *f;
    json_array_foreach(failures, i, f)
        json_array_append_new(
            list, json_pack("{s:o,s:O}", "path",
                            shown_text(s, json_string_value(json_object_get(f, "path"))),
                            "reason", json_object_get(f, "reason")));
    return list;
}

/* The scan's progress as the API shows it. */
static json_t *scan_json(const et_server *s, et__library *l)
{
    json_t *folders = json_array();
    for (size_t i = 0; i < l->ndirs; i++)
        json_array_append_new(folders, shown_text(s, l->dirs[i]));
    pthread_mutex_lock(&l->lock);
    const et__scan_view *v = &l->view;
    json_t *doc = json_pack(
        "{s:s,s:o,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:o,s:o,s:o,s:I}", "state",
        state_names[v->state], "folders", folders, "files", (json_int_t)v->files, "done",
        (json_int_t)v->done, "added", (json_int_t)v->added, "updated", (json_int_t)v->updated,
        "unchanged", (json_int_t)v->unchanged, "missing", (json_int_t)v->missing, "failed",
        (json_int_t)v->failed, "started", time_or_null(v->started), "finished",
        time_or_null(v->finished), "error", *v->error ? shown_text(s, v->error) : json_null(),
        "failures", l->failures ? shown_failures(s, l->failures) : json_array(), "scans",
        (json_int_t)v->runs);
    pthread_mutex_unlock(&l->lock);
    return doc;
}

et__reply et__scan_get(et_server *s, const et__call *c)
{
    (void)c;
    json_t *doc = scan_json(s, s->library);
    return doc ? (et__reply){.status = 200, .json = doc}
               : et__error(503, ET_E_NOMEM, "out of memory");
}

et__reply et__scan_post(et_server *s, const et__call *c)
{
    (void)c;
    et__library *l = s->library;
    if (!l->ndirs)
        return et__error(400, ET_E_INVALID, "this server has no music folders to scan: start "
                                            "it with --music DIR (or import a catalogue)");
    char why[ET_ERR_MAX];
    pthread_mutex_lock(&l->lock);
    unsigned refused = start_locked(s, l, why, sizeof why);
    pthread_mutex_unlock(&l->lock);
    if (refused)
        return et__error(refused, refused == 409 ? ET_E_CONFLICT : ET_E_UNAVAILABLE, "%s", why);
    json_t *doc = scan_json(s, l);
    return doc ? (et__reply){.status = 202, .json = doc}
               : et__error(503, ET_E_NOMEM, "out of memory");
}

/* A query value checked by parse (format or mood); false with a 400. */
static bool import_query(const et__call *c, et_catalog_format *format, const char **mood,
                         et__reply *fail)
{
    char err[ET_ERR_MAX];
    const char *f = MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, "format");
    *format = ET_CATALOG_AUTO;
    *mood = MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, "mood");
    if (f && et_catalog_format_parse(f, format, err) != ET_OK) {
        *fail = et__error(400, ET_E_INVALID, "format: %s", err);
        return false;
    }
    return true;
}

static json_t *issues_json(const et_import_report *r)
{
    json_t *list = json_array();
    for (size_t k = 0; list && k < r->n_issues; k++)
        json_array_append_new(list, json_pack("{s:I,s:s}", "line", (json_int_t)r->issues[k].line,
                                              "message", r->issues[k].message));
    return list;
}

/* The 400 of a catalogue that gives no link: its issues listed in the
 * error. */
static et__reply nothing_to_import(const et_import_report *r)
{
    et__reply rep = r->skipped
        ? et__error(400, ET_E_INVALID, "no link could be imported: %zu line%s skipped (%s%s)",
                    r->skipped, r->skipped == 1 ? "" : "s",
                    r->n_issues ? r->issues[0].message : "", r->skipped > 1 ? ", ..." : "")
        : et__error(400, ET_E_INVALID, "the catalogue holds no link");
    json_object_set_new(json_object_get(rep.json, "error"), "issues", issues_json(r));
    return rep;
}

static unsigned import_status(et_status st)
{
    return st == ET_E_INVALID || st == ET_E_CORRUPT ? 400
           : st == ET_E_TOO_LARGE                   ? 413
           : st == ET_E_NOMEM                       ? 503
                                                    : 503;
}

et__reply et__import(et_server *s, const et__call *c)
{
    et__reply fail;
    et_catalog_format format;
    const char *mood;
    et_store *st;
    if (!import_query(c, &format, &mood, &fail))
        return fail;
    if (!c->req->len)
        return et__error(400, ET_E_INVALID, "post a catalogue as the body: CSV "
                                            "(url,title,artist,mood), JSON or M3U");
    if (!(st = et__store(s, &fail)))
        return fail;
    char err[ET_ERR_MAX];
    et_import_report r;
    et_status rc = et_library_import_data(st, c->req->body, c->req->len, format, "api", mood,
                                          &r, err);
    if (rc != ET_OK)
        return et__error(import_status(rc), rc, "%s", err);
    if (!r.added && !r.unchanged) {
        et__reply rep = nothing_to_import(&r);
        et_import_report_free(&r);
        return rep;
    }
    static const char *const formats[] = {"auto", "csv", "json", "m3u"};
    json_t *doc = json_pack("{s:s,s:I,s:I,s:I,s:I,s:o}", "format", formats[r.format], "added",
                            (json_int_t)r.added, "updated", (json_int_t)r.updated, "unchanged",
                            (json_int_t)r.unchanged, "skipped", (json_int_t)r.skipped, "issues",
                            issues_json(&r));
    et_import_report_free(&r);
    return doc ? (et__reply){.status = 200, .json = doc}
               : et__error(503, ET_E_NOMEM, "out of memory");
}

char *et__library_metrics(et_server *s)
{
    et__scan_view v;
    et__scan_snapshot(s, &v);
    size_t cap = 2048;
    char *text = malloc(cap);
    if (text && snprintf(text, cap,
                 "# HELP emotune_scan_running Whether a library scan is running.\n"
                 "# TYPE emotune_scan_running gauge\n"
                 "emotune_scan_running %d\n"
                 "# HELP emotune_scan_files Files found by the running or last scan.\n"
                 "# TYPE emotune_scan_files gauge\n"
                 "emotune_scan_files %zu\n"
                 "# HELP emotune_scan_files_done Files of the running or last scan dealt with.\n"
                 "# TYPE emotune_scan_files_done gauge\n"
                 "emotune_scan_files_done %zu\n"
                 "# HELP emotune_scan_files_failed Files the running or last scan could not "
                 "read.\n"
                 "# TYPE emotune_scan_files_failed gauge\n"
                 "emotune_scan_files_failed %zu\n"
                 "# HELP emotune_scans_total Library scans started.\n"
                 "# TYPE emotune_scans_total counter\n"
                 "emotune_scans_total %lu\n"
                 "# HELP emotune_scans_failed_total Library scans that failed or were "
                 "cancelled.\n"
                 "# TYPE emotune_scans_failed_total counter\n"
                 "emotune_scans_failed_total %lu\n"
                 "# HELP emotune_next_library_loads_total Times .../next loaded the library "
                 "(it changed, or first use).\n"
                 "# TYPE emotune_next_library_loads_total counter\n"
                 "emotune_next_library_loads_total %lu\n"
                 "# HELP emotune_next_feedback_loads_total Times .../next loaded a listener's "
                 "feedback.\n"
                 "# TYPE emotune_next_feedback_loads_total counter\n"
                 "emotune_next_feedback_loads_total %lu\n",
                 v.state == ET__SCAN_RUNNING, v.files, v.done, v.failed, v.runs,
                 v.runs_failed, atomic_load(&s->next_library_loads),
                 atomic_load(&s->next_feedback_loads)) >= (int)cap) {
        free(text); /* cannot happen: the numbers are bounded */
        text = NULL;
    }
    return text;
}
