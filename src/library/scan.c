/* emotune scan: folders -> the "tracks" collection. Three phases:
 *   1. load what the store knows (path, size, mtime, content hash per file
 *      track) into two sorted arrays;
 *   2. walk the folders, stat every file, and sort it: unchanged (same path,
 *      size, mtime: nothing more to do), or to analyse;
 *   3. analyse the rest on a pool of threads (probe + decode + features);
 *      the calling thread collects the results and writes the store, so
 *      the store is written from one place.
 * Then the files the walk did not find are marked missing (or pruned).
 * Each track is written by an atomic read-modify-write (et_store_update)
 * that sets only the fields the scan owns, so that a change made meanwhile
 * by someone else (the listener's mood tag above all) is kept. A kill at any
 * moment leaves whole documents; the next scan finds the files not yet
 * written as new or changed and finishes the job. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audio/audio.h"
#include "library/library.h"
#include "library/library_internal.h"
#include "library/scan_internal.h"
#include "mood/mood.h"

/* ---- phase 1: what the store knows ---------------------------------------- */

typedef struct known {
    char *id;
    char *path; /* exact bytes of the path */
    long long size, mtime;
    char hash[17];
    int missing;
    int seen; /* found by this walk */
} known;

typedef struct known_set {
    known *items;
    size_t n, cap;
    known **by_hash; /* the same items sorted by hash */
} known_set;

static int cmp_known_path(const void *a, const void *b)
{
    return strcmp(((const known *)a)->path, ((const known *)b)->path);
}

static int cmp_known_hash(const void *a, const void *b)
{
    return strcmp((*(known *const *)a)->hash, (*(known *const *)b)->hash);
}

static int load_one(void *user, const char *id, const char *json, size_t len)
{
    known_set *ks = user;
    json_t *doc = json_loadb(json, len, 0, NULL);
    char path[PATH_MAX];
    if (doc && et__track_path(doc, path, sizeof path) &&
        json_is_string(json_object_get(doc, "hash"))) {
        if (ks->n == ks->cap) {
            size_t nc = ks->cap ? ks->cap * 2 : 1024;
            known *grown = realloc(ks->items, nc * sizeof *grown);
            if (!grown) {
                json_decref(doc);
                return 1;
            }
            ks->items = grown;
            ks->cap = nc;
        }
        known *k = &ks->items[ks->n];
        *k = (known){
            .id = strdup(id),
            .path = strdup(path),
            .size = json_integer_value(json_object_get(doc, "size")),
            .mtime = json_integer_value(json_object_get(doc, "mtime")),
            .missing = json_is_true(json_object_get(doc, "missing")),
        };
        snprintf(k->hash, sizeof k->hash, "%s", json_string_value(json_object_get(doc, "hash")));
        if (k->id && k->path)
            ks->n++;
        else
            free(k->id), free(k->path);
    }
    json_decref(doc);
    return 0;
}

static void known_free(known_set *ks)
{
    for (size_t i = 0; i < ks->n; i++)
        free(ks->items[i].id), free(ks->items[i].path);
    free(ks->items);
    free(ks->by_hash);
}

static et_status known_load(et_store *s, known_set *ks, char *err)
{
    et_status st = et_store_iterate(s, ET_LIBRARY_TRACKS, NULL, 0, load_one, ks, err);
    if (st != ET_OK)
        return st;
    if (ks->n)
        qsort(ks->items, ks->n, sizeof *ks->items, cmp_known_path);
    ks->by_hash = malloc((ks->n ? ks->n : 1) * sizeof *ks->by_hash);
    if (!ks->by_hash)
        return et_fail(err, ET_E_NOMEM, "out of memory loading the library");
    for (size_t i = 0; i < ks->n; i++)
        ks->by_hash[i] = &ks->items[i];
    if (ks->n)
        qsort(ks->by_hash, ks->n, sizeof *ks->by_hash, cmp_known_hash);
    return ET_OK;
}

static known *known_by_path(known_set *ks, const char *path)
{
    known key = {.path = (char *)path};
    return ks->n ? bsearch(&key, ks->items, ks->n, sizeof *ks->items, cmp_known_path) : NULL;
}

