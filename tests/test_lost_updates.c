/* No lost update (issue 23): every change of a listener's stored documents
 * through the HTTP API applies only what the request changes, inside the
 * store's atomic update, so that requests at the same moment, each
 * acknowledged, all stay: the profile (two fields changed at once), the
 * feedback and its count, the stated mood and the history's retention, the
 * queued tracks. Each runs on LMDB and on a real redis-server, with a real
 * server on loopback and threads of their own connections. Also the
 * feedback's retention (feedback_days, feedback_max), the reads of the
 * newest feedback that cost what they return, the store's backward walk
 * they use, and listener names the store would refuse as ids. */
#include <arpa/inet.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/core.h"
#include "listener/listener.h"
#include "mood/mood.h"
#include "nn/nn.h"
#include "server/server.h"
#include "store/store.h"
#include "http_support.h"
#include "support.h"

/* Pairs of profile changes sent at once (issue 23's review lost 281 of 300). */
#define PROFILE_PAIRS 100
/* Feedback each of two threads posts at once. */
#define FEEDBACK_EACH 25
#define T0 1700000000.0

typedef struct fixture {
    ts_backend *b;
    et_server *server;
    int port;
} fixture;

static int group_lmdb(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f || ts_backend_lmdb_setup((void **)&f->b) != 0)
        return free(f), -1;
    *state = f;
    return 0;
}

static int group_redis(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f || ts_backend_redis_setup((void **)&f->b) != 0)
        return free(f), -1;
    *state = f;
    return 0;
}

static int group_end(void **state)
{
    fixture *f = *state;
    if (!f)
        return 0;
    ts_backend_teardown((void **)&f->b);
    free(f);
    return 0;
}

/* Each test: an empty store and a server on it (4 workers, no frame limit). */
static int fresh(void **state)
{
    fixture *f = *state;
    ts_backend_fresh(f->b);
    et_server_opts o = et_server_default_opts();
    o.listen = "127.0.0.1:0";
    o.store_uri = f->b->uri;
    o.models_dir = ts_models_dir();
    o.threads = 4;
    o.frames_per_s = 0;
    char err[ET_ERR_MAX];
    if (et_server_start(&o, &f->server, err) != ET_OK) {
        fprintf(stderr, "server on %s: %s\n", f->b->uri, err);
        return -1;
    }
    f->port = et_server_port(f->server);
    return 0;
}

static int stop(void **state)
{
    fixture *f = *state;
    et_server_stop(f->server);
    f->server = NULL;
    return 0;
}

static et_store *open_store(const fixture *f, et_store_stats *stats)
{
    et_store_opts o = et_store_default_opts();
    o.stats = stats;
    et_store *s;
    char err[ET_ERR_MAX];
    if (et_store_open(f->b->uri, &o, &s, err) != ET_OK)
        fail_msg("open %s: %s", f->b->uri, err);
    return s;
}

/* A file track of `duration` seconds at mood point (v, a). */
static void put_track(et_store *s, const char *id, double v, double a, double duration)
{
    char json[512], err[ET_ERR_MAX];
    snprintf(json, sizeof json,
             "{\"kind\":\"file\",\"path\":\"/music/%s.flac\",\"title\":\"Song %s\","
             "\"artist\":\"Artist %s\",\"genre\":\"rock\",\"duration\":%g,\"valence\":%g,"
             "\"arousal\":%g,\"features\":{\"tempo\":100},\"missing\":false}",
             id, id, id, duration, v, a);
    if (et_store_put(s, "tracks", id, json, strlen(json), err) != ET_OK)
        fail_msg("put %s: %s", id, err);
}

/* ---- a client safe in threads: no cmocka call off the main thread ---- */

/* Sends one request on its own connection and reads the reply; the status
 * (-1 when the exchange failed) and, when body_out, the reply's body
 * (caller frees). */
