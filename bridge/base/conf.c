/*
 * conf.c - settings from defaults, the configuration file, the environment and
 * flags, in that order of increasing precedence.
 *
 * One table (settings[]) describes every setting: its file key, its flag, its
 * environment variable, its type, limits, default and help. --help, the example
 * configuration file and the parsers all read it, so they cannot disagree.
 */
#include "bridge/base/conf.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/base/conf_int.h"

#include "bridge/base/log.h"
#include "bridge/base/secret.h"

enum setting_type
{
    T_STRING,
    T_INT,
    T_DURATION,
    T_SIZE,
    T_LOG_FORMAT, /* this and the types after it: one of a list of words (words[]),
                   * stored as its index (an int) */
    T_LOG_LEVEL,
    T_COPY_FORMAT,
};

/* One setting. */
struct setting
{
    const char *key;     /* configuration file key */
    const char *flag;    /* command-line flag */
    const char *env;     /* environment variable, or NULL */
    enum setting_type type;
    size_t offset;       /* of the field in struct conf */
    const char *dflt;    /* default, as text (NULL: none) */
    int64_t min, max;    /* limits of numbers, durations and sizes */
    const char *help;    /* one line */
};

#define F(field) offsetof(struct conf, field)
#define MS_DAY   (INT64_C(86400000))
#define GB       (INT64_C(1) << 30)

#define NAME_MAX_BYTES 256 /* a schema name, with room to spare */
#define SHOWN_MAX      40  /* a value or key longer than this is not echoed */