/* The first known track with this hash whose file is gone (a move), or
 * NULL. Tracks seen in this walk or still present on disk are copies, not
 * moves. */
static known *moved_from(known_set *ks, const char *hash)
{
    known key, *kp = &key;
    snprintf(key.hash, sizeof key.hash, "%s", hash);
    known **hit = ks->n ? bsearch(&kp, ks->by_hash, ks->n, sizeof *ks->by_hash, cmp_known_hash)
                        : NULL;
    if (!hit)
        return NULL;
    while (hit > ks->by_hash && !strcmp(hit[-1]->hash, hash))
        hit--;
    for (; hit < ks->by_hash + ks->n && !strcmp((*hit)->hash, hash); hit++) {
        struct stat st;
        if (!(*hit)->seen && stat((*hit)->path, &st) != 0)
            return *hit;
    }
    return NULL;
}

/* ---- small string and inode sets (open addressing) ------------------------ */

typedef struct id_set {
    char **slots;
    size_t cap, n;
} id_set;

static uint64_t str_hash(const char *s)
{
    uint64_t h = 14695981039346656037ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* Adds s; returns 1 if added, 0 if present, -1 on allocation failure. */
static int id_set_add(id_set *set, const char *s)
{
    if (2 * (set->n + 1) > set->cap) {
        size_t nc = set->cap ? set->cap * 2 : 256;
        char **slots = calloc(nc, sizeof *slots);
        if (!slots)
            return -1;
        for (size_t i = 0; i < set->cap; i++) {
            if (!set->slots[i])
                continue;
            size_t j = str_hash(set->slots[i]) & (nc - 1);
            while (slots[j])
                j = (j + 1) & (nc - 1);
            slots[j] = set->slots[i];
        }
        free(set->slots);
        set->slots = slots;
        set->cap = nc;
    }
    size_t j = str_hash(s) & (set->cap - 1);
    for (; set->slots[j]; j = (j + 1) & (set->cap - 1))
        if (!strcmp(set->slots[j], s))
            return 0;
    if (!(set->slots[j] = strdup(s)))
        return -1;
    set->n++;
    return 1;
}

static int id_set_has(const id_set *set, const char *s)
{
    if (!set->cap)
        return 0;
    for (size_t j = str_hash(s) & (set->cap - 1); set->slots[j]; j = (j + 1) & (set->cap - 1))
        if (!strcmp(set->slots[j], s))
            return 1;
    return 0;
}

static void id_set_free(id_set *set)
{
    for (size_t i = 0; i < set->cap; i++)
        free(set->slots[i]);
    free(set->slots);
}

/* ---- phase 2: the walk ---------------------------------------------------- */

typedef struct job {
    char *path;
    long long size, mtime;
    known *k; /* the track at this path before, when it changed */
    /* filled by a worker */
    int done;
    et_status st;
    char reason[ET_ERR_MAX];
    int ignored; /* not audio, and not named like audio: skipped silently */
    char hash[17];
    et_audio_info info;
    et_audio_features f;
} job;

typedef struct walker {
    known_set *ks;
    job *jobs;
    size_t n, cap;
    id_set dirs; /* "dev:ino" of every folder entered: loops and repeats */
    et_scan_summary *sum;
    const volatile sig_atomic_t *cancel;
    const et_scan_opts *opts; /* its on_progress, every 256 files found */
    size_t failure_cap;
    char *err;
} walker;

static int cancelled(const volatile sig_atomic_t *c) { return c && *c; }

/* Calls the progress callback of the options, when there is one. */
static void progress(const et_scan_opts *o, size_t files, size_t done, bool walked,
                     bool finished, const et_scan_summary *sum)
{
    if (o->on_progress)
        o->on_progress(o->progress_user, &(et_scan_progress){.files = files, .done = done,
                                                              .walked = walked,
                                                              .finished = finished,
                                                              .sum = sum});
}

/* Files found by the walk so far: to analyse, or unchanged. */
static size_t files_found(const walker *w) { return w->n + w->sum->unchanged; }

static et_status add_failure(et_scan_summary *sum, size_t *cap, const char *path,
                             const char *reason)
{
    if (sum->failed == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        et_scan_failure *f = realloc(sum->failures, nc * sizeof *f);
        if (!f)
            return ET_E_NOMEM;
        sum->failures = f;
        *cap = nc;
    }
    sum->failures[sum->failed].path = et__utf8_copy(path);
    sum->failures[sum->failed].reason = strdup(reason);
    sum->failed++;
    return ET_OK;
}

static et_status add_job(walker *w, const char *path, const struct stat *st)
{
    long long mtime = (long long)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
    if (files_found(w) % 256 == 255)
        progress(w->opts, files_found(w) + 1, w->sum->unchanged, false, false, w->sum);
    known *k = known_by_path(w->ks, path);
    if (k) {
        k->seen = 1;
        if (k->size == (long long)st->st_size && k->mtime == mtime && !k->missing) {
            w->sum->unchanged++;
            w->sum->scanned++;
            return ET_OK;
        }
    }
    if (w->n == w->cap) {
        size_t nc = w->cap ? w->cap * 2 : 256;
        job *grown = realloc(w->jobs, nc * sizeof *grown);
        if (!grown)
            return et_fail(w->err, ET_E_NOMEM, "out of memory listing files");
        w->jobs = grown;
        w->cap = nc;
    }
    w->jobs[w->n] = (job){.path = strdup(path), .size = st->st_size, .mtime = mtime, .k = k};
    if (!w->jobs[w->n].path)
        return et_fail(w->err, ET_E_NOMEM, "out of memory listing files");
    w->n++;
    return ET_OK;
}

#define MAX_DEPTH 64

static et_status walk(walker *w, const char *dir, int depth)
{
    struct stat st;
    char key[64];
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return add_failure(w->sum, &w->failure_cap, dir, "not a folder");
    snprintf(key, sizeof key, "%llx:%llx", (unsigned long long)st.st_dev,
             (unsigned long long)st.st_ino);
    int fresh = id_set_add(&w->dirs, key);
    if (fresh < 0)
        return et_fail(w->err, ET_E_NOMEM, "out of memory walking %s", dir);
    if (!fresh || depth > MAX_DEPTH)
        return ET_OK; /* seen already (a link loop, or two links to one folder) */
    DIR *d = opendir(dir);
    if (!d)
        return add_failure(w->sum, &w->failure_cap, dir, strerror(errno));
    struct dirent *e;
    et_status s = ET_OK;
    while (s == ET_OK && !cancelled(w->cancel) && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue; /* ., .., and hidden entries */
        char path[PATH_MAX];
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path) {
            s = add_failure(w->sum, &w->failure_cap, dir, "a name inside is too long");
            continue;
        }
        if (stat(path, &st) != 0) /* follows symbolic links; a dangling one is skipped */
            continue;
        if (S_ISDIR(st.st_mode))
            s = walk(w, path, depth + 1);
        else if (S_ISREG(st.st_mode))
            s = add_job(w, path, &st);
    }
    closedir(d);
    return s;
}

