/* emotune store: copy, export, import and check the document store. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "store/store.h"

static const char store_usage[] =
    "usage: emotune store [--store URI] COMMAND\n"
    "\n"
    "commands:\n"
    "  export              write every document to stdout as JSON lines\n"
    "                      {\"collection\", \"id\", \"doc\"} (a backup)\n"
    "  import [FILE]       read such lines (from FILE or stdin) into the store\n"
    "  copy SRC_URI DST_URI\n"
    "                      copy every document from one store to another, e.g.\n"
    "                      from the embedded LMDB to a Redis shared by servers\n"
    "  check               count documents per collection and report problems\n"
    "\n"
    "options:\n"
    "  --store URI         lmdb:DIR or redis://[:PASSWORD@]HOST:PORT[/DB]\n"
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

int et_cli_store(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"store", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *store_opt = NULL;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
        if (c == 's') {
            store_opt = optarg;
        } else if (c == 'h') {
            fputs(store_usage, stdout);
            return ET_EXIT_OK;
        } else {
            fprintf(stderr, "emotune store: unknown or incomplete option '%s'\n\n%s",
                    argv[optind - 1], store_usage);
            return ET_EXIT_USAGE;
        }
    }
    const char *cmd = optind < argc ? argv[optind] : NULL;
    int rest = argc - optind - 1;
    if (cmd && !strcmp(cmd, "copy") && rest == 2)
        return cmd_copy(argv[optind + 1], argv[optind + 2]);
    int ok = cmd && ((!strcmp(cmd, "export") && rest == 0) ||
                     (!strcmp(cmd, "import") && rest <= 1) ||
                     (!strcmp(cmd, "check") && rest == 0));
    if (!ok) {
        fprintf(stderr, "emotune store: %s\n\n%s", cmd ? "wrong command or arguments" : "no command",
                store_usage);
        return ET_EXIT_USAGE;
    }
    char buf[4096];
    const char *uri = et_cli_store_uri(store_opt, buf, sizeof buf);
    et_store *s;
    int rc = et_cli_open_store("store", uri, &s);
    if (rc)
        return rc;
    if (!strcmp(cmd, "export"))
        rc = cmd_export(s);
    else if (!strcmp(cmd, "import"))
        rc = cmd_import(s, rest ? argv[optind + 1] : NULL);
    else
        rc = cmd_check(s, uri);
    et_store_close(s);
    return rc;
}