static int request(int port, const char *method, const char *path, const char *body,
                   char **body_out)
{
    if (body_out)
        *body_out = NULL;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    char head[512];
    size_t blen = body ? strlen(body) : 0;
    int hlen = snprintf(head, sizeof head,
                        "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n"
                        "%sContent-Length: %zu\r\n\r\n",
                        method, path, port, body ? "Content-Type: application/json\r\n" : "",
                        blen);
    int status = -1;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        write(fd, head, (size_t)hlen) != hlen || (blen && write(fd, body, blen) != (ssize_t)blen))
        goto done;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            char *grown = realloc(buf, cap = cap ? 2 * cap : 8192);
            if (!grown)
                goto done;
            buf = grown;
        }
        ssize_t got = read(fd, buf + n, cap - n - 1);
        if (got <= 0)
            break;
        n += (size_t)got;
    }
    if (!buf || sscanf(buf, "HTTP/1.1 %d", &status) != 1) {
        status = -1;
        goto done;
    }
    buf[n] = '\0';
    char *start = strstr(buf, "\r\n\r\n");
    if (body_out && start)
        *body_out = strdup(start + 4);
done:
    free(buf);
    close(fd);
    return status;
}

/* A request from the main thread: its JSON reply (caller frees), the
 * status checked. */
static json_t *api(const fixture *f, const char *method, const char *path, const char *body,
                   int want)
{
    char *text = NULL;
    int status = request(f->port, method, path, body, &text);
    if (status != want)
        fail_msg("%s %s: status %d, expected %d: %.300s", method, path, status, want,
                 text ? text : "");
    json_t *doc = text ? json_loads(text, 0, NULL) : NULL;
    free(text);
    if (!doc)
        fail_msg("%s %s: not JSON", method, path);
    return doc;
}

/* ---- requests sent at once by two threads ---- */

typedef struct racer {
    int port;
    pthread_barrier_t *start;
    int rounds;
    /* the request of round i into method, path, body */
    void (*make)(const struct racer *r, int i, char *path, size_t plen, char *body,
                 size_t blen);
    const char *method;
    int side;        /* 0 or 1 */
    const void *ctx; /* the test's */
    int acked, failed; /* 2xx replies; others (status in last_bad) */
    int last_bad;
} racer;

static void *race(void *user)
{
    racer *r = user;
    for (int i = 0; i < r->rounds; i++) {
        char path[256], body[256];
        r->make(r, i, path, sizeof path, body, sizeof body);
        pthread_barrier_wait(r->start); /* both sides' round i together */
        int status = request(r->port, r->method, path, *body ? body : NULL, NULL);
        if (status >= 200 && status < 300)
            r->acked++;
        else
            r->failed++, r->last_bad = status;
    }
    return NULL;
}

/* Runs two racers to the end; fails the test unless every request of both
 * was acknowledged. */
static void race_pair(racer r[2])
{
    pthread_barrier_t start;
    assert_int_equal(pthread_barrier_init(&start, NULL, 2), 0);
    pthread_t t[2];
    for (int k = 0; k < 2; k++) {
        r[k].start = &start;
        r[k].side = k;
        assert_int_equal(pthread_create(&t[k], NULL, race, &r[k]), 0);
    }
    for (int k = 0; k < 2; k++)
        pthread_join(t[k], NULL);
    pthread_barrier_destroy(&start);
    for (int k = 0; k < 2; k++)
        if (r[k].failed)
            fail_msg("side %d: %d of %d requests not acknowledged (last status %d)", k,
                     r[k].failed, r[k].rounds, r[k].last_bad);
}

/* ---- the profile ---- */

static double tau_of(int i) { return 1.0 + 0.01 * i; }
static double hold_of(int i) { return 0.5 + 0.01 * i; }

static void profile_change(const racer *r, int i, char *path, size_t plen, char *body,
                           size_t blen)
{
    snprintf(path, plen, "/api/v1/listeners/pair%d/profile", i);
    if (r->side == 0)
        snprintf(body, blen, "{\"tau_s\": %.2f}", tau_of(i));
    else
        snprintf(body, blen, "{\"hold_s\": %.2f}", hold_of(i));
}

