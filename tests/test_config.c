/* The settings file's parser (src/config/config.h): the format as written
 * there, every kind of bad line refused with its line number and nothing
 * kept, and the file reader's errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "support.h"

static et_config parse_ok(const char *text)
{
    et_config c;
    char err[ET_ERR_MAX] = "";
    et_status st = et_config_parse(text, strlen(text), &c, err);
    if (st != ET_OK)
        fail_msg("parse of [%s] failed: %s", text, err);
    return c;
}

/* Parsing fails with st and a message that contains want; nothing kept. */
static void parse_fails(const char *text, size_t len, et_status st, const char *want)
{
    et_config c;
    char err[ET_ERR_MAX] = "";
    assert_int_equal(et_config_parse(text, len, &c, err), st);
    if (!strstr(err, want))
        fail_msg("message [%s] lacks [%s]", err, want);
    assert_null(c.entries);
    assert_int_equal(c.n, 0);
}

static void a_file_of_every_kind_of_line_parses(void **state)
{
    (void)state;
    et_config c = parse_ok("# emotune's settings\n"
                           "\n"
                           "   # an indented comment\n"
                           "store = lmdb:/var/lib/emotune\n"
                           "listen=127.0.0.1:9000\r\n"
                           "\tmusic =   /srv/music  \n"
                           "music = /srv/with # inside\n"
                           "token = a=b=c-0123456789abcdef");
    assert_int_equal(c.n, 5);
    assert_string_equal(c.entries[0].setting->key, "store");
    assert_string_equal(c.entries[0].value, "lmdb:/var/lib/emotune");
    assert_int_equal(c.entries[0].line, 4);
    assert_string_equal(c.entries[1].value, "127.0.0.1:9000"); /* "\r\n" */
    assert_int_equal(c.entries[1].line, 5);
    assert_string_equal(c.entries[2].value, "/srv/music");     /* trimmed */
    assert_string_equal(c.entries[3].value, "/srv/with # inside");
    assert_string_equal(c.entries[4].value, "a=b=c-0123456789abcdef"); /* first '=' splits */
    assert_int_equal(c.entries[4].line, 8);                    /* no final newline */
    size_t at;
    const et_config_entry *m = et_config_find(&c, "music", 0, &at);
    assert_non_null(m);
    assert_int_equal(m->line, 6);
    m = et_config_find(&c, "music", at + 1, &at);
    assert_non_null(m);
    assert_int_equal(m->line, 7);
    assert_null(et_config_find(&c, "music", at + 1, &at));
    assert_null(et_config_find(&c, "models", 0, NULL));
    et_config_free(&c);
    et_config_free(&c); /* twice is harmless */
}

static void an_empty_file_and_only_comments_give_no_setting(void **state)
{
    (void)state;
    et_config c = parse_ok("");
    assert_int_equal(c.n, 0);
    et_config_free(&c);
    c = parse_ok("\n# nothing\n   \n\t\n");
    assert_int_equal(c.n, 0);
    et_config_free(&c);
}

static void each_setting_has_its_variable_and_option(void **state)
{
    (void)state;
    static const struct { const char *key, *env, *option; } want[] = {
        {"store", "EMOTUNE_STORE", "--store"},   {"listener", "EMOTUNE_LISTENER", "--listener"},
        {"models", "EMOTUNE_MODELS", "--models"}, {"web", "EMOTUNE_WEB", "--web"},
        {"token", "EMOTUNE_TOKEN", "--token"},   {"cpu", "EMOTUNE_CPU", NULL},
        {"listen", NULL, "--listen"},            {"music", NULL, "--music"},
    };
    size_t n = 0;
    for (const et_config_setting *s = et_config_settings(); s->key; s++, n++) {
        assert_true(n < sizeof want / sizeof *want);
        assert_string_equal(s->key, want[n].key);
        if (want[n].env)
            assert_string_equal(s->env, want[n].env);
        else
            assert_null(s->env);
        if (want[n].option)
            assert_string_equal(s->option, want[n].option);
        else
            assert_null(s->option);
        assert_int_equal(s->repeats, !strcmp(s->key, "music"));
    }
    assert_int_equal(n, sizeof want / sizeof *want);
}

