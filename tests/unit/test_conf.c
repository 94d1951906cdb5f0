/*
 * test_conf.c - settings: the duration and size parsers, and where conf_load
 * takes each setting from (default < file < environment < flag).
 *
 * Configuration files are temporary files; the environment variables a test
 * sets are unset before every test (each test runs in its own process).
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bridge/base/conf.h"
#include "bridge/base/log.h"
#include "bridge/base/secret.h"

#define expect_str(got, want) cr_assert(eq(str, (char *) (got), (char *) (want)))
#define NELEM(a)              (sizeof(a) / sizeof((a)[0]))

static void
clean_environment(void)
{
    unsetenv("MEMORI_BRIDGE_SOURCE");
    unsetenv("MEMORI_BRIDGE_TARGET");
    unsetenv("MEMORI_BRIDGE_SLOT");
    unsetenv("MEMORI_BRIDGE_SCHEMAS");
    unsetenv("PGPASSWORD");
    secret_clear();
}

TestSuite(conf, .init = clean_environment);

/* Write CONTENT to a new temporary file; its name goes to PATH (32 bytes). */
static void
write_temp(const char *content, char path[32])
{
    int fd;
    size_t len = strlen(content);

    snprintf(path, 32, "/tmp/test_conf_XXXXXX");
    fd = mkstemp(path);
    cr_assert(ge(int, fd, 0), "mkstemp failed");
    cr_assert(eq(sz, (size_t) write(fd, content, len), len));
    close(fd);
}

/* conf_load on the NULL-terminated ARGS (program name first); the remaining
 * arguments go to REST (ARGS' length entries) and *NREST. */
static enum conf_status
load(struct conf *conf, char **args, char **rest, int *nrest)
{
    int argc = 0;

    while (args[argc] != NULL)
        argc++;
    return conf_load(conf, argc, args, rest, nrest);
}

/* conf_load that must succeed. */
static void
load_ok(struct conf *conf, char **args)
{
    char *rest[32];
    int nrest;

    cr_assert(eq(int, load(conf, args, rest, &nrest), CONF_OK));
}

static int64_t
duration(const char *s)
{
    int64_t ms = -12345;

    cr_assert(conf_parse_duration(s, &ms), "\"%s\" should parse as a duration", s);
    return ms;
}

static int64_t
size(const char *s)
{
    int64_t bytes = -12345;

    cr_assert(conf_parse_size(s, &bytes), "\"%s\" should parse as a size", s);
    return bytes;
}

Test(conf, parses_durations_in_every_unit)
{
    cr_assert(eq(i64, duration("250ms"), 250));
    cr_assert(eq(i64, duration("10s"), 10000));
    cr_assert(eq(i64, duration("1.5s"), 1500));
    cr_assert(eq(i64, duration("2min"), 120000));
    cr_assert(eq(i64, duration("1h"), 3600000));
    cr_assert(eq(i64, duration("0"), 0));
}

Test(conf, reads_a_bare_number_as_seconds)
{
    cr_assert(eq(i64, duration("30"), 30000));
    cr_assert(eq(i64, duration("2.5"), 2500));
}

Test(conf, rejects_what_is_not_a_duration)
{
    static const char *const bad[] = {"", "x", "-1s", "10 parsecs", "ms", "1d", "10s later"};
    size_t i;

    for (i = 0; i < NELEM(bad); i++)
    {
        int64_t ms = 777;

        cr_assert_not(conf_parse_duration(bad[i], &ms), "\"%s\" should not parse", bad[i]);
    }
}

Test(conf, parses_sizes_in_units_of_1024)
{
    cr_assert(eq(i64, size("4096"), 4096));
    cr_assert(eq(i64, size("512kB"), 512 * INT64_C(1024)));
    cr_assert(eq(i64, size("64MB"), 64 * INT64_C(1024) * 1024));
    cr_assert(eq(i64, size("1GB"), INT64_C(1024) * 1024 * 1024));
}

Test(conf, rejects_what_is_not_a_size)
{
    static const char *const bad[] = {"MB", "-1", "1TB", "", "1.5MB", "x"};
    size_t i;

    for (i = 0; i < NELEM(bad); i++)
    {
        int64_t bytes = 777;

        cr_assert_not(conf_parse_size(bad[i], &bytes), "\"%s\" should not parse", bad[i]);
    }
}