static void profile_changes_of_two_fields_at_once_both_stay(void **state)
{
    fixture *f = *state;
    racer r[2] = {{.port = f->port, .rounds = PROFILE_PAIRS, .make = profile_change,
                   .method = "PUT"},
                  {.port = f->port, .rounds = PROFILE_PAIRS, .make = profile_change,
                   .method = "PUT"}};
    race_pair(r);
    int lost = 0;
    for (int i = 0; i < PROFILE_PAIRS; i++) {
        char path[128];
        snprintf(path, sizeof path, "/api/v1/listeners/pair%d/profile", i);
        json_t *p = api(f, "GET", path, NULL, 200);
        double tau = json_number_value(json_object_get(p, "tau_s"));
        double hold = json_number_value(json_object_get(p, "hold_s"));
        lost += fabs(tau - tau_of(i)) > 1e-9 || fabs(hold - hold_of(i)) > 1e-9;
        json_decref(p);
    }
    fprintf(stderr, "%s: %d of %d pairs of profile changes lost one\n", f->b->name, lost,
            PROFILE_PAIRS);
    assert_int_equal(lost, 0);
}

static void a_change_that_makes_a_bad_profile_writes_nothing(void **state)
{
    fixture *f = *state;
    const char *path = "/api/v1/listeners/ann/profile";
    json_decref(api(f, "PUT", path, "{\"feedback_max\": 7, \"hold_s\": 4}", 200));
    static const char *const bad[] = {
        "{\"tau_s\": 0}",          "{\"tau_s\": 2, \"hold_s\": 601}",
        "{\"feedback_max\": 0}",   "{\"feedback_max\": 2.5}",
        "{\"feedback_days\": 0}",  "{\"feedback_days\": 36501}",
        "{\"history_max\": 1e7}",  "{\"policy\": \"loud\", \"tau_s\": 5}",
        "{\"feedback_max\": \"9\"}", "{\"colour\": 1}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        json_decref(api(f, "PUT", path, bad[i], 400));
    json_t *p = api(f, "GET", path, NULL, 200);
    /* the first change stays, the defaults around it, nothing of the refused */
    assert_int_equal(json_integer_value(json_object_get(p, "feedback_max")), 7);
    assert_true(json_number_value(json_object_get(p, "hold_s")) == 4);
    assert_true(json_number_value(json_object_get(p, "tau_s")) == 3);
    assert_true(json_number_value(json_object_get(p, "feedback_days")) == 365);
    assert_int_equal(json_integer_value(json_object_get(p, "history_max")), 10000);
    assert_string_equal(json_string_value(json_object_get(p, "policy")), "match");
    assert_true(json_is_true(json_object_get(p, "stored")));
    json_decref(p);
    /* a listener nobody set: nothing stored by a refused change */
    json_decref(api(f, "PUT", "/api/v1/listeners/bob/profile", "{\"tau_s\": -1}", 400));
    p = api(f, "GET", "/api/v1/listeners/bob/profile", NULL, 200);
    assert_true(json_is_false(json_object_get(p, "stored")));
    json_decref(p);
}

/* The library's change of a profile field by field, as the server's. */
static void profile_update_merges_into_what_is_stored(void **state)
{
    fixture *f = *state;
    et_store *s = open_store(f, NULL);
    char err[ET_ERR_MAX];
    const char *doc = "{\"policy\":\"calm\",\"tau_s\":9,\"mine\":\"kept\"}";
    assert_int_equal(et_store_put(s, "profiles", "cy/profile", doc, strlen(doc), err), ET_OK);
    et_listener_profile_change ch = {.set = ET_LISTENER_SET_FEEDBACK_DAYS};
    ch.to.feedback_days = 30;
    ch.to.tau_s = 500; /* not in set: not taken */
    et_listener_profile p;
    assert_int_equal(et_listener_profile_update(s, "cy", &ch, &p, err), ET_OK);
    assert_true(p.feedback_days == 30 && p.tau_s == 9 && p.policy == ET_REC_CALM && p.stored);
    char *json;
    assert_int_equal(et_store_get(s, "profiles", "cy/profile", &json, NULL, err), ET_OK);
    assert_non_null(strstr(json, "\"mine\":\"kept\""));
    free(json);
    ch = (et_listener_profile_change){.set = ET_LISTENER_SET_TAU | ET_LISTENER_SET_HOLD};
    ch.to.tau_s = 1;
    ch.to.hold_s = -1;
    assert_int_equal(et_listener_profile_update(s, "cy", &ch, &p, err), ET_E_INVALID);
    assert_non_null(strstr(err, "hold"));
    assert_int_equal(et_listener_profile_load(s, "cy", &p, err), ET_OK);
    assert_true(p.tau_s == 9 && p.feedback_days == 30);
    et_store_close(s);
}

/* ---- feedback ---- */

static void feedback_post(const racer *r, int i, char *path, size_t plen, char *body,
                          size_t blen)
{
    (void)i;
    snprintf(path, plen, "/api/v1/listeners/%s/feedback", (const char *)r->ctx);
    snprintf(body, blen, "{\"track\": \"t1\", \"kind\": \"%s\", \"mood\": \"happy\"}",
             r->side ? "like" : "complete");
}

static int count_one(void *user, const char *id, const char *json, size_t len)
{
    (void)json, (void)len;
    size_t *n = user;
    if (strncmp(id, "fay/", 4) != 0)
        return 1;
    ++*n;
    return 0;
}

/* The feedback documents of fay in the store. */
static size_t stored_feedback(const fixture *f)
{
    et_store *s = open_store(f, NULL);
    char err[ET_ERR_MAX];
    size_t n = 0;
    assert_int_equal(et_store_iterate(s, "feedback", "fay/", 0, count_one, &n, err), ET_OK);
    et_store_close(s);
    return n;
}

static json_t *feedback_list(const fixture *f, int limit)
{
    char path[128];
    snprintf(path, sizeof path, "/api/v1/listeners/fay/feedback?limit=%d", limit);
    return api(f, "GET", path, NULL, 200);
}

static void feedback_posted_at_once_is_all_counted_and_stays_bounded(void **state)
{
    fixture *f = *state;
    et_store *s = open_store(f, NULL);
    put_track(s, "t1", 0.5, 0.5, 200);
    et_store_close(s);
    racer r[2] = {{.port = f->port, .rounds = FEEDBACK_EACH, .make = feedback_post,
                   .method = "POST", .ctx = "fay"},
                  {.port = f->port, .rounds = FEEDBACK_EACH, .make = feedback_post,
                   .method = "POST", .ctx = "fay"}};
    race_pair(r);
    json_t *l = feedback_list(f, 1000);
    assert_int_equal(json_integer_value(json_object_get(l, "total")), 2 * FEEDBACK_EACH);
    assert_int_equal(json_array_size(json_object_get(l, "feedback")), 2 * FEEDBACK_EACH);
    json_decref(l);
    assert_int_equal(stored_feedback(f), 2 * FEEDBACK_EACH);

    /* now at most 5: the next posts prune the oldest, all at once too */
    json_decref(api(f, "PUT", "/api/v1/listeners/fay/profile", "{\"feedback_max\": 5}", 200));
    r[0].acked = r[1].acked = 0;
    race_pair(r);
    size_t kept = stored_feedback(f);
    l = feedback_list(f, 1);
    json_int_t total = json_integer_value(json_object_get(l, "total"));
    assert_int_equal(json_array_size(json_object_get(l, "feedback")), 1);
    json_decref(l);
    fprintf(stderr, "%s: %d feedback posted, %zu kept with feedback_max 5 (total %lld)\n",
            f->b->name, 4 * FEEDBACK_EACH, kept, (long long)total);
    assert_true(kept >= 1 && kept <= 5);
    assert_int_equal((size_t)total, kept);
}

/* Feedback at T0 + i seconds, on t1. */
static void add_feedback(et_store *s, const char *name, double t)
{
    et_listener_feedback fb = {.time = t, .kind = ET_REC_LIKE, .at_s = -1, .valence = 0.5,
                               .arousal = 0.5};
    snprintf(fb.track, sizeof fb.track, "t1");
    snprintf(fb.mood, sizeof fb.mood, "happy");
    char err[ET_ERR_MAX];
    if (et_listener_feedback_add(s, name, &fb, err) != ET_OK)
        fail_msg("feedback at %.0f: %s", t, err);
}

#define MANY_FEEDBACK 200

static void the_newest_feedback_costs_what_it_returns(void **state)
{
    fixture *f = *state;
    et_store_stats stats = {0};
    et_store *s = open_store(f, &stats);
    char err[ET_ERR_MAX];
    put_track(s, "t1", 0.5, 0.5, 200);
    for (int i = 0; i < MANY_FEEDBACK; i++)
        add_feedback(s, "fay", T0 + i);
    add_feedback(s, "fb", T0); /* a listener after fay's ids: "fay/" < "fb/" */
    et_listener_feedback *fb;
    size_t n, total;
    unsigned long before = atomic_load(&stats.docs_read);
    assert_int_equal(et_listener_feedback_newest(s, "fay", 1, &fb, &n, &total, err), ET_OK);
    unsigned long newest = atomic_load(&stats.docs_read) - before;
    assert_int_equal(n, 1);
    assert_int_equal(total, MANY_FEEDBACK);
    assert_true(fb[0].time == T0 + MANY_FEEDBACK - 1);
    free(fb);
    assert_int_equal(et_listener_feedback_newest(s, "fay", 3, &fb, &n, &total, err), ET_OK);
    assert_int_equal(n, 3);
    for (int k = 0; k < 3; k++)
        assert_true(fb[k].time == T0 + MANY_FEEDBACK - 1 - k);
    free(fb);
    before = atomic_load(&stats.docs_read);
    assert_int_equal(et_listener_feedbacks(s, "fay", &fb, &n, err), ET_OK);
    unsigned long all = atomic_load(&stats.docs_read) - before;
    free(fb);
    fprintf(stderr, "%s: the newest of %d feedback read %lu documents; all of it %lu\n",
            f->b->name, MANY_FEEDBACK, newest, all);
    /* the entry and the count, whatever the length */
    assert_true(newest <= 2);
    assert_true(all >= MANY_FEEDBACK);
    /* a listener without feedback: none, total 0 */
    assert_int_equal(et_listener_feedback_newest(s, "fax", 5, &fb, &n, &total, err), ET_OK);
    assert_true(n == 0 && total == 0 && fb == NULL);
    et_store_close(s);
}

static void feedback_is_kept_within_the_profiles_retention(void **state)
{
    fixture *f = *state;
    et_store *s = open_store(f, NULL);
    char err[ET_ERR_MAX];
    put_track(s, "t1", 0.5, 0.5, 200);
    et_listener_profile_change ch = {.set = ET_LISTENER_SET_FEEDBACK_MAX |
                                            ET_LISTENER_SET_FEEDBACK_DAYS};
    ch.to.feedback_max = 50;
    ch.to.feedback_days = 2;
    assert_int_equal(et_listener_profile_update(s, "fay", &ch, NULL, err), ET_OK);
    for (int i = 0; i < 120; i++)
        add_feedback(s, "fay", T0 + i);
    et_listener_feedback *fb;
    size_t n;
    assert_int_equal(et_listener_feedbacks(s, "fay", &fb, &n, err), ET_OK);
    assert_int_equal(n, 50);
    assert_true(fb[0].time == T0 + 70); /* the oldest 70 went */
    free(fb);
    /* two days and a bit later: everything older than two days goes */
    add_feedback(s, "fay", T0 + 2 * 86400 + 100);
    assert_int_equal(et_listener_feedbacks(s, "fay", &fb, &n, err), ET_OK);
    assert_int_equal(n, 21); /* T0+100 .. T0+119, and the new one */
    assert_true(fb[0].time == T0 + 100);
    free(fb);
    size_t total;
    assert_int_equal(et_listener_feedback_newest(s, "fay", 1, &fb, &n, &total, err), ET_OK);
    assert_int_equal(total, 21);
    free(fb);
    et_store_close(s);
}

/* A store from before the count: the first add counts what is there. */
static void the_feedback_count_starts_from_what_is_stored(void **state)
{
    fixture *f = *state;
    et_store *s = open_store(f, NULL);
    char err[ET_ERR_MAX];
    put_track(s, "t1", 0.5, 0.5, 200);
    for (int i = 0; i < 4; i++)
        add_feedback(s, "fay", T0 + i);
    assert_int_equal(et_store_del(s, "profiles", "fay/feedback_count", err), ET_OK);
    size_t n, total;
    et_listener_feedback *fb;
    assert_int_equal(et_listener_feedback_newest(s, "fay", 2, &fb, &n, &total, err), ET_OK);
    assert_int_equal(total, 4); /* counted by a walk, without the count */
    free(fb);
    add_feedback(s, "fay", T0 + 10);
    assert_int_equal(et_listener_feedback_newest(s, "fay", 1, &fb, &n, &total, err), ET_OK);
    assert_int_equal(total, 5);
    free(fb);
    et_store_close(s);
}

/* ---- the stated mood, the history's retention, the queued tracks ---- */

static void mood_put(const racer *r, int i, char *path, size_t plen, char *body, size_t blen)
{
    (void)i;
    snprintf(path, plen, "/api/v1/listeners/%s/mood", (const char *)r->ctx);
    snprintf(body, blen, "{\"mood\": \"%s\"}", r->side ? "sad" : "happy");
}

static void stated_moods_at_once_all_go_into_the_history_within_its_limit(void **state)
{
    fixture *f = *state;
    json_decref(api(f, "PUT", "/api/v1/listeners/mo/profile", "{\"history_max\": 1000}", 200));
    racer r[2] = {{.port = f->port, .rounds = 20, .make = mood_put, .method = "PUT",
                   .ctx = "mo"},
                  {.port = f->port, .rounds = 20, .make = mood_put, .method = "PUT",
                   .ctx = "mo"}};
    race_pair(r);
    json_t *h = api(f, "GET", "/api/v1/listeners/mo/history?limit=1000", NULL, 200);
    assert_int_equal(json_array_size(json_object_get(h, "moods")), 40);
    json_decref(h);
    /* the stated mood is one of the two, whole */
    json_t *m = api(f, "GET", "/api/v1/listeners/mo/mood", NULL, 200);
    const char *said = json_string_value(json_object_get(m, "name"));
    assert_non_null(said);
    assert_true(strcmp(said, "happy") == 0 || strcmp(said, "sad") == 0);
    json_decref(m);
    /* at most 6: the appends at once prune by an exact count */
    json_decref(api(f, "PUT", "/api/v1/listeners/mo/profile", "{\"history_max\": 6}", 200));
    race_pair(r);
    h = api(f, "GET", "/api/v1/listeners/mo/history?limit=1000", NULL, 200);
    size_t kept = json_array_size(json_object_get(h, "moods"));
    json_decref(h);
    fprintf(stderr, "%s: 40 stated moods at once with history_max 6: %zu kept\n", f->b->name,
            kept);
    assert_true(kept >= 1 && kept <= 6);
}

static void next_put(const racer *r, int i, char *path, size_t plen, char *body, size_t blen)
{
    (void)i, (void)blen;
    snprintf(path, plen, "/api/v1/listeners/%s/next?count=%d", (const char *)r->ctx,
             r->side + 1);
    *body = '\0';
}

static void tracks_handed_out_at_once_are_all_queued(void **state)
{
    fixture *f = *state;
    et_store *s = open_store(f, NULL);
    char id[32], err[ET_ERR_MAX];
    for (int i = 0; i < 40; i++) {
        snprintf(id, sizeof id, "t%02d", i);
        put_track(s, id, i % 2 ? 0.7 : -0.6, i % 3 ? 0.4 : -0.3, 200);
    }
    et_store_close(s);
    json_decref(api(f, "PUT", "/api/v1/listeners/qu/mood", "{\"mood\": \"happy\"}", 200));
    racer r[2] = {{.port = f->port, .rounds = 8, .make = next_put, .method = "GET",
                   .ctx = "qu"},
                  {.port = f->port, .rounds = 8, .make = next_put, .method = "GET",
                   .ctx = "qu"}};
    race_pair(r);
    s = open_store(f, NULL);
    et_listener_queued_track *q;
    size_t n;
    assert_int_equal(et_listener_queued(s, "qu", &q, &n, err), ET_OK);
    free(q);
    assert_int_equal(n, 8 * 1 + 8 * 2); /* every track handed out, by both */
    et_store_close(s);
}

/* ---- names, and the store's backward walk ---- */

static void names_the_store_refuses_as_ids_are_refused_by_name(void **state)
{
    fixture *f = *state;
    char err[ET_ERR_MAX];
    static const char *const bad[] = {"a..b", "..", "x..", "a...b"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(et_listener_check_name(bad[i], err), ET_E_INVALID);
        char path[128];
        snprintf(path, sizeof path, "/api/v1/listeners/%s/profile", bad[i]);
        char *body = NULL;
        int status = request(f->port, "GET", path, NULL, &body);
        free(body);
        assert_int_equal(status, 400);
    }
    json_decref(api(f, "PUT", "/api/v1/listeners/a..b/profile", "{\"tau_s\": 2}", 400));
    /* every name the check passes makes ids the store takes */
    static const char *const good[] = {"a.b", "a.", "a-.-b", "Z_9.x", "a._.b"};
    static const char *const suffix[] = {"/profile", "/feedback_count", "/history",
                                         "/000001700000000-0000abcd"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        assert_int_equal(et_listener_check_name(good[i], err), ET_OK);
        for (size_t k = 0; k < sizeof suffix / sizeof *suffix; k++) {
            char id[160];
            snprintf(id, sizeof id, "%s%s", good[i], suffix[k]);
            if (et_store_check_id(id, err) != ET_OK)
                fail_msg("%s: %s", id, err);
        }
    }
}

typedef struct seen {
    char ids[400][16];
    size_t n;
} seen;

static int note(void *user, const char *id, const char *json, size_t len)
{
    (void)json, (void)len;
    seen *s = user;
    snprintf(s->ids[s->n++], sizeof s->ids[0], "%s", id);
    return s->n == 400;
}

static void the_store_walks_backwards_from_a_bound(void **state)
{
    fixture *f = *state;
    et_store_stats stats = {0};
    et_store *s = open_store(f, &stats);
    char err[ET_ERR_MAX], id[16];
    /* more than a Redis page, in three collections side by side */
    for (int i = 0; i < 300; i++) {
        snprintf(id, sizeof id, "m/%03d", i);
        assert_int_equal(et_store_put(s, "mid", id, "1", 1, err), ET_OK);
    }
    assert_int_equal(et_store_put(s, "mic", "z", "1", 1, err), ET_OK);
    assert_int_equal(et_store_put(s, "mie", "a", "1", 1, err), ET_OK);
    assert_int_equal(et_store_put(s, "mid", "n/0", "1", 1, err), ET_OK);
    seen *v = calloc(1, sizeof *v);
    assert_int_equal(et_store_iterate_back(s, "mid", NULL, 2, note, v, err), ET_OK);
    assert_int_equal(v->n, 2);
    assert_string_equal(v->ids[0], "n/0");
    assert_string_equal(v->ids[1], "m/299");
    v->n = 0;
    assert_int_equal(et_store_iterate_back(s, "mid", "m0", 0, note, v, err), ET_OK);
    assert_int_equal(v->n, 300); /* all of m/, newest first, none of the others */
    for (int i = 0; i < 300; i++) {
        snprintf(id, sizeof id, "m/%03d", 299 - i);
        assert_string_equal(v->ids[i], id);
    }
    v->n = 0;
    /* a bound that is an id: below it only */
    assert_int_equal(et_store_iterate_back(s, "mid", "m/002", 0, note, v, err), ET_OK);
    assert_int_equal(v->n, 2);
    assert_string_equal(v->ids[0], "m/001");
    assert_string_equal(v->ids[1], "m/000");
    v->n = 0;
    /* below everything; a collection with nothing */
    assert_int_equal(et_store_iterate_back(s, "mid", "a", 0, note, v, err), ET_OK);
    assert_int_equal(et_store_iterate_back(s, "none", NULL, 0, note, v, err), ET_OK);
    assert_int_equal(v->n, 0);
    /* the reads are counted: a limit of 5 reads 5 */
    unsigned long before = atomic_load(&stats.docs_read);
    assert_int_equal(et_store_iterate_back(s, "mid", "m0", 5, note, v, err), ET_OK);
    assert_int_equal(atomic_load(&stats.docs_read) - before, 5);
    assert_int_equal(et_store_iterate_back(s, "mid", "bad..id", 1, note, v, err), ET_E_INVALID);
    free(v);
    et_store_close(s);
}

#define TESTS                                                                                 \
    cmocka_unit_test_setup_teardown(profile_changes_of_two_fields_at_once_both_stay, fresh,   \
                                    stop),                                                    \
        cmocka_unit_test_setup_teardown(a_change_that_makes_a_bad_profile_writes_nothing,     \
                                        fresh, stop),                                         \
        cmocka_unit_test_setup_teardown(profile_update_merges_into_what_is_stored, fresh,     \
                                        stop),                                                \
        cmocka_unit_test_setup_teardown(                                                      \
            feedback_posted_at_once_is_all_counted_and_stays_bounded, fresh, stop),           \
        cmocka_unit_test_setup_teardown(the_newest_feedback_costs_what_it_returns, fresh,     \
                                        stop),                                                \
        cmocka_unit_test_setup_teardown(feedback_is_kept_within_the_profiles_retention,       \
                                        fresh, stop),                                         \
        cmocka_unit_test_setup_teardown(the_feedback_count_starts_from_what_is_stored,        \
                                        fresh, stop),                                         \
        cmocka_unit_test_setup_teardown(                                                      \
            stated_moods_at_once_all_go_into_the_history_within_its_limit, fresh, stop),      \
        cmocka_unit_test_setup_teardown(tracks_handed_out_at_once_are_all_queued, fresh,      \
                                        stop),                                                \
        cmocka_unit_test_setup_teardown(names_the_store_refuses_as_ids_are_refused_by_name,   \
                                        fresh, stop),                                         \
        cmocka_unit_test_setup_teardown(the_store_walks_backwards_from_a_bound, fresh, stop)

int main(void)
{
    et_nn_set_blas_threads(1);
    const struct CMUnitTest on_lmdb[] = {TESTS};
    const struct CMUnitTest on_redis[] = {TESTS};
    int failed = cmocka_run_group_tests_name("lost updates on lmdb", on_lmdb, group_lmdb,
                                             group_end);
    failed += cmocka_run_group_tests_name("lost updates on redis", on_redis, group_redis,
                                          group_end);
    return failed;
}