/* ---- phase 3: analysis on a pool, writes from the calling thread ---------- */

typedef struct pool {
    job *jobs;
    size_t n, next;
    const volatile sig_atomic_t *cancel;
    pthread_mutex_t mu;
    pthread_cond_t done_cv;
} pool;

static const char *const audio_extensions[] = {
    ".mp3", ".m4a", ".aac", ".mp4", ".flac", ".ogg", ".oga", ".opus", ".wav",
    ".aif", ".aiff", ".aifc", ".wma", ".mka", ".webm", ".ape", ".wv", ".mpc", NULL,
};

/* Named like audio: worth complaining about when it is not. */
static int audio_name(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (!dot || strchr(dot, '/'))
        return 0;
    for (int i = 0; audio_extensions[i]; i++)
        if (!strcasecmp(dot, audio_extensions[i]))
            return 1;
    return 0;
}

static void run_job(job *j, const volatile sig_atomic_t *cancel)
{
    if (!et__content_hash(j->path, j->size, j->hash)) {
        j->st = et_fail(j->reason, ET_E_IO, "cannot read: %s", strerror(errno));
        return;
    }
    j->st = et_audio_probe(j->path, &j->info, j->reason);
    if (j->st == ET_E_UNSUPPORTED && !audio_name(j->path)) {
        j->ignored = 1; /* a cover picture, a playlist, a text file */
        return;
    }
    if (j->st == ET_OK)
        j->st = et_audio_analyze(j->path, cancel, &j->f, j->reason);
}

