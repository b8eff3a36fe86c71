/* Helpers shared by the cmocka test programs. Tests run from the repository root. */
#ifndef ET_TEST_SUPPORT_H
#define ET_TEST_SUPPORT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

struct et_vision_models;
struct et_vision_ctx;

/* The test models (ts_models_dir) loaded and a context on them, for a group
 * setup: 0, or -1 after saying why on stderr, with nothing left to free. */
int ts_vision_open(struct et_vision_models **models, struct et_vision_ctx **ctx);
void ts_vision_close(struct et_vision_models *models, struct et_vision_ctx *ctx);

/* Directory of ../shared/data/faces if present, else NULL (tests then skip
 * with a message naming what is missing). */
const char *ts_faces_dir(void);

/* The model directory next to the binary under test (build/models or
 * build/san/models); EMOTUNE_TEST_MODELS overrides. */
const char *ts_models_dir(void);

/* Path of the face-api demo images folder in node_modules. */
const char *ts_demo_dir(void);

/* The bytes of face-api's demo picture sample<i>.jpg (caller frees; *len
 * its size); fails the test when it cannot be read. */
char *ts_read_demo(int i, size_t *len);

/* A new empty temporary directory (mkdtemp under $TMPDIR); caller frees the
 * string and removes the directory with ts_rmtree. */
char *ts_tempdir(void);
void ts_rmtree(const char *dir);

/* Writes len bytes to path; fails the test on error. */
void ts_write_file(const char *path, const void *data, size_t len);

/* The emotune binary under test: $EMOTUNE_TEST_BIN, else build/emotune. */
const char *ts_bin(void);

/* Runs a shell command; returns its exit status (-1 when killed) and its
 * stdout in *out (caller frees). */
int ts_run(const char *cmd, char **out);

/* Runs the shell command printf(fmt, ...) (at most 4 KB); fails the test
 * when it does not exit with 0. */
void ts_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Parses JSON lines (one document per line) into a new array; fails the
 * test on a line that is not JSON. */
struct json_t;
struct json_t *ts_json_lines(const char *out);

/* For the command-line tests: a temporary directory holding an LMDB store
 * that the binary under test filled from a catalogue of links. */
typedef struct ts_cli_library {
    char *dir;       /* the temporary directory */
    char store[600]; /* its store's URI, "lmdb:DIR/db" */
} ts_cli_library;

/* Writes csv (a catalogue's text) to DIR/links.csv and runs `emotune import
 * --store URI` on it; NULL (the command's output on stderr) when that fails.
 * ts_cli_library_free removes the directory (and takes NULL). */
ts_cli_library *ts_cli_library_new(const char *csv);
void ts_cli_library_free(ts_cli_library *l);

/* The seed of a test's random numbers, so that a failing run can be run
 * again exactly: $EMOTUNE_TEST_SEED when it is set (a decimal number; the
 * test fails on anything else), else `fixed`. Prints "<what>: seed N" to
 * stderr either way. Tests never seed from the clock. */
unsigned ts_seed(const char *what, unsigned fixed);

/* Prints a skip reason to stderr and skips the current test. */
#define TS_SKIP(...) do { fprintf(stderr, "SKIP: " __VA_ARGS__); fputc('\n', stderr); skip(); } while (0)

#endif

/* A real redis-server for the store tests, on a free loopback port, with its
 * own temporary directory and append-only persistence (fsync always). */
#include <sys/types.h>
typedef struct ts_redis {
    int port;   /* chosen by the first ts_redis_start, kept on restart */
    pid_t pid;  /* 0 when stopped */
    char *dir;
} ts_redis;

/* Starts (or restarts) the server and waits until it answers PING; returns
 * 0, or -1 with a message on stderr. */
int ts_redis_start(ts_redis *r);
/* Stops it with `sig` (SIGTERM: clean shutdown; SIGKILL: a crash). */
void ts_redis_stop(ts_redis *r, int sig);
/* Stops it and removes its directory. */
void ts_redis_cleanup(ts_redis *r);

/* One of the store's two backends for a group of tests: LMDB (a temporary
 * directory holding one store per test) or a real redis-server (one per
 * group). */
typedef struct ts_backend {
    const char *name; /* "lmdb" or "redis" */
    ts_redis redis;   /* redis only */
    char *dir;        /* lmdb only */
    int serial;
    char uri[700];    /* the store of the current test (ts_backend_fresh) */
} ts_backend;

/* cmocka group setups (state: a new ts_backend) and teardown. */
int ts_backend_lmdb_setup(void **state);
int ts_backend_redis_setup(void **state);
int ts_backend_teardown(void **state);

/* Points b->uri at an empty store: a new LMDB directory, or Redis's
 * database 0 emptied (FLUSHALL). */
void ts_backend_fresh(ts_backend *b);

/* Sends one command to the test's redis-server; fails the test on error. */
void ts_redis_command(int port, const char *cmd);

/* The store of the current test, on the group's backend. */
struct et_store;
typedef struct ts_store_fixture {
    ts_backend *b;
    struct et_store *s;
} ts_store_fixture;

/* cmocka test setup (state: the group's ts_backend; becomes a new
 * ts_store_fixture on an empty store, ts_backend_fresh) and teardown (closes
 * the store and gives the state back its ts_backend). */
int ts_store_open_fresh(void **state);
int ts_store_close(void **state);

/* The whole store as export text (caller frees): what "unchanged" means. */
char *ts_store_export(struct et_store *s);
