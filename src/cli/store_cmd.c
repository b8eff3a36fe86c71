/* emotune store: copy, export, import and check the document store. */
#include <getopt.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "store/store.h"

static const char store_usage[] =
    "usage: emotune store [--store URI] COMMAND [ARGS]\n"
    "       emotune store COMMAND [ARGS] [--store URI]\n"
    "(options may come before or after the command's word)\n"
    "\n"
    "commands:\n"
    "  export              write every document to stdout as JSON lines\n"
    "                      {\"collection\", \"id\", \"doc\"} (a backup)\n"
    "  import [FILE]       read such lines (from FILE or stdin) into the store\n"
    "  copy SRC_URI DST_URI\n"
    "                      copy every document from one store to another, e.g.\n"
    "                      from the embedded LMDB to a Redis shared by servers\n"
    "                      (names both stores itself: no --store)\n"
    "  check               count documents per collection and report problems\n"
    "\n"
    "options:\n"
    "  --store URI         the store of export, import and check:\n"
    "                      lmdb:DIR or redis://[:PASSWORD@]HOST:PORT[/DB]\n"
    "                      (default $EMOTUNE_STORE, else lmdb:$XDG_DATA_HOME/emotune,\n"
    "                      else lmdb:~/.local/share/emotune)\n"
    "  -h, --help          show this help\n"
    "\n"
    "exit status: 0 success, 1 the operation failed or check found problems,\n"
    "             2 bad command line, 3 the store cannot be opened\n";

static int report(et_status st, const char *err)
{
    if (st == ET_OK)
        return ET_EXIT_OK;
    fprintf(stderr, "emotune store: %s\n", err);
    return ET_EXIT_FAILED;
}

static int cmd_export(et_store *s)
{
    char err[ET_ERR_MAX];
    size_t n;
    et_status st = et_store_export(s, stdout, &n, err);
    fflush(stdout);
    if (st == ET_OK)
        fprintf(stderr, "emotune store: exported %zu documents\n", n);
    return report(st, err);
}

static int cmd_import(et_store *s, const char *path)
{
    char err[ET_ERR_MAX];
    FILE *in = path ? fopen(path, "r") : stdin;
    if (!in) {
        fprintf(stderr, "emotune store: cannot open %s\n", path);
        return ET_EXIT_FAILED;
    }
    size_t n = 0;
    et_status st = et_store_import(s, in, 0, &n, err);
    if (path)
        fclose(in);
    fprintf(stderr, "emotune store: imported %zu documents\n", n);
    return report(st, err);
}

static int cmd_copy(const char *src_uri, const char *dst_uri)
{
    et_store *src, *dst;
    int rc = et_cli_open_store("store", src_uri, &src);
    if (rc)
        return rc;
    if ((rc = et_cli_open_store("store", dst_uri, &dst))) {
        et_store_close(src);
        return rc;
    }
    char err[ET_ERR_MAX];
    size_t n = 0;
    et_status st = et_store_copy(src, dst, &n, err);
    fprintf(stderr, "emotune store: copied %zu documents from %s to %s\n", n, src_uri, dst_uri);
    et_store_close(src);
    et_store_close(dst);
    return report(st, err);
}

typedef struct check_state {
    const char *coll;
    size_t docs, bad;
} check_state;

static int check_doc(void *user, const char *id, const char *json, size_t len)
{
    check_state *c = user;
    c->docs++;
    json_t *v = json_loadb(json, len, JSON_DECODE_ANY, NULL);
    if (!v) {
        printf("  problem: %s/%s does not parse as JSON\n", c->coll, id);
        c->bad++;
    }
    json_decref(v);
    return 0;
}

