/* Fuzzes the catalogue parsers (CSV, JSON, M3U; et__catalog_parse) without
 * a store, and checks what et_library_import relies on: every entry is an
 * http(s) URL of at most 2048 bytes with its id, a known mood and titles
 * that are valid UTF-8 without control characters; links are unique; lines
 * are in range; messages are printable. Each input is parsed twice, without
 * and with a `mood` argument: the same candidates must be seen both times. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "library/library.h"
#include "library/library_internal.h"
#include "mood/mood.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_text(const char *s, size_t max, int may_be_empty)
{
    size_t n = strlen(s);
    if (n > max || (!may_be_empty && n == 0))
        abort();
    if (n && (s[0] == ' ' || s[n - 1] == ' '))
        abort(); /* trimmed */
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            abort();
    json_t *j = json_string(s); /* NULL when not valid UTF-8 */
    if (!j)
        abort();
    json_decref(j);
}

static int by_id(const void *a, const void *b)
{
    return strcmp(((const et__catalog_entry *)a)->id, ((const et__catalog_entry *)b)->id);
}

static void check(const et__catalog *c, size_t lines)
{
    if (c->n_issues > ET__CATALOG_MAX_ISSUES || c->n_issues > c->skipped)
        abort();
    for (size_t i = 0; i < c->n_issues; i++) {
        const et_import_issue *is = &c->issues[i];
        if (is->line < 1 || is->line > lines || !memchr(is->message, '\0', sizeof is->message))
            abort();
        for (const char *m = is->message; *m; m++)
            if (*m < 0x20 || *m > 0x7e)
                abort();
        if (i && is->line < c->issues[i - 1].line)
            abort();
    }
    for (size_t i = 0; i < c->n_entries; i++) {
        const et__catalog_entry *e = &c->entries[i];
        if (e->line < 1 || e->line > lines || (i && e->line < c->entries[i - 1].line))
            abort();
        size_t n = strlen(e->url);
        if (n > ET__CATALOG_MAX_URL ||
            (strncmp(e->url, "http://", 7) != 0 && strncmp(e->url, "https://", 8) != 0))
            abort();
        char id[19];
        et__catalog_link_id(e->url, n, id);
        if (strcmp(id, e->id) != 0)
            abort();
        check_text(e->url, ET__CATALOG_MAX_URL, 0);
        check_text(e->title, ET__CATALOG_MAX_TEXT, 0);
        check_text(e->artist, ET__CATALOG_MAX_TEXT, 1);
        double v, a;
        if (!et_mood_named_point(e->mood, &v, &a) || v != e->valence || a != e->arousal)
            abort();
    }
    if (c->n_entries < 2)
        return;
    et__catalog_entry *sorted = malloc(c->n_entries * sizeof *sorted);
    if (!sorted)
        return;
    memcpy(sorted, c->entries, c->n_entries * sizeof *sorted);
    qsort(sorted, c->n_entries, sizeof *sorted, by_id);
    for (size_t i = 1; i < c->n_entries; i++)
        if (strcmp(sorted[i - 1].id, sorted[i].id) == 0)
            abort(); /* each link once */
    free(sorted);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    size_t lines = 1;
    for (size_t i = 0; i < size; i++)
        lines += text[i] == '\n' || (text[i] == '\r' && (i + 1 == size || text[i + 1] != '\n'));
    et__catalog free_moods, forced;
    char err[ET_ERR_MAX];
    et_status a = et__catalog_parse(text, size, NULL, &free_moods, err);
    et_status b = et__catalog_parse(text, size, "calm", &forced, err);
    if (a != b || (a != ET_OK && a != ET_E_INVALID))
        abort();
    if (a == ET_OK) {
        check(&free_moods, lines);
        check(&forced, lines);
        /* a label can only cost entries; candidates are the same */
        if (free_moods.format != forced.format || forced.n_entries < free_moods.n_entries ||
            forced.n_entries + forced.skipped != free_moods.n_entries + free_moods.skipped)
            abort();
        for (size_t i = 0; i < forced.n_entries; i++)
            if (strcmp(forced.entries[i].mood, "calm") != 0)
                abort();
    }
    et__catalog_free(&free_moods);
    et__catalog_free(&forced);
    return 0;
}
