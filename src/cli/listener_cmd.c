/* emotune feedback, history, profile: what emotune keeps of each listener;
 * and the helpers the listener commands share. */
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "report/report.h"
#include "listener/listener.h"
#include "mood/mood.h"

static const char feedback_usage[] =
    "usage: emotune feedback [OPTIONS] TRACK like|skip|complete\n"
    "\n"
    "Tells emotune how a song went: you liked it, skipped it (--at: how far\n"
    "in; an early skip counts most) or played it to the end. It is kept with\n"
    "your mood at that moment (the newest in your history, or --mood) and\n"
    "teaches later recommendations for that mood: the song, its artist and\n"
    "its genre. A song with feedback also counts as played: it waits before\n"
    "it is recommended again.\n"
    "\n"
    "options:\n"
    "  --at SECONDS       how far into the song (a skip without it counts as a\n"
    "                     skip at the start; a link, whose length is unknown,\n"
    "                     counts as 4 minutes long)\n"
    "  --mood NAME        the mood you were in (happy, calm, sad, angry, tense,\n"
    "                     disgusted, surprised), or --valence V --arousal A\n"
    "  --listener NAME    whose feedback (default $EMOTUNE_LISTENER, else default)\n"
    "  --store URI        the store (default $EMOTUNE_STORE, else\n"
    "                     lmdb:~/.local/share/emotune)\n"
    "  --json             print what was recorded as JSON\n"
    "\n"
    "exit status: 0 recorded, 1 no such track, 2 bad command line,\n"
    "             3 store unavailable\n";

static const char history_usage[] =
    "usage: emotune history [--limit N] [--json] [--listener NAME] [--store URI]\n"
    "\n"
    "Shows your mood over time (the named mood, its valence/arousal point, how\n"
    "sure, where it came from: your face or what you said) and your feedback,\n"
    "oldest first; the table shows the newest N (default 20), --json all of\n"
    "them (or the newest N with --limit). Pictures are never kept. The history\n"
    "is kept within your profile's retention (emotune profile).\n";

static const char profile_usage[] =
    "usage: emotune profile [OPTIONS]\n"
    "\n"
    "Shows a listener's profile; with a setting, changes it first. Each\n"
    "listener (--listener, $EMOTUNE_LISTENER, else \"default\") has their own\n"
    "profile, feedback and history.\n"
    "\n"
    "settings:\n"
    "  --policy P         how to choose songs: match (near your mood), lift\n"
    "                     (towards a brighter mood, step by step) or calm\n"
    "                     (towards a calmer one) (default match)\n"
    "  --tau SECONDS      smoothing of the mood from a camera's frames, (0, 600]\n"
    "                     (3)\n"
    "  --hold SECONDS     how long a new mood must hold before it is named,\n"
    "                     [0, 600] (2)\n"
    "                     (both kept for the camera, which is not built yet;\n"
    "                     pictures given to recommend --image are stills)\n"
    "  --history-days D   forget moods older than D days, (0, 36500] (90)\n"
    "  --history-max N    keep at most N moods, [1, 1000000] (10000)\n"
    "  --feedback-days D  forget feedback older than D days, (0, 36500] (365)\n"
    "  --feedback-max N   keep at most N feedback entries, [1, 1000000] (10000)\n"
    "  (a change sets only the settings given, atomically: another change of\n"
    "  other settings at the same moment, from anywhere, stays)\n"
    "calibration (emotune calibrate; the page's Calibrate panel):\n"
    "  the profile shows how many examples of each expression your calibration\n"
    "  has (features of your face, never pictures; at most 20 each)\n"
    "  --forget-calibration[=E]  forget them all, or expression E's only\n"
    "options:\n"
    "  --list             list the listeners with a profile\n"
    "  --json             print as JSON\n"
    "  --listener NAME, --store URI  as for the other commands\n";

const char *et_cli_listener_name(const char *option)
{
    if (option && *option)
        return option;
    const char *env = getenv("EMOTUNE_LISTENER");
    return env && *env ? env : ET_LISTENER_DEFAULT;
}