/* The documented defaults (conf.c's table, as --help shows them). */
static void
expect_defaults_except_strings(const struct conf *c)
{
    cr_assert(eq(i64, c->status_interval_ms, 10000));
    cr_assert(eq(i64, c->lag_interval_ms, 10000));
    cr_assert(eq(int, c->log_format, CONF_LOG_TEXT));
    cr_assert(eq(int, c->log_level, LOG_INFO));
    cr_assert(eq(i64, c->group_xacts, 1000));
    cr_assert(eq(i64, c->group_bytes, 64 * (INT64_C(1) << 20)));
    cr_assert(eq(i64, c->group_delay_ms, 100));
    cr_assert(eq(i64, c->batch_rows, 1000));
    cr_assert(eq(i64, c->batch_bytes, 4 * (INT64_C(1) << 20)));
    cr_assert(eq(i64, c->ring_batches, 16));
    cr_assert(eq(i64, c->ring_batch_bytes, INT64_C(1) << 20));
    cr_assert(eq(i64, c->reconnect_min_ms, 500));
    cr_assert(eq(i64, c->reconnect_max_ms, 30000));
    cr_assert(eq(i64, c->connect_timeout_ms, 10000));
    cr_assert(eq(i64, c->busy_timeout_ms, 5000));
}

Test(conf, starts_from_the_defaults)
{
    struct conf c;
    char *args[] = {"memori-bridge", "run", NULL};

    load_ok(&c, args);
    cr_assert(zero(ptr, c.source));
    cr_assert(zero(ptr, c.target));
    cr_assert(zero(ptr, c.config_file));
    expect_str(c.slot, "memori_bridge");
    expect_str(c.schemas, "memori");
    expect_defaults_except_strings(&c);
    conf_free(&c);
}

Test(conf, file_overrides_the_defaults)
{
    struct conf c;
    char path[32];
    char *args[] = {"memori-bridge", "--config", path, "run", NULL};

    write_temp("slot = from_file\nbatch_rows = 7\ngroup_delay = 250ms\n"
               "ring_batch_bytes = 2MB\nlog_format = json\n",
               path);
    load_ok(&c, args);
    expect_str(c.slot, "from_file");
    cr_assert(eq(i64, c.batch_rows, 7));
    cr_assert(eq(i64, c.group_delay_ms, 250));
    cr_assert(eq(i64, c.ring_batch_bytes, 2 * (INT64_C(1) << 20)));
    cr_assert(eq(int, c.log_format, CONF_LOG_JSON));
    expect_str(c.schemas, "memori"); /* not in the file: still the default */
    expect_str(c.config_file, path);
    conf_free(&c);
    unlink(path);
}

Test(conf, file_keys_may_stand_in_a_memori_bridge_section)
{
    struct conf c;
    char path[32];
    char *args[] = {"memori-bridge", "--config", path, "run", NULL};

    write_temp("# comment\n[memori-bridge]\nslot = in_section\nschemas = memori,bench\n", path);
    load_ok(&c, args);
    expect_str(c.slot, "in_section");
    expect_str(c.schemas, "memori,bench");
    conf_free(&c);
    unlink(path);
}

Test(conf, environment_overrides_the_file)
{
    struct conf c;
    char path[32];
    char *args[] = {"memori-bridge", "--config", path, "run", NULL};

    write_temp("source = host=file_source\ntarget = host=file_target\n", path);
    setenv("MEMORI_BRIDGE_SOURCE", "host=env_source", 1);
    load_ok(&c, args);
    expect_str(c.source, "host=env_source");
    expect_str(c.target, "host=file_target"); /* MEMORI_BRIDGE_TARGET unset */
    conf_free(&c);
    unlink(path);
}

Test(conf, environment_sets_only_the_connection_strings)
{
    struct conf c;
    char *args[] = {"memori-bridge", "run", NULL};

    setenv("MEMORI_BRIDGE_TARGET", "host=env_target", 1);
    setenv("MEMORI_BRIDGE_SLOT", "env_slot", 1);
    setenv("MEMORI_BRIDGE_SCHEMAS", "env_schema", 1);
    load_ok(&c, args);
    expect_str(c.target, "host=env_target");
    expect_str(c.slot, "memori_bridge");
    expect_str(c.schemas, "memori");
    conf_free(&c);
}