static const struct setting settings[] = {
    {"source", "--source", "MEMORI_BRIDGE_SOURCE", T_STRING, F(source), NULL, 0, 0,
     "source connection string (key=value or postgresql:// URI)"},
    {"target", "--target", "MEMORI_BRIDGE_TARGET", T_STRING, F(target), NULL, 0, 0,
     "target connection string"},
    {"slot", "--slot", NULL, T_STRING, F(slot), "memori_bridge", 0, 0,
     "replication slot; the origin and the reverse slot take their names from it"},
    {"schemas", "--schemas", NULL, T_STRING, F(schemas), "memori", 0, 0,
     "comma-separated schemas to stream"},
    {"status_interval", "--status-interval", NULL, T_DURATION, F(status_interval_ms), "10s", 100,
     MS_DAY, "send standby status, and compare both sides' tables, this often (10s at most)"},
    {"lag_interval", "--lag-interval", NULL, T_DURATION, F(lag_interval_ms), "10s", 0, MS_DAY,
     "print a lag line this often; 0 never"},
    {"metrics_addr", "--metrics-addr", NULL, T_STRING, F(metrics_addr), NULL, 0, 0,
     "run serves Prometheus metrics at http://HOST:PORT/metrics (127.0.0.1:9187); "
     "off when unset"},
    {"log_format", "--log-format", NULL, T_LOG_FORMAT, F(log_format), "text", 0, 0,
     "text or json (lag lines as JSON objects)"},
    {"log_level", "--log-level", NULL, T_LOG_LEVEL, F(log_level), "info", 0, 0,
     "debug, info, warning or error"},
    {"group_xacts", "--group-xacts", NULL, T_INT, F(group_xacts), "1000", 1, 1000000,
     "at most this many source transactions in one target transaction"},
    {"group_bytes", "--group-bytes", NULL, T_SIZE, F(group_bytes), "64MB", 1024, 16 * GB,
     "at most this many change bytes in one target transaction"},
    {"group_delay", "--group-delay", NULL, T_DURATION, F(group_delay_ms), "100ms", 0, MS_DAY,
     "commit a target transaction at the first source commit after this long"},
    {"batch_rows", "--batch-rows", NULL, T_INT, F(batch_rows), "1000", 1, 1000000,
     "at most this many rows in one multi-row statement"},
    {"batch_bytes", "--batch-bytes", NULL, T_SIZE, F(batch_bytes), "4MB", 1024, GB,
     "at most this many value bytes in one multi-row statement"},
    {"ring_batches", "--ring-batches", NULL, T_INT, F(ring_batches), "16", 2, 4096,
     "batches of changes in flight between the reader and the applier"},
    {"ring_batch_bytes", "--ring-batch-bytes", NULL, T_SIZE, F(ring_batch_bytes), "1MB", 4096, GB,
     "bytes of one batch (a larger message gets a batch of its own)"},
    {"reconnect_min", "--reconnect-min", NULL, T_DURATION, F(reconnect_min_ms), "500ms", 10, MS_DAY,
     "first delay before reconnecting after a lost connection"},
    {"reconnect_max", "--reconnect-max", NULL, T_DURATION, F(reconnect_max_ms), "30s", 10, MS_DAY,
     "longest delay between reconnection attempts (doubles from reconnect_min, with jitter)"},
    {"connect_timeout", "--connect-timeout", NULL, T_DURATION, F(connect_timeout_ms), "10s", 1000,
     MS_DAY, "give up connecting after this long, unless the DSN sets connect_timeout"},
    {"jobs", "--jobs", NULL, T_INT, F(jobs), "2", 1, 64,
     "parallel connections of init's copy and index builds"},
    {"copy_format", "--copy-format", NULL, T_COPY_FORMAT, F(copy_format), "auto", 0, 0,
     "COPY format of init's copy: auto (binary when both servers are of one major version, "
     "else text), text, or binary"},
    {"switch_timeout", "--switch-timeout", NULL, T_DURATION, F(switch_timeout_ms), "60s", 1000,
     MS_DAY, "a running bridge waits this long for a cutover or rollback to finish"},
    {"max_lag_bytes", "--max-lag-bytes", NULL, T_SIZE, F(max_lag_bytes), "64MB", 0, 1024 * GB,
     "cutover and rollback refuse to start when the stream is further behind"},
    {"max_lag", "--max-lag", NULL, T_DURATION, F(max_lag_ms), "30s", 0, MS_DAY,
     "cutover and rollback refuse to start when the stream is older than this"},
    {"fence_timeout", "--fence-timeout", NULL, T_DURATION, F(fence_timeout_ms), "5s", 100, MS_DAY,
     "wait this long for transactions in flight when a fence goes up, or PgBouncer "
     "pauses"},
    {"drain_timeout", "--drain-timeout", NULL, T_DURATION, F(drain_timeout_ms), "60s", 1000, MS_DAY,
     "wait this long for the stream to apply the switch marker"},
    {"max_retained_wal", "--max-retained-wal", NULL, T_SIZE, F(max_retained_wal), "1GB", 0,
     1024 * GB, "status warns when a slot keeps more WAL than this"},
    {"pgbouncer", "--pgbouncer", "MEMORI_BRIDGE_PGBOUNCER", T_STRING, F(pgbouncer), NULL, 0, 0,
     "PgBouncer's admin console (dbname=pgbouncer): cutover and rollback pause its memori entry, "
     "point it at the other side and resume it, so that writers through it see a pause, not an "
     "error; off when unset"},
    {"pgbouncer_ini", "--pgbouncer-ini", "MEMORI_BRIDGE_PGBOUNCER_INI", T_STRING, F(pgbouncer_ini),
     NULL, 0, 0,
     "the file PgBouncer includes (%include) that holds the [databases] entry of memori: the "
     "bridge rewrites that entry, atomically, then RELOADs"},
    {"pgbouncer_database", "--pgbouncer-database", "MEMORI_BRIDGE_PGBOUNCER_DATABASE", T_STRING,
     F(pgbouncer_database), "memori", 0, 0,
     "the name of PgBouncer's [databases] entry that carries memori (the database name in the "
     "app's MEMORI_DATABASE_URL)"},
    {"busy_timeout", "--busy-timeout", NULL, T_DURATION, F(busy_timeout_ms), "5s", 0, MS_DAY,
     "wait this long for a slot or origin still held by a bridge that just died, "
     "before calling it another bridge"},
    {"hold_timeout", "--hold-timeout", NULL, T_DURATION, F(hold_timeout_ms), "10min", 1000, MS_DAY,
     "a running bridge holds still for verify at most this long, then goes on (it "
     "goes on at once when that verify's session ends)"},
    /* dead peers: a link that goes silent, and a verify that cannot finish */
    {"peer_timeout", "--peer-timeout", NULL, T_DURATION, F(peer_timeout_ms), "30s", 2000, MS_DAY,
     "a connection whose peer stays silent this long is dead: TCP keepalives and "
     "tcp_user_timeout on every connection (unless the DSN sets them), and the replication "
     "stream's own check; run reconnects"},
    {"verify_timeout", "--verify-timeout", NULL, T_DURATION, F(verify_timeout_ms), "10min", 0,
     MS_DAY,
     "verify gives up after this long, with one line, and lets a bridge it paused go on; 0 "
     "never"},
};
#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))