static void *worker(void *arg)
{
    pool *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        size_t i = p->next < p->n && !cancelled(p->cancel) ? p->next++ : SIZE_MAX;
        pthread_mutex_unlock(&p->mu);
        if (i == SIZE_MAX)
            break;
        run_job(&p->jobs[i], p->cancel);
        pthread_mutex_lock(&p->mu);
        p->jobs[i].done = 1;
        pthread_cond_broadcast(&p->done_cv);
        pthread_mutex_unlock(&p->mu);
    }
    /* wake the collector so it notices the end */
    pthread_mutex_lock(&p->mu);
    pthread_cond_broadcast(&p->done_cv);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Waits until job i is done; false when it never will be (cancelled). */
static bool wait_job(pool *p, size_t i)
{
    pthread_mutex_lock(&p->mu);
    while (!p->jobs[i].done && !(cancelled(p->cancel) && i >= p->next)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 200 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000L)
            ts.tv_sec++, ts.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&p->done_cv, &p->mu, &ts);
    }
    bool done = p->jobs[i].done;
    pthread_mutex_unlock(&p->mu);
    return done;
}

static json_t *str_or_null(const char *s)
{
    char *u = s ? et__utf8_copy(s) : NULL;
    json_t *v = u ? json_string(u) : json_null();
    free(u);
    return v;
}

/* The file name without folder and extension: the title of untagged files. */
static char *title_from_name(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    char *t = strndup(base, dot && dot > base ? (size_t)(dot - base) : strlen(base));
    char *u = t ? et__utf8_copy(t) : NULL;
    free(t);
    return u;
}

static json_t *features_json(const et_audio_features *f)
{
    json_t *chroma = json_array();
    for (int i = 0; i < 12; i++)
        json_array_append_new(chroma, json_real(f->chroma[i]));
    return json_pack("{s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:o,s:s,s:s,s:f}",
                     "loudness", f->loudness, "loudness_range", f->loudness_range, "rms", f->rms,
                     "rms_var", f->rms_var, "tempo", f->tempo, "tempo_confidence",
                     f->tempo_confidence, "onset_rate", f->onset_rate, "centroid", f->centroid,
                     "rolloff", f->rolloff, "flatness", f->flatness, "chroma", chroma, "key",
                     et_audio_key_name(f->key), "mode", f->major ? "major" : "minor",
                     "key_confidence", f->key_confidence);
}

/* The fields of a file track that the scan owns, from a finished job: all
 * but its path (set by apply_change), the listener's "mood" and what is
 * derived from it ("valence", "arousal"), and whatever others add. */
