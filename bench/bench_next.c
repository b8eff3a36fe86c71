/* GET /api/v1/listeners/NAME/next on a real server (LMDB store in a
 * temporary directory, a catalogue of N links imported, a listener with a
 * mood and 200 feedbacks): the time of a request whose cache is cold (the
 * library's and the listener's feedback stamps bumped just before, so the
 * server loads both again: what every request cost before the cache)
 * against one whose cache is warm. Loopback HTTP, one client, requests one
 * at a time. One JSON line.
 *
 * usage: bench_next [N] [REPEAT]   (default 5000 tracks, 100 requests each) */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "library/library.h"
#include "library/library_internal.h"
#include "listener/listener.h"
#include "mood/mood.h"
#include "nn/nn.h"
#include "server/server.h"

#define FEEDBACKS 200

static void die(const char *what, const char *err)
{
    fprintf(stderr, "bench_next: %s: %s\n", what, err);
    exit(1);
}

/* One GET on a fresh connection; the HTTP status (0 on a socket error). */
static int get(int port, const char *path)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        if (fd >= 0)
            close(fd);
        return 0;
    }
    char req[512], buf[65536];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: localhost\r\n"
                                      "Connection: close\r\n\r\n", path);
    if (write(fd, req, (size_t)n) != n) {
        close(fd);
        return 0;
    }
    ssize_t got, total = 0;
    while ((got = read(fd, buf + total, sizeof buf - 1 - (size_t)total)) > 0)
        total += got;
    close(fd);
    buf[total > 0 ? total : 0] = '\0';
    int status = 0;
    sscanf(buf, "HTTP/1.1 %d", &status);
    return status;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median and mean of v[0..n) in milliseconds (v sorted). */
static void stats(double *v, int n, double *median, double *mean)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += v[i];
    *median = v[n / 2] * 1e3;
    *mean = sum / n * 1e3;
}

/* A catalogue of n links, four moods in turn, 500 artists. */
static char *catalogue(int n, size_t *len)
{
    static const char *const moods[] = {"happy", "sad", "calm", "angry"};
    size_t cap = (size_t)n * 96 + 64;
    char *csv = malloc(cap);
    size_t at = (size_t)snprintf(csv, cap, "url,title,artist,mood\n");
    for (int i = 0; i < n; i++)
        at += (size_t)snprintf(csv + at, cap - at,
                               "https://music.example.org/t/%d,Song %d,Artist %d,%s\n", i, i,
                               i % 500, moods[i % 4]);
    *len = at;
    return csv;
}

static void fill(et_store *st, int n)
{
    char err[ET_ERR_MAX];
    size_t len;
    char *csv = catalogue(n, &len);
    et_import_report r;
    if (et_library_import_data(st, csv, len, ET_CATALOG_CSV, "bench", NULL, &r, err) != ET_OK)
        die("import", err);
    et_import_report_free(&r);
    free(csv);
    et_listener_profile p;
    et_listener_profile_default("bench", &p, err);
    et_listener_mood m = {.time = 1.7e9, .confidence = 0.9, .smiling = -1, .mood = "sad",
                          .source = "stated"};
    et_mood_named_point("sad", &m.valence, &m.arousal);
    if (et_listener_mood_add(st, &p, &m, NULL, err) != ET_OK)
        die("mood", err);
    for (int i = 0; i < FEEDBACKS; i++) {
        char url[64];
        snprintf(url, sizeof url, "https://music.example.org/t/%d", (i * 37) % n);
        et_listener_feedback f = {.time = 1.7e9 + i, .kind = (et_rec_feedback_kind)(i % 3),
                                  .at_s = -1, .valence = m.valence, .arousal = m.arousal,
                                  .mood = "sad"};
        et__catalog_link_id(url, strlen(url), f.track);
        if (et_listener_feedback_add(st, "bench", &f, err) != ET_OK)
            die("feedback", err);
    }
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 5000, repeat = argc > 2 ? atoi(argv[2]) : 100;
    if (n < 10 || repeat < 1) {
        fprintf(stderr, "usage: bench_next [N >= 10] [REPEAT >= 1]\n");
        return 2;
    }
    et_nn_set_blas_threads(1);
    char dir[] = "/tmp/bench_next.XXXXXX", uri[600], err[ET_ERR_MAX], cmd[700];
    if (!mkdtemp(dir))
        die("mkdtemp", dir);
    snprintf(uri, sizeof uri, "lmdb:%s/store", dir);
    et_store *st;
    if (et_store_open(uri, NULL, &st, err) != ET_OK)
        die("store", err);
    fill(st, n);
    et_server_opts o = et_server_default_opts();
    o.listen = "127.0.0.1:0";
    o.store_uri = uri;
    o.models_dir = getenv("EMOTUNE_MODELS") ? getenv("EMOTUNE_MODELS") : "build/models";
    et_server *s;
    if (et_server_start(&o, &s, err) != ET_OK)
        die("server", err);
    int port = et_server_port(s);
    const char *path = "/api/v1/listeners/bench/next?count=5&peek=1";
    double *cold = calloc((size_t)repeat, sizeof *cold), *warm = calloc((size_t)repeat,
                                                                         sizeof *warm);
    for (int i = 0; i < repeat; i++) {
        /* outside the timing; the feedback stamp's id is listener.h's */
        if (et_library_stamp_bump(st, NULL, err) != ET_OK ||
            et_store_stamp_bump(st, ET_LISTENER_PROFILES, "bench/feedback_stamp", NULL, err) !=
                ET_OK)
            die("stamp", err);
        double t0 = et_now();
        int a = get(port, path);
        double t1 = et_now();
        int b = get(port, path);
        double t2 = et_now();
        if (a != 200 || b != 200)
            die("request", "not 200");
        cold[i] = t1 - t0;
        warm[i] = t2 - t1;
    }
    double cm, ca, wm, wa;
    stats(cold, repeat, &cm, &ca);
    stats(warm, repeat, &wm, &wa);
    printf("{\"tracks\":%d,\"feedback\":%d,\"requests\":%d,\"cold_ms_median\":%.3f,"
           "\"cold_ms_mean\":%.3f,\"warm_ms_median\":%.3f,\"warm_ms_mean\":%.3f,"
           "\"speedup_median\":%.1f}\n",
           n, FEEDBACKS, repeat, cm, ca, wm, wa, cm / wm);
    free(cold);
    free(warm);
    et_server_stop(s);
    et_store_close(st);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : 1;
}