static int cmd_check(et_store *s, const char *uri)
{
    char err[ET_ERR_MAX], **names;
    size_t n, problems = 0, total = 0;
    int version;
    et_status st = et_store_schema_version(s, &version, err);
    if (st == ET_OK)
        st = et_store_collections(s, &names, &n, err);
    if (st != ET_OK)
        return report(st, err);
    printf("%s (%s), schema %d\n", uri, et_store_backend(s), version);
    for (size_t i = 0; i < n && st == ET_OK; i++) {
        check_state c = {names[i], 0, 0};
        st = et_store_iterate(s, names[i], NULL, 0, check_doc, &c, err);
        printf("  %-20s %zu documents\n", names[i], c.docs);
        problems += c.bad;
        total += c.docs;
    }
    et_store_free_names(names, n);
    if (st != ET_OK)
        return report(st, err);
    printf("%zu documents in %zu collections, %zu problem%s\n", total, n, problems,
           problems == 1 ? "" : "s");
    return problems ? ET_EXIT_FAILED : ET_EXIT_OK;
}

/* The command line after "store": options and words in any order. */
typedef struct store_args {
    const char *store;    /* --store, or NULL */
    const char *words[4]; /* the command's word and its arguments (the first 4) */
    int n_words;          /* all of them, also beyond 4 */
} store_args;

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("emotune store: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n\n%s", store_usage);
    return ET_EXIT_USAGE;
}

static void add_word(store_args *a, const char *w)
{
    if (a->n_words < (int)(sizeof a->words / sizeof *a->words))
        a->words[a->n_words] = w;
    a->n_words++;
}

/* Fills *a; -1 to go on, else the exit status (help printed: 0). */
static int parse_args(int argc, char **argv, store_args *a)
{
    static const struct option longopts[] = {
        {"store", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(a, 0, sizeof *a);
    optind = 1;
    opterr = 0;
    int c;
    /* "-": each word comes back in its place as option 1, so an option after
     * the command's word is read whatever POSIXLY_CORRECT says. */
    while ((c = getopt_long(argc, argv, "-h", longopts, NULL)) != -1) {
        if (c == 1) {
            add_word(a, optarg);
        } else if (c == 's') {
            a->store = optarg;
        } else if (c == 'h') {
            fputs(store_usage, stdout);
            return ET_EXIT_OK;
        } else {
            return usage_error("unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    for (; optind < argc; optind++) /* the words after "--" */
        add_word(a, argv[optind]);
    return -1;
}

/* -1 when the words make a command, else ET_EXIT_USAGE (printed). */
static int check_words(const store_args *a)
{
    if (a->n_words == 0)
        return usage_error("no command");
    const char *cmd = a->words[0];
    int rest = a->n_words - 1;
    if (!strcmp(cmd, "copy")) {
        if (rest != 2)
            return usage_error("copy takes two stores: copy SRC_URI DST_URI");
        if (a->store)
            return usage_error("copy names both its stores; --store does not apply");
        return -1;
    }
    int most = -1; /* arguments after the word, at most; -1: no such command */
    if (!strcmp(cmd, "import"))
        most = 1;
    else if (!strcmp(cmd, "export") || !strcmp(cmd, "check"))
        most = 0;
    if (most < 0)
        return usage_error("unknown command '%s' (export, import, copy or check)", cmd);
    if (rest > most)
        return usage_error("%s takes %s, not '%s'", cmd, most ? "at most one FILE" : "no argument",
                           a->words[1 + most]);
    return -1;
}

int et_cli_store(int argc, char **argv)
{
    store_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc < 0)
        rc = check_words(&a);
    if (rc >= 0)
        return rc;
    const char *cmd = a.words[0];
    if (!strcmp(cmd, "copy"))
        return cmd_copy(a.words[1], a.words[2]);
    char buf[4096];
    const char *uri = et_cli_store_uri(a.store, buf, sizeof buf);
    et_store *s;
    if ((rc = et_cli_open_store("store", uri, &s)))
        return rc;
    if (!strcmp(cmd, "export"))
        rc = cmd_export(s);
    else if (!strcmp(cmd, "import"))
        rc = cmd_import(s, a.n_words > 1 ? a.words[1] : NULL);
    else
        rc = cmd_check(s, uri);
    et_store_close(s);
    return rc;
}