int et_cli_stated_mood(const char *cmd, const char *mood_name, const char *v_arg,
                       const char *a_arg, double now, et_listener_mood *out, int *given)
{
    *given = 0;
    memset(out, 0, sizeof *out);
    if (mood_name && (v_arg || a_arg)) {
        fprintf(stderr, "emotune %s: give --mood or --valence/--arousal, not both\n", cmd);
        return ET_EXIT_USAGE;
    }
    if (mood_name) {
        const char *name = et_mood_named_canonical(mood_name);
        if (!name || !et_mood_named_point(name, &out->valence, &out->arousal)) {
            fprintf(stderr,
                    "emotune %s: unknown mood '%s' (happy, calm, sad, angry, tense, disgusted, "
                    "surprised)\n",
                    cmd, mood_name);
            return ET_EXIT_USAGE;
        }
        snprintf(out->mood, sizeof out->mood, "%s", name);
    } else if (v_arg || a_arg) {
        if (!v_arg || !a_arg) {
            fprintf(stderr, "emotune %s: --valence and --arousal go together\n", cmd);
            return ET_EXIT_USAGE;
        }
        if (et_cli_parse_number(v_arg, -1, 1, &out->valence) ||
            et_cli_parse_number(a_arg, -1, 1, &out->arousal)) {
            fprintf(stderr, "emotune %s: --valence and --arousal want numbers from -1 to 1\n",
                    cmd);
            return ET_EXIT_USAGE;
        }
        snprintf(out->mood, sizeof out->mood, "%s",
                 et_mood_nearest_named(out->valence, out->arousal));
    } else {
        return 0;
    }
    out->time = now;
    out->confidence = 1.0;
    out->smiling = -1;
    snprintf(out->source, sizeof out->source, "stated");
    *given = 1;
    return 0;
}

/* ---- options of feedback, history and profile ---- */

typedef struct lopts {
    const char *store, *listener, *mood, *valence, *arousal, *at, *policy;
    const char *tau, *hold, *days, *max, *fb_days, *fb_max, *limit, *forget_expr;
    int json, list, forget;
} lopts;

/* Returns the index of the first operand, -1 (usage error, printed) or -2
 * (help printed). */
static int parse(int argc, char **argv, const char *usage, lopts *o)
{
    static const struct option longopts[] = {
        {"store", required_argument, NULL, 's'},   {"listener", required_argument, NULL, 'L'},
        {"mood", required_argument, NULL, 'm'},    {"valence", required_argument, NULL, 'V'},
        {"arousal", required_argument, NULL, 'A'}, {"at", required_argument, NULL, 't'},
        {"policy", required_argument, NULL, 'p'},  {"tau", required_argument, NULL, 'T'},
        {"hold", required_argument, NULL, 'H'},    {"history-days", required_argument, NULL, 'D'},
        {"history-max", required_argument, NULL, 'M'},
        {"feedback-days", required_argument, NULL, 'd'},
        {"feedback-max", required_argument, NULL, 'N'},
        {"limit", required_argument, NULL, 'l'},   {"json", no_argument, NULL, 'J'},
        {"list", no_argument, NULL, 'X'},          {"help", no_argument, NULL, 'h'},
        {"forget-calibration", optional_argument, NULL, 'F'},
        {NULL, 0, NULL, 0},
    };
    const char **slot[128] = {0};
    slot['s'] = &o->store, slot['L'] = &o->listener, slot['m'] = &o->mood;
    slot['V'] = &o->valence, slot['A'] = &o->arousal, slot['t'] = &o->at;
    slot['p'] = &o->policy, slot['T'] = &o->tau, slot['H'] = &o->hold, slot['D'] = &o->days;
    slot['M'] = &o->max, slot['l'] = &o->limit, slot['d'] = &o->fb_days, slot['N'] = &o->fb_max;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c > 0 && c < 128 && slot[c]) {
            *slot[c] = optarg;
        } else if (c == 'J') {
            o->json = 1;
        } else if (c == 'X') {
            o->list = 1;
        } else if (c == 'F') {
            o->forget = 1;
            o->forget_expr = optarg;
        } else if (c == 'h') {
            fputs(usage, stdout);
            return -2;
        } else {
            fprintf(stderr, "emotune: unknown or incomplete option '%s'\n\n%s", argv[optind - 1],
                    usage);
            return -1;
        }
    }
    return optind;
}

