/* Fuzzes the parsing of the listener routes' JSON bodies (src/server: the
 * feedback, the profile and the stated mood) and checks what the handlers
 * rely on: an accepted body gives values in their documented ranges (a
 * valid track id, a known kind, a position >= 0 or -1; a profile that passes
 * its own check; a stated mood named by the table, its point in [-1, 1]
 * and either the name's own point or named after its nearest, a duration
 * in (0, a day] or 0), and a refused one gives ET_E_CORRUPT or ET_E_INVALID
 * with a message that can go into a JSON error. The first byte picks the
 * body's route; the rest is the body. */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mood/mood.h"
#include "server/server_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_range(double x, double lo, double hi)
{
    if (!isfinite(x) || x < lo || x > hi)
        abort();
}

/* The reason of a refusal is a non-empty message a JSON error can carry. */
static void check_refusal(et_status rc, const char *err)
{
    if (rc != ET_E_CORRUPT && rc != ET_E_INVALID)
        abort();
    if (!memchr(err, '\0', ET_ERR_MAX) || !*err)
        abort();
    json_t *s = json_string(err);
    if (!s)
        abort(); /* not UTF-8: the error reply would fail */
    json_decref(s);
}

/* A named mood in the table's own spelling. */
static void check_word(const char *mood, size_t size)
{
    if (!memchr(mood, '\0', size))
        abort();
    const char *word = et_mood_named_canonical(mood);
    if (!word || strcmp(word, mood) != 0)
        abort();
}

static void feedback(const char *body, size_t len)
{
    et__feedback_body b;
    char err[ET_ERR_MAX] = "";
    et_status rc = et__parse_feedback(body, len, &b, err);
    if (rc != ET_OK) {
        check_refusal(rc, err);
        return;
    }
    if (!memchr(b.track, '\0', sizeof b.track) || et_store_check_id(b.track, NULL) != ET_OK)
        abort();
    if (!et_listener_feedback_kind_name(b.kind))
        abort();
    if (b.at_s != -1)
        check_range(b.at_s, 0, INFINITY);
    if (*b.mood)
        check_word(b.mood, sizeof b.mood);
}

static void profile(const char *body, size_t len)
{
    et_listener_profile p;
    et_listener_profile_change ch;
    char err[ET_ERR_MAX] = "";
    if (et_listener_profile_default("fuzz", &p, err) != ET_OK)
        abort();
    et_status rc = et__parse_profile(body, len, &ch, err);
    if (rc != ET_OK) {
        check_refusal(rc, err);
        return;
    }
    if (ch.set & ~(unsigned)ET_LISTENER_SET_ALL)
        abort();
    et_listener_profile_apply(&ch, &p);
    if (et_listener_profile_check(&p, NULL) != ET_OK || strcmp(p.name, "fuzz") != 0)
        abort();
}

static void stated_mood(const char *body, size_t len)
{
    et__mood_body b;
    char err[ET_ERR_MAX] = "";
    et_status rc = et__parse_mood_body(body, len, &b, err);
    if (rc != ET_OK) {
        check_refusal(rc, err);
        return;
    }
    check_word(b.mood, sizeof b.mood);
    check_range(b.valence, -1, 1);
    check_range(b.arousal, -1, 1);
    double v, a;
    if (!et_mood_named_point(b.mood, &v, &a))
        abort();
    bool its_point = v == b.valence && a == b.arousal;
    if (!its_point && strcmp(b.mood, et_mood_nearest_named(b.valence, b.arousal)) != 0)
        abort();
    if (b.for_s != 0)
        check_range(b.for_s, nextafter(0, 1), ET_LISTENER_OVERRIDE_MAX_S);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536)
        return 0;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    switch (data[0] % 3) {
    case 0: feedback(body, len); break;
    case 1: profile(body, len); break;
    default: stated_mood(body, len); break;
    }
    return 0;
}