static void bad_lines_are_refused_with_their_number(void **state)
{
    (void)state;
    const char *t;
    t = "store = a\nbogus = 1\n";
    parse_fails(t, strlen(t), ET_E_CORRUPT, "line 2: unknown setting 'bogus'");
    t = "# c\n\nstore lmdb:/x\n";
    parse_fails(t, strlen(t), ET_E_CORRUPT, "line 3: not KEY = VALUE");
    t = "music = /a\nstore =   \n";
    parse_fails(t, strlen(t), ET_E_CORRUPT, "line 2: store has no value");
    t = "= value\n";
    parse_fails(t, strlen(t), ET_E_CORRUPT, "line 1: unknown setting '' (no key before '=')");
    t = "store = a\nlisten = b\nstore = c\n";
    parse_fails(t, strlen(t), ET_E_CORRUPT, "line 3: store is set already on line 1");
    t = "Store = a\n"; /* keys are lower case */
    parse_fails(t, strlen(t), ET_E_CORRUPT, "line 1: unknown setting 'Store'");
    t = "store = a\x01b\n";
    parse_fails(t, strlen(t), ET_E_CORRUPT, "line 1: store's value has a control character");
    t = "store = a\tb\n";
    parse_fails(t, strlen(t), ET_E_CORRUPT, "line 1: store's value has a control character");
    static const char nul[] = "listen = a\nstore = a\0b\n";
    parse_fails(nul, sizeof nul - 1, ET_E_CORRUPT, "line 2: a NUL byte");
}

static void limits_are_kept(void **state)
{
    (void)state;
    /* a line of ET_CONFIG_MAX_LINE bytes is taken, one more is not */
    size_t n = ET_CONFIG_MAX_LINE;
    char *line = malloc(n + 2);
    assert_non_null(line);
    memcpy(line, "store = ", 8);
    memset(line + 8, 'x', n - 8);
    line[n] = '\n';
    line[n + 1] = '\0';
    et_config c = parse_ok(line);
    assert_int_equal(strlen(c.entries[0].value), n - 8);
    et_config_free(&c);
    line[n] = 'x';
    parse_fails(line, n + 1, ET_E_CORRUPT, "line 1: longer than 4096 bytes");
    free(line);
    /* more settings than ET_CONFIG_MAX_ENTRIES */
    size_t len = 0, cap = (ET_CONFIG_MAX_ENTRIES + 1) * 12 + 1;
    char *many = malloc(cap);
    assert_non_null(many);
    for (int i = 0; i <= ET_CONFIG_MAX_ENTRIES; i++)
        len += (size_t)snprintf(many + len, cap - len, "music = /m\n");
    parse_fails(many, len, ET_E_TOO_LARGE, "line 257: more than 256 settings");
    free(many);
    /* a file over ET_CONFIG_MAX_BYTES, refused before it is read */
    char *big = calloc(ET_CONFIG_MAX_BYTES + 1, 1);
    assert_non_null(big);
    memset(big, '\n', ET_CONFIG_MAX_BYTES + 1);
    parse_fails(big, ET_CONFIG_MAX_BYTES + 1, ET_E_TOO_LARGE, "larger than 65536 bytes");
    free(big);
}

static void load_reads_a_file_and_names_it_in_errors(void **state)
{
    (void)state;
    char *dir = ts_tempdir();
    char path[4096], err[ET_ERR_MAX];
    et_config c;
    snprintf(path, sizeof path, "%s/config", dir);
    assert_int_equal(et_config_load(path, &c, err), ET_E_NOT_FOUND);
    assert_non_null(strstr(err, path));
    ts_write_file(path, "listen = 127.0.0.1:0\n", 21);
    assert_int_equal(et_config_load(path, &c, err), ET_OK);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.entries[0].value, "127.0.0.1:0");
    et_config_free(&c);
    ts_write_file(path, "listen = x\nlisten = y\n", 22);
    assert_int_equal(et_config_load(path, &c, err), ET_E_CORRUPT);
    char want[4200];
    snprintf(want, sizeof want, "%s: line 2: listen is set already on line 1", path);
    assert_string_equal(err, want);
    assert_int_equal(et_config_load(dir, &c, err), ET_E_IO); /* a folder */
    assert_non_null(strstr(err, "not a regular file"));
    ts_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_file_of_every_kind_of_line_parses),
        cmocka_unit_test(an_empty_file_and_only_comments_give_no_setting),
        cmocka_unit_test(each_setting_has_its_variable_and_option),
        cmocka_unit_test(bad_lines_are_refused_with_their_number),
        cmocka_unit_test(limits_are_kept),
        cmocka_unit_test(load_reads_a_file_and_names_it_in_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