/* The values of the word types, in their enums' order, by type from T_LOG_FORMAT. */
static const struct
{
    const char *noun;          /* what a value is, for messages */
    const char *metavar;       /* for --help */
    const char *const words[5]; /* NULL-terminated */
} words[] = {
    {"log format", "FORMAT", {"text", "json", NULL}},
    {"log level", "LEVEL", {"debug", "info", "warning", "error", NULL}},
    {"COPY format", "FORMAT", {"auto", "text", "binary", NULL}},
};

bool
conf_parse_duration(const char *s, int64_t *ms)
{
    static const struct
    {
        const char *unit;
        double ms;
    } units[] = {{"ms", 1}, {"s", 1000}, {"sec", 1000}, {"min", 60000}, {"h", 3600000}, {"", 1000}};
    char *end;
    double v;
    size_t i;

    if (s == NULL || *s == '\0')
        return false;
    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || end == s || !isfinite(v) || v < 0)
        return false;
    while (*end == ' ')
        end++;
    for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (strcmp(end, units[i].unit) == 0)
        {
            double r = v * units[i].ms;

            if (r > 9.0e15)
                return false;
            *ms = (int64_t) llround(r);
            return true;
        }
    return false;
}

bool
conf_parse_size(const char *s, int64_t *bytes)
{
    static const struct
    {
        const char *unit;
        int64_t mult;
    } units[] = {{"", 1}, {"B", 1}, {"kB", 1024}, {"KB", 1024}, {"MB", 1 << 20}, {"GB", GB}};
    char *end;
    long long v;
    size_t i;

    if (s == NULL || *s < '0' || *s > '9')
        return false;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || v < 0)
        return false;
    while (*end == ' ')
        end++;
    for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (strcmp(end, units[i].unit) == 0)
        {
            if (v > INT64_MAX / units[i].mult)
                return false;
            *bytes = (int64_t) v * units[i].mult;
            return true;
        }
    return false;
}

static int
find_word(const char *const *list, const char *s)
{
    int i;

    for (i = 0; list[i] != NULL; i++)
        if (strcmp(list[i], s) == 0)
            return i;
    return -1;
}

/* LIST as "a, b or c", into BUF. */
static const char *
word_list(const char *const *list, char *buf, size_t len)
{
    size_t n = 0;
    int i;

    buf[0] = '\0';
    for (i = 0; list[i] != NULL && n < len; i++)
        n += (size_t) snprintf(buf + n, len - n, "%s%s",
                               i == 0 ? "" : list[i + 1] != NULL ? ", " : " or ", list[i]);
    return buf;
}

bool
conf_is_text(const char *s, size_t len)
{
    size_t i = 0;

    while (i < len)
    {
        unsigned char c = (unsigned char) s[i];
        size_t n = c < 0x80             ? 1
                   : (c & 0xe0) == 0xc0 ? 2
                   : (c & 0xf0) == 0xe0 ? 3
                   : (c & 0xf8) == 0xf0 ? 4
                                        : 0;

        if (n == 0 || i + n > len || (c < 0x20 && c != '\t') || c == 0x7f || (n == 2 && c < 0xc2))
            return false;
        for (size_t k = 1; k < n; k++)
            if (((unsigned char) s[i + k] & 0xc0) != 0x80)
                return false;
        i += n;
    }
    return true;
}