/* The listener's name from the options, checked (message printed). */
static const char *listener_of(const char *cmd, const lopts *o)
{
    const char *name = et_cli_listener_name(o->listener);
    char err[ET_ERR_MAX];
    if (et_listener_check_name(name, err) != ET_OK) {
        fprintf(stderr, "emotune %s: %s\n", cmd, err);
        return NULL;
    }
    return name;
}

static int exit_for(et_status st)
{
    return st == ET_E_UNAVAILABLE || st == ET_E_VERSION ? ET_EXIT_SETUP
         : st == ET_E_INVALID                            ? ET_EXIT_USAGE
                                                         : ET_EXIT_FAILED;
}

/* ---- emotune feedback ---- */

/* The mood of the feedback: stated, else the newest in the history. */
static int feedback_mood(et_store *s, const char *listener, const lopts *o, double now,
                         et_listener_feedback *f)
{
    et_listener_mood m;
    int given;
    int rc = et_cli_stated_mood("feedback", o->mood, o->valence, o->arousal, now, &m, &given);
    if (rc)
        return rc;
    char err[ET_ERR_MAX];
    if (!given) {
        bool found;
        et_status st = et_listener_mood_latest(s, listener, &m, &found, err);
        if (st != ET_OK) {
            fprintf(stderr, "emotune feedback: %s\n", err);
            return exit_for(st);
        }
        if (!found) {
            fprintf(stderr,
                    "emotune feedback: no mood known for listener %s yet: give --mood NAME\n",
                    listener);
            return ET_EXIT_USAGE;
        }
    }
    f->valence = m.valence;
    f->arousal = m.arousal;
    snprintf(f->mood, sizeof f->mood, "%s", m.mood);
    return 0;
}

int et_cli_feedback(int argc, char **argv)
{
    lopts o = {0};
    int first = parse(argc, argv, feedback_usage, &o);
    if (first < 0)
        return first == -2 ? ET_EXIT_OK : ET_EXIT_USAGE;
    if (argc - first != 2) {
        fprintf(stderr, "emotune feedback: want a track id and like, skip or complete\n\n%s",
                feedback_usage);
        return ET_EXIT_USAGE;
    }
    const char *listener = listener_of("feedback", &o);
    if (!listener)
        return ET_EXIT_USAGE;
    char err[ET_ERR_MAX];
    et_listener_feedback f = {.at_s = -1, .time = et_cli_wall_time()};
    if (et_listener_feedback_kind_parse(argv[first + 1], &f.kind, err) != ET_OK) {
        fprintf(stderr, "emotune feedback: %s\n", err);
        return ET_EXIT_USAGE;
    }
    if (o.at && et_cli_parse_number(o.at, 0, 1e7, &f.at_s)) {
        fprintf(stderr, "emotune feedback: --at wants seconds, 0 or more\n");
        return ET_EXIT_USAGE;
    }
    if (strlen(argv[first]) >= sizeof f.track || et_store_check_id(argv[first], err) != ET_OK) {
        fprintf(stderr, "emotune feedback: '%s' is not a track id\n", argv[first]);
        return ET_EXIT_FAILED;
    }
    snprintf(f.track, sizeof f.track, "%s", argv[first]);
    et_store *s;
    int rc = et_cli_open_store("feedback", o.store, &s);
    if (rc)
        return rc;
    rc = feedback_mood(s, listener, &o, f.time, &f);
    et_status st = rc ? ET_OK : et_listener_feedback_add(s, listener, &f, err);
    et_store_close(s);
    if (rc)
        return rc;
    if (st != ET_OK) {
        fprintf(stderr, "emotune feedback: %s\n", err);
        return exit_for(st);
    }
    if (o.json)
        et_cli_print_json(et_report_feedback(listener, &f));
    else
        printf("%s: %s %s%s, in a %s mood\n", listener, et_listener_feedback_kind_name(f.kind),
               f.track, f.kind == ET_REC_SKIP && f.at_s >= 0 ? " (part way)" : "", f.mood);
    return ET_EXIT_OK;
}