Test(conf, flag_overrides_environment_and_file)
{
    struct conf c;
    char path[32];
    char *args[] = {"memori-bridge", "--config",  path,  "--source", "host=flag_source",
                    "--slot",        "flag_slot", "run", NULL};

    write_temp("source = host=file_source\nslot = file_slot\n", path);
    setenv("MEMORI_BRIDGE_SOURCE", "host=env_source", 1);
    load_ok(&c, args);
    expect_str(c.source, "host=flag_source");
    expect_str(c.slot, "flag_slot");
    conf_free(&c);
    unlink(path);
}

Test(conf, flags_may_stand_before_or_after_the_command)
{
    struct conf c;
    char *rest[16];
    int nrest = -1;
    char *args[] = {"memori-bridge", "--slot", "before", "run", "--batch-rows", "5", NULL};

    cr_assert(eq(int, load(&c, args, rest, &nrest), CONF_OK));
    expect_str(c.slot, "before");
    cr_assert(eq(i64, c.batch_rows, 5));
    cr_assert(eq(int, nrest, 1));
    expect_str(rest[0], "run");
    conf_free(&c);
}

Test(conf, takes_flag_equals_value)
{
    struct conf c;
    char path[32];
    char *args[] = {"memori-bridge", "--slot=eq_slot", "run", "--status-interval=2min", NULL, NULL};
    char config_arg[64];

    write_temp("batch_rows = 9\n", path);
    snprintf(config_arg, sizeof(config_arg), "--config=%s", path);
    args[4] = config_arg;
    load_ok(&c, args);
    expect_str(c.slot, "eq_slot");
    cr_assert(eq(i64, c.status_interval_ms, 120000));
    cr_assert(eq(i64, c.batch_rows, 9));
    conf_free(&c);
    unlink(path);
}

Test(conf, hands_back_the_other_arguments_in_order)
{
    struct conf c;
    char *rest[16];
    int nrest = -1;
    char *args[] = {"memori-bridge", "decode",    "--slot", "s",        "one.json",
                    "--json",        "--schemas", "bench",  "two.json", NULL};

    cr_assert(eq(int, load(&c, args, rest, &nrest), CONF_OK));
    cr_assert(eq(int, nrest, 4));
    expect_str(rest[0], "decode");
    expect_str(rest[1], "one.json");
    expect_str(rest[2], "--json");
    expect_str(rest[3], "two.json");
    expect_str(c.slot, "s");
    expect_str(c.schemas, "bench");
    conf_free(&c);
}

/* conf_load of ARGS must refuse with CONF_USAGE. */
static void
expect_usage(char **args)
{
    struct conf c;
    char *rest[16];
    int nrest;

    cr_assert(eq(int, load(&c, args, rest, &nrest), CONF_USAGE));
    conf_free(&c);
}

/* A configuration file holding CONTENT must be refused with CONF_USAGE. */
static void
expect_file_refused(const char *content)
{
    char path[32];
    char *args[] = {"memori-bridge", "--config", path, "run", NULL};

    write_temp(content, path);
    expect_usage(args);
    unlink(path);
}

Test(conf, refuses_an_unknown_key_in_the_file)
{
    expect_file_refused("slot = s\nno_such_key = 1\n");
}

Test(conf, refuses_an_unknown_section_in_the_file)
{
    expect_file_refused("[other]\nslot = s\n");
}

Test(conf, refuses_a_bad_duration)
{
    char *args[] = {"memori-bridge", "--group-delay", "soon", "run", NULL};

    expect_file_refused("status_interval = 10 parsecs\n");
    expect_usage(args);
}

Test(conf, refuses_a_bad_size_or_number)
{
    char *size_args[] = {"memori-bridge", "--batch-bytes", "1TB", "run", NULL};
    char *int_args[] = {"memori-bridge", "--batch-rows", "12x", "run", NULL};

    expect_usage(size_args);
    expect_usage(int_args);
}

Test(conf, refuses_a_value_out_of_range)
{
    char *args[] = {"memori-bridge", "--status-interval", "10ms", "run", NULL};

    expect_usage(args);
}

Test(conf, refuses_a_flag_without_its_value)
{
    char *args[] = {"memori-bridge", "run", "--slot", NULL};

    expect_usage(args);
}

Test(conf, refuses_a_missing_configuration_file)
{
    char *args[] = {"memori-bridge", "--config", "/nonexistent/memori-bridge.conf", "run", NULL};

    expect_usage(args);
}

