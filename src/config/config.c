/* config: the settings file's parser (see config.h for the format). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config/config.h"

static const et_config_setting settings[] = {
    {"store", "EMOTUNE_STORE", NULL, "--store", 0,
     "the store: lmdb:DIR or redis://[:PASSWORD@]HOST:PORT[/DB]"},
    {"listener", "EMOTUNE_LISTENER", NULL, "--listener", 0,
     "whose profile, feedback and history"},
    {"models", "EMOTUNE_MODELS", NULL, "--models", 0, "the folder of the model files"},
    {"web", "EMOTUNE_WEB", "serve", "--web", 0, "the web page's folder"},
    {"token", "EMOTUNE_TOKEN", "serve", "--token", 0,
     "the token the API asks for (16 characters or more)"},
    {"cpu", "EMOTUNE_CPU", NULL, NULL, 0, "convolution kernels: auto, generic, avx2 or avx512"},
    {"listen", NULL, "serve", "--listen", 0, "the server's ADDR:PORT"},
    {"music", NULL, "serve", "--music", 1, "a music folder to scan and play (one a line)"},
    {NULL, NULL, NULL, NULL, 0, NULL},
};

const et_config_setting *et_config_settings(void) { return settings; }

const et_config_setting *et_config_setting_named(const char *key, size_t len)
{
    for (const et_config_setting *s = settings; s->key; s++)
        if (strlen(s->key) == len && !memcmp(s->key, key, len))
            return s;
    return NULL;
}

void et_config_free(et_config *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++)
        free(c->entries[i].value);
    free(c->entries);
    c->entries = NULL;
    c->n = 0;
}

static int is_blank(char ch) { return ch == ' ' || ch == '\t'; }

/* [*b, *e) without blanks at either end. */
static void trim(const char **b, const char **e)
{
    while (*b < *e && is_blank(**b))
        (*b)++;
    while (*e > *b && is_blank((*e)[-1]))
        (*e)--;
}

static et_status add_entry(et_config *c, const et_config_setting *s, const char *v, size_t vlen,
                           int line, char *err)
{
    if (c->n == ET_CONFIG_MAX_ENTRIES)
        return et_fail(err, ET_E_TOO_LARGE, "line %d: more than %d settings", line,
                       ET_CONFIG_MAX_ENTRIES);
    et_config_entry *grown = realloc(c->entries, (c->n + 1) * sizeof *grown);
    if (!grown)
        return et_fail(err, ET_E_NOMEM, "out of memory");
    c->entries = grown;
    char *copy = malloc(vlen + 1);
    if (!copy)
        return et_fail(err, ET_E_NOMEM, "out of memory");
    memcpy(copy, v, vlen);
    copy[vlen] = '\0';
    c->entries[c->n++] = (et_config_entry){.setting = s, .value = copy, .line = line};
    return ET_OK;
}

/* One line, [b, e) without its "\n" (nor "\r\n"). */
static et_status parse_line(et_config *c, const char *b, const char *e, int line, char *err)
{
    if ((size_t)(e - b) > ET_CONFIG_MAX_LINE)
        return et_fail(err, ET_E_CORRUPT, "line %d: longer than %d bytes", line,
                       ET_CONFIG_MAX_LINE);
    for (const char *p = b; p < e; p++)
        if (*p == '\0')
            return et_fail(err, ET_E_CORRUPT, "line %d: a NUL byte", line);
    trim(&b, &e);
    if (b == e || *b == '#')
        return ET_OK;
    const char *eq = memchr(b, '=', (size_t)(e - b));
    if (!eq)
        return et_fail(err, ET_E_CORRUPT, "line %d: not KEY = VALUE (no '=')", line);
    const char *kb = b, *ke = eq, *vb = eq + 1, *ve = e;
    trim(&kb, &ke);
    trim(&vb, &ve);
    const et_config_setting *s = et_config_setting_named(kb, (size_t)(ke - kb));
    if (!s) {
        int n = (int)(ke - kb) > 40 ? 40 : (int)(ke - kb);
        return et_fail(err, ET_E_CORRUPT, "line %d: unknown setting '%.*s'%s", line, n, kb,
                       kb == ke ? " (no key before '=')" : "");
    }
    if (vb == ve)
        return et_fail(err, ET_E_CORRUPT, "line %d: %s has no value", line, s->key);
    for (const char *p = vb; p < ve; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return et_fail(err, ET_E_CORRUPT, "line %d: %s's value has a control character",
                           line, s->key);
    const et_config_entry *before = et_config_find(c, s->key, 0, NULL);
    if (before && !s->repeats)
        return et_fail(err, ET_E_CORRUPT, "line %d: %s is set already on line %d", line, s->key,
                       before->line);
    return add_entry(c, s, vb, (size_t)(ve - vb), line, err);
}

et_status et_config_parse(const char *text, size_t len, et_config *out, char *err)
{
    *out = (et_config){0};
    if (len > ET_CONFIG_MAX_BYTES)
        return et_fail(err, ET_E_TOO_LARGE, "larger than %d bytes", ET_CONFIG_MAX_BYTES);
    const char *p = text, *end = text + len;
    for (int line = 1; p < end; line++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        const char *next = nl ? nl + 1 : end;
        if (e > p && e[-1] == '\r')
            e--;
        et_status st = parse_line(out, p, e, line, err);
        if (st != ET_OK) {
            et_config_free(out);
            return st;
        }
        p = next;
    }
    return ET_OK;
}

et_status et_config_load(const char *path, et_config *out, char *err)
{
    *out = (et_config){0};
    struct stat sb;
    if (stat(path, &sb) != 0)
        return et_fail(err, errno == ENOENT ? ET_E_NOT_FOUND : ET_E_IO, "%s: %s", path,
                       strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return et_fail(err, ET_E_IO, "%s: not a regular file", path);
    uint8_t *data;
    size_t len;
    char why[ET_ERR_MAX];
    et_status st = et_read_file(path, ET_CONFIG_MAX_BYTES, &data, &len, why);
    if (st != ET_OK)
        return et_fail(err, st, "%s", why);
    st = et_config_parse((const char *)data, len, out, why);
    free(data);
    if (st != ET_OK)
        return et_fail(err, st, "%s: %s", path, why);
    return ET_OK;
}

const et_config_entry *et_config_find(const et_config *c, const char *key, size_t from,
                                      size_t *at)
{
    for (size_t i = from; i < c->n; i++)
        if (!strcmp(c->entries[i].setting->key, key)) {
            if (at)
                *at = i;
            return &c->entries[i];
        }
    return NULL;
}