/* ---- emotune history ---- */


static void format_time(double t, char *out, size_t len)
{
    time_t secs = (time_t)t;
    struct tm tm;
    if (!localtime_r(&secs, &tm) || !strftime(out, len, "%Y-%m-%d %H:%M:%S", &tm))
        snprintf(out, len, "%.0f", t);
}

static void print_history_table(const char *listener, const et_listener_mood *m, size_t nm,
                                const et_listener_feedback *f, size_t nf, size_t limit)
{
    printf("listener %s: %zu moods, %zu feedback", listener, nm, nf);
    size_t total = nm + nf, skip = total > limit ? total - limit : 0;
    printf(skip ? " (the newest %zu shown)\n" : "\n", limit);
    char when[32];
    /* Merge the two time-ordered lists. */
    for (size_t i = 0, j = 0, k = 0; i < nm || j < nf; k++) {
        bool mood = j >= nf || (i < nm && m[i].time <= f[j].time);
        if (k < skip) {
            mood ? i++ : j++;
            continue;
        }
        if (mood) {
            format_time(m[i].time, when, sizeof when);
            printf("%s  mood      %-9s V %+.2f A %+.2f  %3.0f%% sure  %s\n", when, m[i].mood,
                   m[i].valence, m[i].arousal, 100 * m[i].confidence, m[i].source);
            i++;
        } else {
            format_time(f[j].time, when, sizeof when);
            printf("%s  %-8s  %s (when %s)\n", when, et_listener_feedback_kind_name(f[j].kind),
                   f[j].track, f[j].mood);
            j++;
        }
    }
}

static json_t *history_json(const char *listener, const et_listener_mood *m, size_t nm,
                            const et_listener_feedback *f, size_t nf, size_t limit)
{
    json_t *moods = json_array(), *fb = json_array();
    for (size_t i = nm > limit ? nm - limit : 0; i < nm; i++)
        json_array_append_new(moods, et_report_mood(&m[i]));
    for (size_t j = nf > limit ? nf - limit : 0; j < nf; j++)
        json_array_append_new(fb, et_report_feedback(listener, &f[j]));
    return json_pack("{s:s, s:o, s:o}", "listener", listener, "moods", moods, "feedback", fb);
}

int et_cli_history(int argc, char **argv)
{
    lopts o = {0};
    int first = parse(argc, argv, history_usage, &o);
    if (first < 0)
        return first == -2 ? ET_EXIT_OK : ET_EXIT_USAGE;
    double limit = o.json ? 1e9 : 20;
    if (first < argc || (o.limit && et_cli_parse_number(o.limit, 1, 1e9, &limit))) {
        fprintf(stderr, "emotune history: %s\n\n%s",
                first < argc ? "takes no operand" : "--limit wants a positive number",
                history_usage);
        return ET_EXIT_USAGE;
    }
    const char *listener = listener_of("history", &o);
    if (!listener)
        return ET_EXIT_USAGE;
    et_store *s;
    int rc = et_cli_open_store("history", o.store, &s);
    if (rc)
        return rc;
    char err[ET_ERR_MAX];
    et_listener_mood *m = NULL;
    et_listener_feedback *f = NULL;
    size_t nm = 0, nf = 0;
    et_status st = et_listener_moods(s, listener, &m, &nm, err);
    if (st == ET_OK)
        st = et_listener_feedbacks(s, listener, &f, &nf, err);
    et_store_close(s);
    if (st != ET_OK) {
        fprintf(stderr, "emotune history: %s\n", err);
        rc = exit_for(st);
    } else if (o.json) {
        et_cli_print_json(history_json(listener, m, nm, f, nf, (size_t)limit));
    } else {
        print_history_table(listener, m, nm, f, nf, (size_t)limit);
    }
    free(m);
    free(f);
    return rc;
}