Test(conf, refuses_a_directory_or_a_device_as_the_configuration_file)
{
    char *dir[] = {"memori-bridge", "--config", "/tmp", "run", NULL};
    char *dev[] = {"memori-bridge", "--config", "/dev/null", "run", NULL};

    expect_usage(dir);
    expect_usage(dev);
}

Test(conf, reads_the_configuration_file_from_a_pipe)
{
    struct conf c;
    int fds[2];
    char path[32];
    char *args[] = {"memori-bridge", "--config", path, "run", NULL};
    const char text[] = "slot = piped\n";

    cr_assert(eq(int, pipe(fds), 0));
    cr_assert(eq(sz, (size_t) write(fds[1], text, sizeof(text) - 1), sizeof(text) - 1));
    close(fds[1]);
    snprintf(path, sizeof(path), "/dev/fd/%d", fds[0]);
    load_ok(&c, args);
    expect_str(c.slot, "piped");
    conf_free(&c);
    close(fds[0]);
}

Test(conf, refuses_a_file_that_is_not_text)
{
    expect_file_refused("slot = s\n\001\002\377 = 1\n");
    expect_file_refused("slot = s\nschemas = mem\377ri\n");
    expect_file_refused("slot = \033[31mred\n");
}

Test(conf, refuses_a_line_longer_than_the_parser_holds)
{
    char text[400];

    snprintf(text, sizeof(text), "slot = %0300d\n", 7);
    expect_file_refused(text);
    snprintf(text, sizeof(text), "schemas = %0190d\n", 7); /* 200 bytes */
    expect_file_refused(text);
}

Test(conf, takes_a_line_as_long_as_the_parser_holds)
{
    struct conf c;
    char path[32], text[256], want[200];
    char *args[] = {"memori-bridge", "--config", path, "run", NULL};

    /* 199 bytes with "schemas = ", not counting the line's end */
    snprintf(want, sizeof(want), "%0189d", 7);
    snprintf(text, sizeof(text), "schemas = %s\n", want);
    write_temp(text, path);
    load_ok(&c, args);
    expect_str(c.schemas, want);
    conf_free(&c);
    unlink(path);
}

Test(conf, refuses_reconnect_min_above_reconnect_max)
{
    struct conf c;
    char *both[] = {
        "memori-bridge", "--reconnect-min", "60s", "--reconnect-max", "1s", "run", NULL};
    char *min_only[] = {"memori-bridge", "--reconnect-min", "31s", "run", NULL};
    char *equal[] = {
        "memori-bridge", "--reconnect-min", "2s", "--reconnect-max", "2s", "run", NULL};

    expect_usage(both);
    expect_usage(min_only); /* the longest is 30 s unless set */
    load_ok(&c, equal);
    cr_assert(eq(i64, c.reconnect_min_ms, 2000));
    cr_assert(eq(i64, c.reconnect_max_ms, 2000));
    conf_free(&c);
}

Test(conf, refuses_an_empty_schema_name)
{
    char *middle[] = {"memori-bridge", "--schemas", "memori,,app", "run", NULL};
    char *last[] = {"memori-bridge", "--schemas", "memori, ", "run", NULL};
    char *none[] = {"memori-bridge", "--schemas=", "run", NULL};

    expect_usage(middle);
    expect_usage(last);
    expect_usage(none);
}

Test(conf, help_and_version_before_the_command)
{
    struct conf c;
    char *rest[8];
    int nrest;
    char *help[] = {"memori-bridge", "--help", "run", NULL};
    char *version[] = {"memori-bridge", "--version", NULL};

    cr_assert(eq(int, load(&c, help, rest, &nrest), CONF_HELP));
    conf_free(&c);
    cr_assert(eq(int, load(&c, version, rest, &nrest), CONF_VERSION));
    conf_free(&c);
}

Test(conf, help_and_version_after_the_command_belong_to_it)
{
    struct conf c;
    char *rest[8];
    int nrest = -1;
    char *args[] = {"memori-bridge", "decode", "--help", "--version", NULL};

    cr_assert(eq(int, load(&c, args, rest, &nrest), CONF_OK));
    cr_assert(eq(int, nrest, 3));
    expect_str(rest[0], "decode");
    expect_str(rest[1], "--help");
    expect_str(rest[2], "--version");
    conf_free(&c);
}