static json_t *scan_fields(const job *j)
{
    const et_audio_info *in = &j->info;
    char *title = in->title ? NULL : title_from_name(j->path);
    double valence, arousal;
    et_audio_estimate_mood(&j->f, in->genre, &valence, &arousal);
    json_t *doc = json_object();
    json_object_set_new(doc, "kind", json_string("file"));
    json_object_set_new(doc, "size", json_integer(j->size));
    json_object_set_new(doc, "mtime", json_integer(j->mtime));
    json_object_set_new(doc, "hash", json_string(j->hash));
    json_object_set_new(doc, "title", in->title ? str_or_null(in->title) : str_or_null(title));
    json_object_set_new(doc, "artist", str_or_null(in->artist));
    json_object_set_new(doc, "album", str_or_null(in->album));
    json_object_set_new(doc, "album_artist", str_or_null(in->album_artist));
    json_object_set_new(doc, "genre", str_or_null(in->genre));
    json_object_set_new(doc, "year", in->year ? json_integer(in->year) : json_null());
    json_object_set_new(doc, "track", in->track ? json_integer(in->track) : json_null());
    json_object_set_new(doc, "duration", json_real(j->f.seconds > 0 ? j->f.seconds : in->duration));
    json_object_set_new(doc, "codec", json_string(in->codec));
    json_object_set_new(doc, "sample_rate", json_integer(in->sample_rate));
    json_object_set_new(doc, "channels", json_integer(in->channels));
    json_object_set_new(doc, "cover", json_boolean(in->has_cover));
    json_object_set_new(doc, "features", features_json(&j->f));
    json_object_set_new(doc, "estimate", json_pack("{s:f,s:f}", "valence", valence, "arousal",
                                                   arousal));
    json_object_set_new(doc, "missing", json_false());
    free(title);
    return doc;
}

/* What the scan does to one track, applied by apply_change inside an atomic
 * update of the stored document as it is at that moment. */
typedef enum change_kind {
    CHANGE_FILE,    /* a file analysed: its fields (and path) replace the scan's old ones */
    CHANGE_MISSING, /* its file is gone: "missing" becomes true */
    CHANGE_PRUNE,   /* its file is gone: the track is deleted */
} change_kind;

typedef struct change {
    change_kind kind;
    const char *path;     /* FILE: where the file is; MISSING, PRUNE: where it was */
    const json_t *fields; /* FILE: scan_fields */
} change;

static et_status copy_doc(const char *old, size_t old_len, char **out, size_t *out_len,
                          char *err)
{
    *out = NULL, *out_len = 0;
    if (!old)
        return ET_OK; /* absent, and it stays so */
    if (!(*out = malloc(old_len + 1)))
        return et_fail(err, ET_E_NOMEM, "out of memory writing the library");
    memcpy(*out, old, old_len);
    (*out)[old_len] = '\0';
    *out_len = old_len;
    return ET_OK;
}

/* The et_store_update_fn of every scan write. A track found missing is
 * changed only while its document still has the path the scan knew: a scan
 * running meanwhile may have found it moved, or someone may have deleted it.
 * Called again on a retry, so it leaves *user as it was. */
static et_status apply_change(void *user, const char *old, size_t old_len, char **out,
                              size_t *out_len, char *err)
{
    const change *c = user;
    json_t *doc = old ? json_loadb(old, old_len, 0, NULL) : NULL;
    char path[PATH_MAX];
    bool there = json_is_object(doc) && et__track_path(doc, path, sizeof path) &&
                 !strcmp(path, c->path);
    if (c->kind != CHANGE_FILE && !there) {
        json_decref(doc);
        return copy_doc(old, old_len, out, out_len, err);
    }
    *out = NULL, *out_len = 0;
    if (c->kind == CHANGE_PRUNE) {
        json_decref(doc);
        return ET_OK;
    }
    if (!json_is_object(doc)) { /* new, or unreadable: the scan's facts alone */
        json_decref(doc);
        doc = json_object();
    }
    if (c->kind == CHANGE_MISSING) {
        json_object_set_new(doc, "missing", json_true());
    } else {
        json_object_update(doc, (json_t *)c->fields);
        et__track_set_path(doc, c->path);
        if (!json_object_get(doc, "mood"))
            json_object_set_new(doc, "mood", json_null());
        et__track_apply_mood(doc);
    }
    *out = json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(6));
    *out_len = *out ? strlen(*out) : 0;
    json_decref(doc);
    return *out ? ET_OK : et_fail(err, ET_E_NOMEM, "out of memory writing the library");
}

/* Writes one change at once, after the test hook of library.h. */
static et_status write_change(et_store *s, const char *id, const change *c, char *err)
{
    et_status st = et__test_hook("EMOTUNE_TEST_SCAN_WRITE_FIFO", err);
    char why[ET_ERR_MAX];
    if (st == ET_OK && (st = et_store_update(s, ET_LIBRARY_TRACKS, id, apply_change, (void *)c,
                                             why)) != ET_OK)
        et_fail(err, st, "track %s: %s", id, why);
    return st;
}

