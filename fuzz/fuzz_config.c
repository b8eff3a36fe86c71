/* Fuzzes the settings file's parser (et_config_parse) and checks what the
 * command line relies on: on success every entry names a known setting, has
 * a non-empty value without control characters or blanks at its ends, a
 * line within the input, lines in increasing order, and a setting that does
 * not repeat comes once; on failure nothing is kept and the message names a
 * line or a limit. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t count_lines(const uint8_t *data, size_t size)
{
    size_t n = 1;
    for (size_t i = 0; i < size; i++)
        n += data[i] == '\n';
    return n;
}

static void check_entry(const et_config *c, size_t i, size_t lines)
{
    const et_config_entry *e = &c->entries[i];
    if (!e->setting || et_config_setting_named(e->setting->key, strlen(e->setting->key)) !=
                           e->setting)
        abort();
    size_t n = strlen(e->value);
    if (n == 0 || n > ET_CONFIG_MAX_LINE || e->value[0] == ' ' || e->value[n - 1] == ' ' ||
        e->value[0] == '\t' || e->value[n - 1] == '\t')
        abort();
    for (size_t k = 0; k < n; k++)
        if ((unsigned char)e->value[k] < 0x20 || e->value[k] == 0x7f)
            abort();
    if (e->line < 1 || (size_t)e->line > lines || (i && e->line <= c->entries[i - 1].line))
        abort();
    if (!e->setting->repeats && et_config_find(c, e->setting->key, 0, NULL) != e)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    et_config c;
    char err[ET_ERR_MAX] = "";
    et_status st = et_config_parse((const char *)data, size, &c, err);
    if (st == ET_OK) {
        if (c.n > ET_CONFIG_MAX_ENTRIES)
            abort();
        size_t lines = count_lines(data, size);
        for (size_t i = 0; i < c.n; i++)
            check_entry(&c, i, lines);
    } else {
        if (c.entries || c.n || !*err)
            abort();
        if (st == ET_E_CORRUPT && strncmp(err, "line ", 5))
            abort();
    }
    et_config_free(&c);
    return 0;
}
