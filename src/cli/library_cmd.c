/* emotune scan, tracks, tag, import: the music library from the command line. */
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "library/library.h"
#include "mood/mood.h"

static const char scan_usage[] =
    "usage: emotune scan [--jobs N] [--json] [--prune] [--store URI] DIR...\n"
    "\n"
    "Finds the music in the folders (recognised by content: MP3, AAC/M4A, FLAC,\n"
    "Ogg Vorbis, Opus, WAV, AIFF, ...), reads its tags, analyses the sound\n"
    "(loudness, tempo, brightness, key and mode) and estimates each track's mood.\n"
    "Unchanged files are not decoded again; moved files keep their identity;\n"
    "files that vanished are marked missing. Ctrl-C stops soon and keeps what\n"
    "is done; the next scan goes on from there.\n"
    "\n"
    "options:\n"
    "  --jobs N       analysis threads (default: the number of cores)\n"
    "  --json         print the summary as JSON\n"
    "  --prune        delete tracks whose file is gone instead of marking them\n"
    "  --store URI    the store (default $EMOTUNE_STORE, else lmdb:~/.local/share/emotune)\n"
    "\n"
    "exit status: 0 all files read, 1 some file could not be read (listed),\n"
    "             2 bad command line, 3 store unavailable, 130 interrupted\n";

static const char tracks_usage[] =
    "usage: emotune tracks [--json] [--mood MOOD] [--limit N] [--store URI]\n"
    "\n"
    "Lists the library: tags, duration, features and valence/arousal. With\n"
    "--mood, only the tracks whose mood (the listener's own, else the nearest\n"
    "named mood to their valence/arousal) is MOOD: happy, calm, sad, angry,\n"
    "tense, disgusted, surprised.\n";

static const char tag_usage[] =
    "usage: emotune tag [--store URI] TRACK_ID MOOD | --clear\n"
    "\n"
    "Sets your own mood for a track (it overrides the estimate and survives\n"
    "rescans), or clears it.\n";

static const char import_usage[] =
    "usage: emotune import [--mood MOOD] [--json] [--store URI] FILE...\n"
    "\n"
    "Imports catalogues of links: CSV (url,title,artist,mood), JSON (an array\n"
    "of such objects) or M3U/M3U8 (#EXTINF titles; moods from #EXTMOOD: lines).\n"
    "--mood gives every entry that mood. Only http and https links are accepted;\n"
    "other lines are reported with their line number and skipped. Importing\n"
    "again changes nothing.\n"
    "\n"
    "exit status: 0 all lines imported, 1 some lines skipped or a file refused,\n"
    "             2 bad command line, 3 store unavailable\n";

/* Parses the common options; returns the index of the first operand, or -1
 * (usage error, message printed), or -2 (help printed). */
typedef struct lib_opts {
    const char *store, *mood;
    int json, prune, clear, jobs;
    long limit;
} lib_opts;