/* ---- emotune profile ---- */


/* A whole-number setting (--history-max, --feedback-max) into *out; 0, or
 * ET_EXIT_USAGE (printed). */
static int count_setting(const char *arg, const char *what, size_t *out)
{
    double max;
    if (et_cli_parse_number(arg, 1, 1e6, &max) || max != floor(max)) {
        fprintf(stderr, "emotune profile: %s wants a whole number from 1 to 1000000\n", what);
        return ET_EXIT_USAGE;
    }
    *out = (size_t)max;
    return 0;
}

/* The settings given in o into *ch (only those); 1 when one was given, 0
 * when none, ET_EXIT_USAGE (printed) when one is bad. */
static int read_settings(const lopts *o, et_listener_profile_change *ch)
{
    char err[ET_ERR_MAX];
    et_listener_profile *to = &ch->to;
    *ch = (et_listener_profile_change){0};
    if (o->policy && et_rec_policy_parse(o->policy, &to->policy, err) != ET_OK) {
        fprintf(stderr, "emotune profile: %s\n", err);
        return ET_EXIT_USAGE;
    }
    if (o->policy)
        ch->set |= ET_LISTENER_SET_POLICY;
    const struct {
        const char *arg, *what;
        double *field;
        unsigned bit;
    } nums[] = {{o->tau, "--tau", &to->tau_s, ET_LISTENER_SET_TAU},
                {o->hold, "--hold", &to->hold_s, ET_LISTENER_SET_HOLD},
                {o->days, "--history-days", &to->history_days, ET_LISTENER_SET_HISTORY_DAYS},
                {o->fb_days, "--feedback-days", &to->feedback_days,
                 ET_LISTENER_SET_FEEDBACK_DAYS}};
    for (size_t i = 0; i < sizeof nums / sizeof *nums; i++) {
        if (!nums[i].arg)
            continue;
        if (et_cli_parse_number(nums[i].arg, -1e300, 1e300, nums[i].field)) {
            fprintf(stderr, "emotune profile: %s wants a number\n", nums[i].what);
            return ET_EXIT_USAGE;
        }
        ch->set |= nums[i].bit;
    }
    if (o->max && count_setting(o->max, "--history-max", &to->history_max))
        return ET_EXIT_USAGE;
    if (o->fb_max && count_setting(o->fb_max, "--feedback-max", &to->feedback_max))
        return ET_EXIT_USAGE;
    ch->set |= (o->max ? ET_LISTENER_SET_HISTORY_MAX : 0) |
               (o->fb_max ? ET_LISTENER_SET_FEEDBACK_MAX : 0);
    /* each field's range stands alone: checked over the defaults */
    et_listener_profile p;
    if (et_listener_profile_default("x", &p, err) == ET_OK) {
        et_listener_profile_apply(ch, &p);
        if (et_listener_profile_check(&p, err) != ET_OK) {
            fprintf(stderr, "emotune profile: %s\n", err);
            return ET_EXIT_USAGE;
        }
    }
    return ch->set != 0;
}

static int list_listeners(et_store *s, int json)
{
    char err[ET_ERR_MAX], **names;
    size_t n;
    et_status st = et_listener_names(s, &names, &n, err);
    if (st != ET_OK) {
        fprintf(stderr, "emotune profile: %s\n", err);
        return exit_for(st);
    }
    json_t *arr = json ? json_array() : NULL;
    for (size_t i = 0; i < n; i++) {
        if (json)
            json_array_append_new(arr, json_string(names[i]));
        else
            puts(names[i]);
    }
    if (json)
        et_cli_print_json(arr);
    et_store_free_names(names, n);
    return ET_EXIT_OK;
}

/* --forget-calibration[=E]: 0 done (said on stderr), else the exit status
 * (printed). */