typedef struct scan_run {
    et_store *s;
    const et_scan_opts *opts;
    et_scan_summary *sum;
    known_set ks;
    walker w;
    id_set new_ids;
    char **roots;
    size_t nroots;
    double start, last_progress;
    size_t done;      /* files dealt with (progress) */
    bool walked;
    size_t unstamped; /* tracks written since the library's stamp was last bumped */
    double stamped_at;
    char *err;
} scan_run;

/* How often, at most, a scan that writes bumps the library's stamp (so that
 * servers see the new tracks while it goes on), in seconds. */
#define STAMP_EVERY_S 1.0

/* Bumps the library's stamp when tracks were written since the last bump,
 * and `now` or STAMP_EVERY_S after it. */
static et_status stamp_written(scan_run *r, bool now, char *err)
{
    double t = et_now();
    if (!r->unstamped || (!now && t - r->stamped_at < STAMP_EVERY_S))
        return ET_OK;
    char why[ET_ERR_MAX];
    et_status st = et_library_stamp_bump(r->s, NULL, why);
    if (st != ET_OK)
        return et_fail(err, st, "bumping the library's stamp: %s", why);
    r->unstamped = 0;
    r->stamped_at = t;
    return ET_OK;
}

/* "f-" + content hash, with a suffix for a second copy of the same file. */
static et_status new_track_id(scan_run *r, const char *hash, char *id, size_t len)
{
    for (int n = 1;; n++) {
        if (n == 1)
            snprintf(id, len, "f-%s", hash);
        else
            snprintf(id, len, "f-%s-%d", hash, n);
        if (id_set_has(&r->new_ids, id))
            continue;
        char *doc;
        et_status st = et_store_get(r->s, ET_LIBRARY_TRACKS, id, &doc, NULL, r->err);
        free(doc);
        if (st == ET_OK)
            continue;
        if (st != ET_E_NOT_FOUND)
            return st;
        return id_set_add(&r->new_ids, id) < 0 ? et_fail(r->err, ET_E_NOMEM, "out of memory")
                                                : ET_OK;
    }
}

static et_status collect(scan_run *r, job *j)
{
    if (j->ignored)
        return ET_OK;
    r->sum->scanned++;
    if (j->st != ET_OK) {
        if (cancelled(r->opts->cancel))
            return ET_OK; /* stopped by the listener, not broken */
        /* the summary names the file already */
        size_t plen = strlen(j->path);
        const char *why = !strncmp(j->reason, j->path, plen) && !strncmp(j->reason + plen, ": ", 2)
                              ? j->reason + plen + 2
                              : j->reason;
        return add_failure(r->sum, &r->w.failure_cap, j->path, why) == ET_OK
                   ? ET_OK
                   : et_fail(r->err, ET_E_NOMEM, "out of memory");
    }
    char id[64];
    known *moved = NULL;
    if (j->k) {
        snprintf(id, sizeof id, "%s", j->k->id);
        r->sum->updated++;
    } else if ((moved = moved_from(&r->ks, j->hash))) {
        snprintf(id, sizeof id, "%s", moved->id);
        moved->seen = 1;
        r->sum->moved++;
    } else {
        et_status st = new_track_id(r, j->hash, id, sizeof id);
        if (st != ET_OK)
            return st;
        r->sum->added++;
    }
    json_t *fields = scan_fields(j);
    change c = {CHANGE_FILE, j->path, fields};
    et_status st = fields ? write_change(r->s, id, &c, r->err)
                          : et_fail(r->err, ET_E_NOMEM, "out of memory writing the library");
    json_decref(fields);
    r->sum->audio_seconds += j->f.seconds;
    r->unstamped += st == ET_OK;
    return st == ET_OK ? stamp_written(r, false, r->err) : st;
}