const char *
conf_shown(const char *s, const char *noun, char *buf, size_t len)
{
    size_t n = strlen(s), i;

    for (i = 0; i < n && n <= SHOWN_MAX; i++)
        if (s[i] < 0x20 || s[i] > 0x7e)
            break;
    if (n > SHOWN_MAX || i < n)
        snprintf(buf, len, "%s", noun);
    else
        snprintf(buf, len, "\"%s\"", s);
    return buf;
}

/* Store VALUE into the setting S of CONF. Returns false with a one-line
 * reason in WHY (LEN bytes), which the caller logs after where the value came
 * from ("option --x", "file.conf:3", "MEMORI_BRIDGE_SOURCE"). */
static bool
set_value(struct conf *conf, const struct setting *s, const char *value, char *why, size_t len)
{
    char *field = (char *) conf + s->offset;
    char v[64];
    int64_t n = 0;
    int w;
    char *end;

    switch (s->type)
    {
        case T_STRING:
        {
            char *copy;

            if (!conf_is_text(value, strlen(value)))
            {
                snprintf(why, len,
                         "the value of %s holds a control character or bytes that "
                         "are not UTF-8; write it as plain text",
                         s->key);
                return false;
            }
            copy = strdup(value);
            if (copy == NULL)
            {
                snprintf(why, len, "out of memory");
                return false;
            }
            free(*(char **) field);
            *(char **) field = copy;
            if (s->offset == F(source) || s->offset == F(target) || s->offset == F(pgbouncer))
                secret_add_dsn(copy);
            return true;
        }
        case T_INT:
            errno = 0;
            n = strtoll(value, &end, 10);
            if (errno != 0 || end == value || *end != '\0')
            {
                snprintf(why, len, "%s is not a whole number for %s",
                         conf_shown(value, "the value", v, sizeof(v)), s->key);
                return false;
            }
            break;
        case T_DURATION:
            if (!conf_parse_duration(value, &n))
            {
                snprintf(why, len,
                         "%s is not a duration for %s; write a number with a unit: "
                         "250ms, 10s, 2min, 1h",
                         conf_shown(value, "the value", v, sizeof(v)), s->key);
                return false;
            }
            break;
        case T_SIZE:
            if (!conf_parse_size(value, &n))
            {
                snprintf(why, len,
                         "%s is not a size for %s; write a number with a unit: 4096, "
                         "512kB, 64MB, 1GB",
                         conf_shown(value, "the value", v, sizeof(v)), s->key);
                return false;
            }
            break;
        case T_LOG_FORMAT:
        case T_LOG_LEVEL:
        case T_COPY_FORMAT:
        {
            int t = s->type - T_LOG_FORMAT;

            w = find_word(words[t].words, value);
            if (w < 0)
            {
                char list[128];

                snprintf(why, len, "%s is not a %s; use %s",
                         conf_shown(value, "the value", v, sizeof(v)), words[t].noun,
                         word_list(words[t].words, list, sizeof(list)));
                return false;
            }
            *(int *) field = w;
            return true;
        }
    }
    if (n < s->min || n > s->max)
    {
        snprintf(why, len, "%s = %s is out of range (%lld to %lld%s)", s->key,
                 conf_shown(value, "the value", v, sizeof(v)), (long long) s->min,
                 (long long) s->max,
                 s->type == T_DURATION ? " ms" : (s->type == T_SIZE ? " bytes" : ""));
        return false;
    }
    *(int64_t *) field = n;
    return true;
}

static const struct setting *
find_by_key(const char *key)
{
    size_t i;

    for (i = 0; i < NSETTINGS; i++)
        if (strcmp(settings[i].key, key) == 0)
            return &settings[i];
    return NULL;
}

bool
conf_set_key(struct conf *conf, const char *key, const char *value, char *why, size_t len)
{
    const struct setting *s = find_by_key(key);
    char name[64];

    if (s == NULL)
    {
        snprintf(why, len, "unknown key %s; memori-bridge --print-config lists the keys",
                 conf_shown(key, "(a name not shown)", name, sizeof(name)));
        return false;
    }
    return set_value(conf, s, value, why, len);
}