static int forget_calibration(et_store *s, const char *listener, const char *expr)
{
    char err[ET_ERR_MAX];
    et_expression e = ET_EXPR_NEUTRAL;
    if (expr && et_listener_calib_expression_parse(expr, &e, err) != ET_OK) {
        fprintf(stderr, "emotune profile: --forget-calibration: %s\n", err);
        return ET_EXIT_USAGE;
    }
    unsigned removed = 0;
    et_status st = et_listener_calib_forget(s, listener, expr ? (int)e : -1, &removed, NULL, err);
    if (st != ET_OK) {
        fprintf(stderr, "emotune profile: %s\n", err);
        return exit_for(st);
    }
    fprintf(stderr, "emotune profile: forgot %u calibration example%s%s%s\n", removed,
            removed == 1 ? "" : "s", expr ? " of " : "", expr ? et_vision_expression_name(e) : "");
    return 0;
}

static json_t *calibration_json(const et_listener_calibration *cal)
{
    json_t *counts = json_object();
    for (int k = 0; k < ET_EXPR_COUNT; k++)
        json_object_set_new(counts, et_vision_expression_name((et_expression)k),
                            json_integer(cal->counts[k]));
    return json_pack("{s:o, s:i, s:i, s:b}", "counts", counts, "total", (int)cal->total,
                     "max_per_expression", ET_LISTENER_CALIB_MAX_PER_EXPR, "in_use",
                     cal->in_use);
}

static void print_calibration(const et_listener_calibration *cal)
{
    if (!cal->in_use) {
        printf("calibration   none (emotune calibrate, or the page's Calibrate panel)\n");
        return;
    }
    printf("calibration   %u examples:", cal->total);
    for (int k = 0; k < ET_EXPR_COUNT; k++)
        printf("%s %s %u", k ? "," : "", et_vision_expression_name((et_expression)k),
               cal->counts[k]);
    printf(" (at most %d each)\n", ET_LISTENER_CALIB_MAX_PER_EXPR);
}

int et_cli_profile(int argc, char **argv)
{
    lopts o = {0};
    int first = parse(argc, argv, profile_usage, &o);
    if (first < 0)
        return first == -2 ? ET_EXIT_OK : ET_EXIT_USAGE;
    if (first < argc) {
        fprintf(stderr, "emotune profile: takes no operand\n\n%s", profile_usage);
        return ET_EXIT_USAGE;
    }
    const char *listener = listener_of("profile", &o);
    if (!listener)
        return ET_EXIT_USAGE;
    et_store *s;
    int rc = et_cli_open_store("profile", o.store, &s);
    if (rc)
        return rc;
    if (o.list) {
        rc = list_listeners(s, o.json);
        et_store_close(s);
        return rc;
    }
    char err[ET_ERR_MAX];
    et_listener_profile p;
    et_listener_profile_change ch;
    et_listener_calibration cal;
    int changed = read_settings(&o, &ch);
    et_status st = changed == 1 ? et_listener_profile_update(s, listener, &ch, &p, err)
                                : et_listener_profile_load(s, listener, &p, err);
    if (st == ET_OK && changed != ET_EXIT_USAGE && o.forget &&
        (rc = forget_calibration(s, listener, o.forget_expr)) != 0) {
        et_store_close(s);
        return rc;
    }
    if (st == ET_OK)
        st = et_listener_calib_get(s, listener, &cal, err);
    et_store_close(s);
    if (st != ET_OK) {
        fprintf(stderr, "emotune profile: %s\n", err);
        return exit_for(st);
    }
    if (changed == ET_EXIT_USAGE)
        return ET_EXIT_USAGE;
    if (o.json) {
        json_t *doc = et_report_profile(&p);
        json_object_set_new(doc, "calibration", calibration_json(&cal));
        et_cli_print_json(doc);
    } else {
        printf("listener      %s%s\npolicy        %s\nmood          smoothing %.3g s, hold "
               "%.3g s\nhistory       %.6g days, at most %zu moods\nfeedback      %.6g "
               "days, at most %zu entries\n",
               p.name, p.stored ? "" : " (defaults, nothing stored yet)",
               et_rec_policy_name(p.policy), p.tau_s, p.hold_s, p.history_days,
               p.history_max, p.feedback_days, p.feedback_max);
        print_calibration(&cal);
    }
    return ET_EXIT_OK;
}