/* Tracks under the scanned folders that the walk did not find. */
static et_status mark_missing(scan_run *r)
{
    for (size_t i = 0; i < r->ks.n; i++) {
        known *k = &r->ks.items[i];
        if (k->seen || !et_library_path_under(k->path, r->roots, r->nroots))
            continue;
        bool prune = r->opts->prune;
        ++*(prune ? &r->sum->pruned : &r->sum->missing);
        if (!prune && k->missing)
            continue; /* marked so already */
        change c = {prune ? CHANGE_PRUNE : CHANGE_MISSING, k->path, NULL};
        et_status st = write_change(r->s, k->id, &c, r->err);
        if (st != ET_OK)
            return st;
        r->unstamped++;
    }
    return ET_OK;
}

static void show_progress(scan_run *r, size_t done, size_t total, int final)
{
    double now = et_now();
    if (!r->opts->progress || (!final && now - r->last_progress < 0.25))
        return;
    r->last_progress = now;
    double wall = now - r->start, speed = wall > 0 ? r->sum->audio_seconds / wall : 0;
    double left = done ? wall / (double)done * (double)(total - done) : 0;
    fprintf(stderr, "\rscan: %zu/%zu files, %.1f h of audio, %.0fx real time, %d:%02d left   %s",
            done, total, r->sum->audio_seconds / 3600, speed, (int)left / 60, (int)left % 60,
            final ? "\n" : "");
    fflush(stderr);
}

static et_status analyse_all(scan_run *r)
{
    int threads = r->opts->jobs > 0 ? r->opts->jobs : (int)sysconf(_SC_NPROCESSORS_ONLN);
    threads = threads < 1 ? 1 : threads > 64 ? 64 : threads;
    pool p = {.jobs = r->w.jobs, .n = r->w.n, .cancel = r->opts->cancel};
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.done_cv, NULL);
    pthread_t tid[64];
    int started = 0;
    while (started < threads && started < (int)(p.n ? p.n : 0) &&
           pthread_create(&tid[started], NULL, worker, &p) == 0)
        started++;
    if (!started && p.n)
        worker(&p); /* no thread could start: do it here */
    et_status st = ET_OK;
    for (size_t i = 0; i < p.n && st == ET_OK; i++) {
        if (!wait_job(&p, i))
            break;
        st = collect(r, &p.jobs[i]);
        show_progress(r, i + 1, p.n, 0);
        r->done = r->sum->unchanged + i + 1;
        progress(r->opts, files_found(&r->w), r->done, true, false, r->sum);
    }
    if (st != ET_OK) { /* stop the workers soon: nothing more will be written */
        pthread_mutex_lock(&p.mu);
        p.next = p.n;
        pthread_mutex_unlock(&p.mu);
    }
    for (int t = 0; t < started; t++)
        pthread_join(tid[t], NULL);
    pthread_mutex_destroy(&p.mu);
    pthread_cond_destroy(&p.done_cv);
    return st;
}

static et_status resolve_roots(scan_run *r, const char *const *dirs, size_t ndirs)
{
    r->roots = calloc(ndirs ? ndirs : 1, sizeof *r->roots);
    if (!r->roots)
        return et_fail(r->err, ET_E_NOMEM, "out of memory");
    for (size_t i = 0; i < ndirs; i++) {
        char *real = realpath(dirs[i], NULL);
        struct stat st;
        if (!real || stat(real, &st) != 0 || !S_ISDIR(st.st_mode)) {
            free(real);
            return et_fail(r->err, ET_E_IO, "%s: not a folder that can be read", dirs[i]);
        }
        r->roots[r->nroots++] = real;
    }
    return ET_OK;
}

static void scan_run_free(scan_run *r)
{
    for (size_t i = 0; i < r->w.n; i++) {
        free(r->w.jobs[i].path);
        et_audio_info_free(&r->w.jobs[i].info);
    }
    free(r->w.jobs);
    id_set_free(&r->w.dirs);
    id_set_free(&r->new_ids);
    known_free(&r->ks);
    for (size_t i = 0; i < r->nroots; i++)
        free(r->roots[i]);
    free(r->roots);
}