/* A flag, as "--name" or "--name=value"; *INLINE_VALUE gets the value after '='. */
static const struct setting *
find_by_flag(const char *arg, const char **inline_value)
{
    size_t i;

    *inline_value = NULL;
    if (strcmp(arg, "--config") == 0 || strncmp(arg, "--config=", 9) == 0)
        return NULL;
    for (i = 0; i < NSETTINGS; i++)
    {
        size_t n = strlen(settings[i].flag);

        if (strncmp(arg, settings[i].flag, n) != 0)
            continue;
        if (arg[n] == '\0')
            return &settings[i];
        if (arg[n] == '=')
        {
            *inline_value = arg + n + 1;
            return &settings[i];
        }
    }
    return NULL;
}

/* Pairs of settings where one may not exceed the other. */
static const struct
{
    size_t lo, hi;   /* offsets in struct conf, of settings of one type */
    const char *why; /* what the order means */
} ordered[] = {
    {F(reconnect_min_ms), F(reconnect_max_ms),
     "the first delay between reconnections cannot be longer than the longest"},
};

static const struct setting *
find_by_offset(size_t offset)
{
    size_t i;

    for (i = 0; i < NSETTINGS; i++)
        if (settings[i].offset == offset)
            return &settings[i];
    return NULL;
}

/* A duration (ms) or size (bytes) N as a setting's text, into BUF. */
static const char *
format_value(const struct setting *s, int64_t n, char *buf, size_t len)
{
    if (s->type == T_DURATION && n % 1000 == 0)
        snprintf(buf, len, "%llds", (long long) (n / 1000));
    else
        snprintf(buf, len, "%lld%s", (long long) n, s->type == T_DURATION ? "ms" : "");
    return buf;
}

/* Do the settings agree with each other? Logs the first pair that does not,
 * naming both, and returns false. */
static bool
consistent(const struct conf *conf)
{
    size_t i;

    for (i = 0; i < sizeof(ordered) / sizeof(ordered[0]); i++)
    {
        const struct setting *lo = find_by_offset(ordered[i].lo);
        const struct setting *hi = find_by_offset(ordered[i].hi);
        int64_t a = *(const int64_t *) ((const char *) conf + lo->offset);
        int64_t b = *(const int64_t *) ((const char *) conf + hi->offset);
        char x[32], y[32];

        if (a <= b)
            continue;
        log_error("%s %s is more than %s %s: %s; lower %s or raise %s (%s and %s in the "
                  "configuration file)",
                  lo->flag, format_value(lo, a, x, sizeof(x)), hi->flag,
                  format_value(hi, b, y, sizeof(y)), ordered[i].why, lo->flag, hi->flag, lo->key,
                  hi->key);
        return false;
    }
    return true;
}

/* Does --schemas list names, none of them empty? Logs why not. */
static bool
schemas_listed(const struct conf *conf)
{
    const char *p = conf->schemas;
    char v[64];

    for (;;)
    {
        size_t n = strcspn(p, ","), blank = strspn(p, " ");

        if (blank >= n)
        {
            log_error("--schemas %s lists an empty schema name; write the names separated by "
                      "commas, as in memori,app",
                      conf_shown(conf->schemas, "(a list not shown)", v, sizeof(v)));
            return false;
        }
        if (p[n] == '\0')
            return true;
        p += n + 1;
    }
}

