/*
 * conf.h - the bridge's settings: defaults, configuration file, environment
 * and command-line flags.
 *
 * Every setting has a default, a key in the configuration file (INI syntax,
 * read with libinih; keys at the top or in a [memori-bridge] section), and a
 * flag. The file is a text file or a pipe, its lines at most 199 bytes (what
 * inih holds); a bad line is told by its number, never by its bytes.
 * Settings that contradict each other (reconnect_min above reconnect_max)
 * and an empty name in --schemas are usage errors. The two connection
 * strings also come from MEMORI_BRIDGE_SOURCE and MEMORI_BRIDGE_TARGET.
 * Precedence, highest first: flag, environment, file, default. Setting flags
 * may stand anywhere on the command line, before or after the command.
 *
 * Passwords in the connection strings (PgBouncer's admin console's too, and
 * PGPASSWORD) are registered with secret.h as soon as they are read, so that no line the program
 * prints can show them; the strings' user, database and host names (and PGUSER, PGDATABASE, PGHOST)
 * are registered as public words, which stay readable.
 */
#ifndef MB_CONF_H
#define MB_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum conf_log_format
{
    CONF_LOG_TEXT = 0,
    CONF_LOG_JSON,
};

/* init's COPY format (init.h says how auto chooses) */
enum conf_copy_format
{
    CONF_COPY_AUTO = 0,
    CONF_COPY_TEXT,
    CONF_COPY_BINARY,
};

/* All settings. Strings are owned by the struct (conf_free). Durations are
 * milliseconds, sizes bytes. */
struct conf
{
    char *source;               /* source connection string, or NULL */
    char *target;               /* target connection string, or NULL */
    char *slot;                 /* replication slot name */
    char *schemas;              /* comma-separated schema list */
    int64_t status_interval_ms; /* standby status at least this often */
    int64_t lag_interval_ms;    /* one lag line this often; 0: never */
    char *metrics_addr;         /* HOST:PORT of the metrics endpoint of run, or NULL: off */
    int log_format;             /* enum conf_log_format */
    int log_level;              /* enum log_level */
    int64_t group_xacts;        /* source transactions per target transaction, at most */
    int64_t group_bytes;        /* change bytes per target transaction, at most */
    int64_t group_delay_ms;     /* a target transaction stays open at most this long */
    int64_t batch_rows;         /* rows per multi-row statement, at most */
    int64_t batch_bytes;        /* value bytes per multi-row statement, at most */
    int64_t ring_batches;       /* batches between reader and applier */
    int64_t ring_batch_bytes;   /* bytes of one batch */
    int64_t reconnect_min_ms;   /* first reconnection delay */
    int64_t reconnect_max_ms;   /* longest reconnection delay */
    int64_t connect_timeout_ms; /* connection timeout, unless the DSN sets one */
    int64_t busy_timeout_ms;    /* wait this long for a slot or origin in use */
    int64_t hold_timeout_ms;    /* hold still for verify at most this long */
    int64_t jobs;               /* parallel connections of init's copy */
    int copy_format;            /* enum conf_copy_format */
    int64_t switch_timeout_ms;  /* a running bridge waits this long for a switch to finish */
    int64_t max_lag_bytes;      /* cutover refuses when the stream is further behind */
    int64_t max_lag_ms;         /* ... or older */
    int64_t fence_timeout_ms;   /* wait this long for transactions in flight at a fence */
    int64_t drain_timeout_ms;   /* wait this long for the stream to apply the marker */
    int64_t max_retained_wal;   /* status warns when a slot keeps more WAL */
    int64_t peer_timeout_ms;    /* a connection that hears nothing this long is dead */
    int64_t verify_timeout_ms;  /* verify gives up after this long; 0: never */
    char *pgbouncer;            /* PgBouncer's admin console (dbname=pgbouncer), or NULL: none */
    char *pgbouncer_ini;        /* the file PgBouncer includes with memori's [databases] entry */
    char *pgbouncer_database;   /* the name of that entry */
    char *config_file;          /* the file read, or NULL; owned */
    char **dsn_args;            /* owned array, NULL-terminated, of the values of
                                 * --source and --target in ARGV (borrowed from it),
                                 * for conf_hide_passwords */
};

/* The outcome of conf_load. */
enum conf_status
{
    CONF_OK = 0,   /* settings loaded; the command runs */
    CONF_HELP,     /* --help before the command: usage printed */
    CONF_VERSION,  /* --version: printed */
    CONF_EXAMPLE,  /* --print-config: print the example configuration */
    CONF_USAGE,    /* bad flag, value or file: reason logged; exit 2 */
};

/*
 * Fill *CONF from the defaults, the configuration file (--config FILE), the
 * environment and the setting flags of ARGV (ARGC entries, ARGV[0] the program).
 * The arguments that are not setting flags (the command and its own options)
 * are stored, in order, in REST (which must hold ARGC entries; borrowed from
 * ARGV), and their number in *NREST. On CONF_USAGE a one-line reason has been
 * logged. The caller frees *CONF with conf_free in every case.
 */
enum conf_status conf_load(struct conf *conf, int argc, char **argv, char **rest, int *nrest);

void conf_free(struct conf *conf);

/* Blank, in place, the passwords of the connection strings given as flags
 * (--source DSN, --source=DSN, --target ...) in the ARGV that conf_load read
 * (secret_blank_dsn: each password byte becomes '*', the rest stays), so that
 * the process's command line (ps, /proc/PID/cmdline) no longer shows them.
 * conf_load has copied every value it keeps; call it right after. */
void conf_hide_passwords(const struct conf *conf);

/* Are both connection strings set? If not, logs which is missing and where it
 * can be given, for COMMAND, and returns false (a usage error). */
bool conf_require_dsns(const struct conf *conf, const char *command);

/* Print the settings' flags, defaults and help, for --help. */
void conf_print_help(FILE *out);

/* Print every setting as a documented configuration file, with its default,
 * its flag and environment variable (the example under config/ is this). */
void conf_print_example(FILE *out);

/* Parse a duration ("250ms", "10s", "1.5s", "2min", "1h"; a bare number is
 * seconds) into *MS. Returns false when S is not one. */
bool conf_parse_duration(const char *s, int64_t *ms);

/* Parse a size ("512kB", "64MB", "1GB", "4096"; a bare number is bytes; units
 * of 1024) into *BYTES. Returns false when S is not one. */
bool conf_parse_size(const char *s, int64_t *bytes);

#endif