Test(conf, registers_the_passwords_it_reads_as_secrets)
{
    struct conf c;
    char *args[] = {"memori-bridge", "--source", "host=s password=sourcepw1", "run", NULL};
    char line[128];

    setenv("MEMORI_BRIDGE_TARGET", "postgresql://u:targetpw2@h/db", 1);
    setenv("PGPASSWORD", "environpw3", 1);
    load_ok(&c, args);
    snprintf(line, sizeof(line), "a sourcepw1 b targetpw2 c environpw3");
    secret_scrub(line, sizeof(line));
    expect_str(line, "a ******** b ******** c ********");
    conf_free(&c);
}

/* The passwords of DSN flags are blanked in ARGV itself (both forms, both
 * syntaxes), after conf_load took its copies; the rest of ARGV stays. */
Test(conf, hides_the_passwords_of_the_command_line)
{
    struct conf c;
    char a1[] = "--source", a2[] = "host=s user=alice password=sourcepw1 dbname=d";
    char a3[] = "--target=postgresql://bob:targetpw2@h:5433/db?sslmode=disable";
    char a4[] = "--slot", a5[] = "password=notadsn", a6[] = "run";
    char *args[] = {"memori-bridge", a1, a2, a3, a4, a5, a6, NULL};

    load_ok(&c, args);
    conf_hide_passwords(&c);
    expect_str(a2, "host=s user=alice password=********* dbname=d");
    expect_str(a3, "--target=postgresql://bob:*********@h:5433/db?sslmode=disable");
    expect_str(a5, "password=notadsn"); /* --slot's value is no connection string */
    expect_str(c.source, "host=s user=alice password=sourcepw1 dbname=d");
    expect_str(c.target, "postgresql://bob:targetpw2@h:5433/db?sslmode=disable");
    conf_free(&c);
}

/* Every setting of A equals B's. */
static void
expect_same_settings(const struct conf *a, const struct conf *b)
{
    cr_assert(eq(ptr, a->source, b->source)); /* both NULL: no default */
    cr_assert(eq(ptr, a->target, b->target));
    expect_str(a->slot, b->slot);
    expect_str(a->schemas, b->schemas);
    cr_assert(eq(i64, a->status_interval_ms, b->status_interval_ms));
    cr_assert(eq(i64, a->lag_interval_ms, b->lag_interval_ms));
    cr_assert(eq(int, a->log_format, b->log_format));
    cr_assert(eq(int, a->log_level, b->log_level));
    cr_assert(eq(i64, a->group_xacts, b->group_xacts));
    cr_assert(eq(i64, a->group_bytes, b->group_bytes));
    cr_assert(eq(i64, a->group_delay_ms, b->group_delay_ms));
    cr_assert(eq(i64, a->batch_rows, b->batch_rows));
    cr_assert(eq(i64, a->batch_bytes, b->batch_bytes));
    cr_assert(eq(i64, a->ring_batches, b->ring_batches));
    cr_assert(eq(i64, a->ring_batch_bytes, b->ring_batch_bytes));
    cr_assert(eq(i64, a->reconnect_min_ms, b->reconnect_min_ms));
    cr_assert(eq(i64, a->reconnect_max_ms, b->reconnect_max_ms));
    cr_assert(eq(i64, a->connect_timeout_ms, b->connect_timeout_ms));
    cr_assert(eq(i64, a->busy_timeout_ms, b->busy_timeout_ms));
}

Test(conf, example_file_loads_back_as_the_defaults)
{
    struct conf c, defaults;
    char path[32] = "/tmp/test_conf_XXXXXX";
    char *args[] = {"memori-bridge", "--config", path, "run", NULL};
    char *plain[] = {"memori-bridge", "run", NULL};
    char line[256];
    int fd = mkstemp(path), settings = 0;
    FILE *f;

    cr_assert(ge(int, fd, 0));
    f = fdopen(fd, "w+");
    cr_assert_not_null(f);
    conf_print_example(f);
    /* the example really sets its keys: "key = value" lines, not only comments */
    rewind(f);
    while (fgets(line, sizeof(line), f) != NULL)
        if (line[0] != '#' && line[0] != '[' && strchr(line, '=') != NULL)
            settings++;
    fclose(f);
    cr_assert(ge(int, settings, 17), "only %d settings in the example", settings);

    load_ok(&c, args);
    load_ok(&defaults, plain);
    expect_str(c.config_file, path);
    expect_same_settings(&c, &defaults);
    conf_free(&c);
    conf_free(&defaults);
    unlink(path);
}