enum conf_status
conf_load(struct conf *conf, int argc, char **argv, char **rest, int *nrest)
{
    const char *config_path = NULL;
    /* flags seen, applied last: index into settings[] and the value */
    int *flag_setting = calloc((size_t) argc + 1, sizeof(int));
    char **flag_value = calloc((size_t) argc + 1, sizeof(char *));
    int nflags = 0, ndsns = 0, i;
    size_t k;
    bool command_seen = false;
    enum conf_status status = CONF_OK;
    char why[256];

    memset(conf, 0, sizeof(*conf));
    *nrest = 0;
    conf->dsn_args = calloc((size_t) argc + 1, sizeof(char *));
    if (flag_setting == NULL || flag_value == NULL || conf->dsn_args == NULL)
    {
        log_error("out of memory");
        status = CONF_USAGE;
        goto done;
    }
    for (k = 0; k < NSETTINGS; k++)
        if (settings[k].dflt != NULL &&
            !set_value(conf, &settings[k], settings[k].dflt, why, sizeof(why)))
        {
            log_error("the default of %s: %s", settings[k].key, why);
            status = CONF_USAGE;
            goto done;
        }

    for (i = 1; i < argc; i++)
    {
        const char *arg = argv[i], *inline_value;
        const struct setting *s;

        if (strcmp(arg, "--") == 0)
        {
            /* the rest belongs to the command, flags or not */
            for (; i < argc; i++)
                rest[(*nrest)++] = argv[i];
            break;
        }
        if (strcmp(arg, "--config") == 0 || strncmp(arg, "--config=", 9) == 0)
        {
            if (arg[8] == '=')
                config_path = arg + 9;
            else if (i + 1 < argc)
                config_path = argv[++i];
            else
            {
                log_error("option \"--config\" needs a value");
                status = CONF_USAGE;
                goto done;
            }
            continue;
        }
        s = find_by_flag(arg, &inline_value);
        if (s != NULL)
        {
            char *value;

            if (inline_value != NULL)
                value = argv[i] + (inline_value - arg);
            else if (i + 1 < argc)
                value = argv[++i];
            else
            {
                log_error("option \"%s\" needs a value", arg);
                status = CONF_USAGE;
                goto done;
            }
            flag_setting[nflags] = (int) (s - settings);
            flag_value[nflags++] = value;
            if (s->offset == F(source) || s->offset == F(target))
                conf->dsn_args[ndsns++] = value;
            continue;
        }
        if (!command_seen)
        {
            if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)
            {
                status = CONF_HELP;
                goto done;
            }
            if (strcmp(arg, "--version") == 0 || strcmp(arg, "-V") == 0)
            {
                status = CONF_VERSION;
                goto done;
            }
            if (strcmp(arg, "--print-config") == 0)
            {
                status = CONF_EXAMPLE;
                goto done;
            }
            if (arg[0] != '-')
                command_seen = true;
        }
        rest[(*nrest)++] = argv[i];
    }

    /* a password given as PGPASSWORD is as secret as one in a DSN; the names
     * libpq takes from the environment are as public as a DSN's */
    if (getenv("PGPASSWORD") != NULL)
        secret_add(getenv("PGPASSWORD"));
    secret_add_public(getenv("PGUSER"));
    secret_add_public(getenv("PGDATABASE"));
    secret_add_public(getenv("PGHOST"));

    if (config_path != NULL && !conf_load_file(conf, config_path))
    {
        status = CONF_USAGE;
        goto done;
    }
    for (k = 0; k < NSETTINGS; k++)
    {
        const char *v = settings[k].env ? getenv(settings[k].env) : NULL;

        if (v != NULL && *v != '\0' && !set_value(conf, &settings[k], v, why, sizeof(why)))
        {
            log_error("%s: %s", settings[k].env, why);
            status = CONF_USAGE;
            goto done;
        }
    }
    for (i = 0; i < nflags; i++)
        if (!set_value(conf, &settings[flag_setting[i]], flag_value[i], why, sizeof(why)))
        {
            log_error("option %s: %s", settings[flag_setting[i]].flag, why);
            status = CONF_USAGE;
            goto done;
        }
    if (!consistent(conf) || !schemas_listed(conf))
    {
        status = CONF_USAGE;
        goto done;
    }
    log_set_level((enum log_level) conf->log_level);
    /* the slot and the schemas are named in many lines: public words */
    secret_add_public(conf->slot);
    for (const char *p = conf->schemas; p != NULL && *p != '\0';)
    {
        size_t n = strcspn(p, ",");
        char name[NAME_MAX_BYTES];

        snprintf(name, sizeof(name), "%.*s", (int) n, p);
        secret_add_public(name);
        p += n + (p[n] == ',');
    }
done:
    free(flag_setting);
    free(flag_value);
    return status;
}