et_status et_library_scan(et_store *s, const char *const *dirs, size_t ndirs,
                          const et_scan_opts *opts, et_scan_summary *sum, char *err)
{
    memset(sum, 0, sizeof *sum);
    et_scan_opts defaults = {0};
    scan_run r = {.s = s, .opts = opts ? opts : &defaults, .sum = sum, .err = err};
    r.start = et_now();
    r.w = (walker){.ks = &r.ks, .sum = sum, .cancel = r.opts->cancel, .opts = r.opts,
                   .err = err};
    et_status st = resolve_roots(&r, dirs, ndirs);
    if (st == ET_OK)
        st = et__library_record_roots(s, r.roots, r.nroots, err);
    if (st == ET_OK)
        st = known_load(s, &r.ks, err);
    for (size_t i = 0; st == ET_OK && i < r.nroots; i++)
        st = walk(&r.w, r.roots[i], 0);
    if (st == ET_OK) {
        r.walked = true;
        r.done = sum->unchanged;
        progress(r.opts, files_found(&r.w), r.done, true, false, sum);
    }
    if (st == ET_OK)
        st = et__test_hook("EMOTUNE_TEST_SCAN_FIFO", err);
    if (st == ET_OK)
        st = analyse_all(&r);
    sum->cancelled = cancelled(r.opts->cancel);
    if (st == ET_OK && !sum->cancelled)
        st = mark_missing(&r);
    /* what was written is announced, whatever stopped the scan */
    char why[ET_ERR_MAX];
    et_status stamped = stamp_written(&r, true, why);
    if (st == ET_OK && stamped != ET_OK)
        st = et_fail(err, stamped, "%s", why);
    show_progress(&r, r.w.n, r.w.n, 1);
    sum->wall_seconds = et_now() - r.start;
    progress(r.opts, files_found(&r.w), r.done, r.walked, true, sum);
    scan_run_free(&r);
    return st;
}

void et_scan_summary_free(et_scan_summary *sum)
{
    for (size_t i = 0; i < sum->failed; i++)
        free(sum->failures[i].path), free(sum->failures[i].reason);
    free(sum->failures);
    sum->failures = NULL;
}

/* Sets or clears "mood" inside an atomic read-modify-write. */
static et_status retag(void *user, const char *old, size_t old_len, char **out, size_t *out_len,
                       char *err)
{
    const char *mood = user;
    json_t *doc = old ? json_loadb(old, old_len, 0, NULL) : NULL;
    if (!json_is_object(doc)) {
        json_decref(doc);
        return et_fail(err, old ? ET_E_CORRUPT : ET_E_NOT_FOUND,
                       old ? "the track is not a JSON object" : "no such track");
    }
    json_object_set_new(doc, "mood", mood ? json_string(mood) : json_null());
    et__track_apply_mood(doc);
    *out = json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(6));
    *out_len = *out ? strlen(*out) : 0;
    json_decref(doc);
    return *out ? ET_OK : et_fail(err, ET_E_NOMEM, "out of memory");
}

et_status et_library_tag(et_store *s, const char *track_id, const char *mood, char *err)
{
    double v, a;
    char name[32] = "";
    if (mood) {
        if (!et_mood_named_point(mood, &v, &a))
            return et_fail(err, ET_E_INVALID, "unknown mood '%s'", mood);
        /* stored as the canonical lower-case word, without spaces */
        size_t n = 0;
        for (const char *p = mood; *p && n < sizeof name - 1; p++)
            if (*p != ' ' && *p != '\t')
                name[n++] = (char)((*p >= 'A' && *p <= 'Z') ? *p + 32 : *p);
        name[n] = '\0';
    }
    char why[ET_ERR_MAX];
    et_status st = et_store_update(s, ET_LIBRARY_TRACKS, track_id, retag, mood ? name : NULL, why);
    if (st != ET_OK)
        return et_fail(err, st, "track %s: %s", track_id, why);
    if ((st = et_library_stamp_bump(s, NULL, why)) != ET_OK)
        return et_fail(err, st, "track %s is tagged, but the library's stamp could not be "
                                "bumped: %s", track_id, why);
    return ET_OK;
}