static int parse(int argc, char **argv, const char *usage, lib_opts *o)
{
    static const struct option longopts[] = {
        {"store", required_argument, NULL, 's'}, {"mood", required_argument, NULL, 'm'},
        {"json", no_argument, NULL, 'J'},         {"prune", no_argument, NULL, 'P'},
        {"clear", no_argument, NULL, 'C'},        {"jobs", required_argument, NULL, 'j'},
        {"limit", required_argument, NULL, 'l'},  {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    char *end;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
        switch (c) {
        case 's': o->store = optarg; break;
        case 'm': o->mood = optarg; break;
        case 'J': o->json = 1; break;
        case 'P': o->prune = 1; break;
        case 'C': o->clear = 1; break;
        case 'j':
            o->jobs = (int)strtol(optarg, &end, 10);
            if (*end || o->jobs < 1 || o->jobs > 64) {
                fprintf(stderr, "emotune: --jobs wants a number from 1 to 64\n");
                return -1;
            }
            break;
        case 'l':
            o->limit = strtol(optarg, &end, 10);
            if (*end || o->limit < 1) {
                fprintf(stderr, "emotune: --limit wants a positive number\n");
                return -1;
            }
            break;
        case 'h': fputs(usage, stdout); return -2;
        default:
            fprintf(stderr, "emotune: unknown or incomplete option '%s'\n\n%s", argv[optind - 1],
                    usage);
            return -1;
        }
    }
    return optind;
}

/* parse, and at least one operand is required. */
static int parse_operands(int argc, char **argv, const char *usage, const char *missing,
                          lib_opts *o)
{
    int first = parse(argc, argv, usage, o);
    if (first >= 0 && first >= argc) {
        fprintf(stderr, "emotune %s\n\n%s", missing, usage);
        return -1;
    }
    return first;
}

static void print_summary(const et_scan_summary *sum, int json)
{
    if (json) {
        json_t *fails = json_array();
        for (size_t i = 0; i < sum->failed; i++)
            json_array_append_new(fails, json_pack("{s:s,s:s}", "path", sum->failures[i].path,
                                                   "reason", sum->failures[i].reason));
        json_t *o = json_pack(
            "{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:f,s:f,s:b}", "scanned",
            (json_int_t)sum->scanned, "added", (json_int_t)sum->added, "updated",
            (json_int_t)sum->updated, "unchanged", (json_int_t)sum->unchanged, "moved",
            (json_int_t)sum->moved, "missing", (json_int_t)sum->missing, "pruned",
            (json_int_t)sum->pruned, "failed", (json_int_t)sum->failed, "failures", fails,
            "audio_hours", sum->audio_seconds / 3600, "seconds", sum->wall_seconds, "cancelled",
            sum->cancelled);
        char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
        puts(s ? s : "{}");
        free(s);
        json_decref(o);
        return;
    }
    printf("%s%zu scanned: %zu added, %zu updated, %zu unchanged, %zu moved, %zu missing%s, "
           "%zu failed (%.2f h of audio decoded in %.1f s)\n",
           sum->cancelled ? "interrupted; " : "", sum->scanned, sum->added, sum->updated,
           sum->unchanged, sum->moved, sum->missing + sum->pruned,
           sum->pruned ? " (pruned)" : "", sum->failed, sum->audio_seconds / 3600,
           sum->wall_seconds);
    for (size_t i = 0; i < sum->failed; i++)
        printf("  failed: %s: %s\n", sum->failures[i].path, sum->failures[i].reason);
}

int et_cli_scan(int argc, char **argv)
{
    lib_opts o = {0};
    int first = parse_operands(argc, argv, scan_usage, "scan: no folder given", &o);
    if (first < 0)
        return first == -2 ? ET_EXIT_OK : ET_EXIT_USAGE;
    et_store *s;
    int rc = et_cli_open_store("scan", o.store, &s);
    if (rc)
        return rc;
    et_scan_opts so = {.jobs = o.jobs, .prune = o.prune, .progress = isatty(STDERR_FILENO),
                       .cancel = et_cli_interrupted()};
    et_scan_summary sum;
    char err[ET_ERR_MAX];
    et_status st = et_library_scan(s, (const char *const *)argv + first, (size_t)(argc - first),
                                   &so, &sum, err);
    et_store_close(s);
    if (st != ET_OK) {
        fprintf(stderr, "emotune scan: %s\n", err);
        et_scan_summary_free(&sum);
        return st == ET_E_UNAVAILABLE ? ET_EXIT_SETUP : ET_EXIT_FAILED;
    }
    print_summary(&sum, o.json);
    rc = sum.cancelled ? 130 : sum.failed ? ET_EXIT_FAILED : ET_EXIT_OK;
    et_scan_summary_free(&sum);
    return rc;
}

typedef struct list_state {
    const lib_opts *o;
    long shown;
    char want[32];
} list_state;

static const char *str_or(const char *s, const char *fallback) { return s ? s : fallback; }

static void print_row(const char *id, json_t *doc)
{
    json_t *f = json_object_get(doc, "features");
    const char *title = json_string_value(json_object_get(doc, "title"));
    const char *artist = json_string_value(json_object_get(doc, "artist"));
    et_library_mood m;
    const char *mood = et_library_track_mood(doc, &m) ? m.name : NULL;
    char va[32] = "-";
    if (json_is_number(json_object_get(doc, "valence")))
        snprintf(va, sizeof va, "%+.2f %+.2f", json_number_value(json_object_get(doc, "valence")),
                 json_number_value(json_object_get(doc, "arousal")));
    char feat[48] = "";
    if (json_is_object(f))
        snprintf(feat, sizeof feat, "%3.0f bpm %-2s %-5s %5.1f LUFS",
                 json_number_value(json_object_get(f, "tempo")),
                 str_or(json_string_value(json_object_get(f, "key")), "?"),
                 str_or(json_string_value(json_object_get(f, "mode")), ""),
                 json_number_value(json_object_get(f, "loudness")));
    double dur = json_number_value(json_object_get(doc, "duration"));
    printf("%-22.22s %-28.28s %-18.18s %3d:%02d %-30s %-13s %s%s%s\n", id, title ? title : "",
           artist ? artist : "", (int)dur / 60, (int)dur % 60, feat, va, mood ? mood : "-",
           mood && m.tagged ? " (yours)" : "",
           json_is_true(json_object_get(doc, "missing")) ? " [missing]" : "");
}

static int list_one(void *user, const char *id, const char *json, size_t len)
{
    list_state *ls = user;
    json_t *doc = json_loadb(json, len, 0, NULL);
    if (!doc)
        return 0;
    et_library_mood m;
    if (!ls->want[0] || (et_library_track_mood(doc, &m) && !strcmp(m.group, ls->want))) {
        if (ls->o->json) {
            json_object_set_new(doc, "id", json_string(id));
            char *s = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
            if (s)
                puts(s);
            free(s);
        } else {
            print_row(id, doc);
        }
        ls->shown++;
    }
    json_decref(doc);
    return ls->o->limit && ls->shown >= ls->o->limit;
}

int et_cli_tracks(int argc, char **argv)
{
    lib_opts o = {0};
    int first = parse(argc, argv, tracks_usage, &o);
    if (first < 0)
        return first == -2 ? ET_EXIT_OK : ET_EXIT_USAGE;
    list_state ls = {.o = &o};
    double v, a;
    if (o.mood) {
        if (!et_mood_named_point(o.mood, &v, &a)) {
            fprintf(stderr, "emotune tracks: unknown mood '%s'\n", o.mood);
            return ET_EXIT_USAGE;
        }
        snprintf(ls.want, sizeof ls.want, "%s", et_mood_nearest_named(v, a));
    }
    if (first < argc) {
        fprintf(stderr, "emotune tracks: unexpected argument '%s'\n", argv[first]);
        return ET_EXIT_USAGE;
    }
    et_store *s;
    int rc = et_cli_open_store("tracks", o.store, &s);
    if (rc)
        return rc;
    char err[ET_ERR_MAX];
    et_status st = et_store_iterate(s, ET_LIBRARY_TRACKS, NULL, 0, list_one, &ls, err);
    et_store_close(s);
    if (st != ET_OK) {
        fprintf(stderr, "emotune tracks: %s\n", err);
        return ET_EXIT_FAILED;
    }
    if (!o.json)
        printf("%ld track%s\n", ls.shown, ls.shown == 1 ? "" : "s");
    return ET_EXIT_OK;
}

int et_cli_tag(int argc, char **argv)
{
    lib_opts o = {0};
    int first = parse(argc, argv, tag_usage, &o);
    if (first < 0)
        return first == -2 ? ET_EXIT_OK : ET_EXIT_USAGE;
    int operands = argc - first;
    if (!(operands == 2 && !o.clear) && !(operands == 1 && o.clear)) {
        fprintf(stderr, "emotune tag: give a track id and a mood, or --clear\n\n%s", tag_usage);
        return ET_EXIT_USAGE;
    }
    et_store *s;
    int rc = et_cli_open_store("tag", o.store, &s);
    if (rc)
        return rc;
    char err[ET_ERR_MAX];
    et_status st = et_library_tag(s, argv[first], o.clear ? NULL : argv[first + 1], err);
    et_store_close(s);
    if (st != ET_OK) {
        fprintf(stderr, "emotune tag: %s\n", err);
        return st == ET_E_INVALID ? ET_EXIT_USAGE : ET_EXIT_FAILED;
    }
    return ET_EXIT_OK;
}

int et_cli_import(int argc, char **argv)
{
    lib_opts o = {0};
    int first = parse_operands(argc, argv, import_usage, "import: no file given", &o);
    if (first < 0)
        return first == -2 ? ET_EXIT_OK : ET_EXIT_USAGE;
    double v, a;
    if (o.mood && !et_mood_named_point(o.mood, &v, &a)) {
        fprintf(stderr, "emotune import: unknown mood '%s'\n", o.mood);
        return ET_EXIT_USAGE;
    }
    et_store *s;
    int rc = et_cli_open_store("import", o.store, &s);
    if (rc)
        return rc;
    for (int i = first; i < argc; i++) {
        et_import_report rep;
        char err[ET_ERR_MAX];
        et_status st = et_library_import(s, argv[i], o.mood, &rep, err);
        if (st != ET_OK) {
            fprintf(stderr, "emotune import: %s: %s\n", argv[i], err);
            rc = ET_EXIT_FAILED;
            continue;
        }
        if (o.json) {
            json_t *issues = json_array();
            for (size_t k = 0; k < rep.n_issues; k++)
                json_array_append_new(issues, json_pack("{s:I,s:s}", "line",
                                                        (json_int_t)rep.issues[k].line,
                                                        "message", rep.issues[k].message));
            json_t *out = json_pack("{s:s,s:I,s:I,s:I,s:I,s:o}", "file", argv[i], "added",
                                    (json_int_t)rep.added, "updated", (json_int_t)rep.updated,
                                    "unchanged", (json_int_t)rep.unchanged, "skipped",
                                    (json_int_t)rep.skipped, "issues", issues);
            char *txt = json_dumps(out, JSON_COMPACT);
            puts(txt ? txt : "{}");
            free(txt);
            json_decref(out);
        } else {
            printf("%s: %zu added, %zu unchanged, %zu skipped\n", argv[i], rep.added,
                   rep.unchanged, rep.skipped);
            for (size_t k = 0; k < rep.n_issues; k++)
                printf("  line %zu: %s\n", rep.issues[k].line, rep.issues[k].message);
        }
        if (rep.skipped && !rc)
            rc = ET_EXIT_FAILED;
        et_import_report_free(&rep);
    }
    et_store_close(s);
    return rc;
}