void
conf_free(struct conf *conf)
{
    size_t k;

    for (k = 0; k < NSETTINGS; k++)
        if (settings[k].type == T_STRING)
        {
            char **field = (char **) ((char *) conf + settings[k].offset);

            free(*field);
            *field = NULL;
        }
    free(conf->config_file);
    conf->config_file = NULL;
    free(conf->dsn_args);
    conf->dsn_args = NULL;
}

void
conf_hide_passwords(const struct conf *conf)
{
    for (char **p = conf->dsn_args; p != NULL && *p != NULL; p++)
        secret_blank_dsn(*p);
}

bool
conf_require_dsns(const struct conf *conf, const char *command)
{
    bool source = conf->source == NULL;

    if (conf->source != NULL && conf->target != NULL)
        return true;
    log_error("%s: no %s connection string; give --%s DSN, set MEMORI_BRIDGE_%s, or put %s = DSN "
              "in the configuration file",
              command, source ? "source" : "target", source ? "source" : "target",
              source ? "SOURCE" : "TARGET", source ? "source" : "target");
    return false;
}

void
conf_print_help(FILE *out)
{
    size_t k;

    fprintf(out, "  %-26s %s\n", "--config FILE", "configuration file (INI: key = value)");
    for (k = 0; k < NSETTINGS; k++)
    {
        const struct setting *s = &settings[k];
        char flag[64];

        snprintf(flag, sizeof(flag), "%s %s", s->flag,
                 s->type == T_STRING     ? (s->offset == F(slot)                 ? "NAME"
                                            : s->offset == F(pgbouncer_database) ? "NAME"
                                            : s->offset == F(pgbouncer_ini)      ? "FILE"
                                            : s->offset == F(schemas)            ? "LIST"
                                            : s->offset == F(metrics_addr)       ? "ADDR"
                                                                                 : "DSN")
                 : s->type == T_DURATION ? "TIME"
                 : s->type == T_SIZE     ? "SIZE"
                 : s->type == T_INT      ? "N"
                                         : words[s->type - T_LOG_FORMAT].metavar);
        fprintf(out, "  %-26s %s", flag, s->help);
        if (s->dflt != NULL)
            fprintf(out, " (default %s)", s->dflt);
        if (s->env != NULL)
            fprintf(out, " [env %s]", s->env);
        fputc('\n', out);
    }
}

void
conf_print_example(FILE *out)
{
    size_t k;

    fputs("# memori-bridge configuration (INI). Every key is optional; the value shown\n"
          "# is the default. Precedence: command-line flag, then environment, then this\n"
          "# file, then the default. Use it with: memori-bridge --config FILE COMMAND\n"
          "# Durations take ms, s, min or h (a bare number is seconds); sizes take\n"
          "# kB, MB or GB (a bare number is bytes). Prefer PGPASSWORD or ~/.pgpass to a\n"
          "# password in the connection strings; the bridge never prints it either way.\n"
          "# A line holds at most 199 bytes: give a longer connection string in the\n"
          "# environment.\n"
          "\n"
          "[memori-bridge]\n",
          out);
    for (k = 0; k < NSETTINGS; k++)
    {
        const struct setting *s = &settings[k];

        fputc('\n', out);
        conf_print_comment(out, s->help);
        fprintf(out, "# flag: %s", s->flag);
        if (s->env != NULL)
            fprintf(out, "; environment: %s", s->env);
        fputc('\n', out);
        if (s->dflt != NULL)
            fprintf(out, "%s = %s\n", s->key, s->dflt);
        else if (s->offset == F(source))
            fprintf(out, "# %s = host=127.0.0.1 port=54322 dbname=postgres user=postgres\n", s->key);
        else if (s->offset == F(target))
            fprintf(out, "# %s = host=127.0.0.1 port=5433 dbname=memori user=memori\n", s->key);
        else if (s->offset == F(pgbouncer))
            fprintf(out, "# %s = host=127.0.0.1 port=6432 dbname=pgbouncer user=pgbouncer\n",
                    s->key);
        else if (s->offset == F(pgbouncer_ini))
            fprintf(out, "# %s = /etc/pgbouncer/memori.ini\n", s->key);
        else
            fprintf(out, "# %s =\n", s->key);
    }
}
