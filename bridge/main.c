/*
 * main.c - the memori-bridge command line.
 *
 * Reads the settings (conf.h: defaults, file, environment, flags; setting
 * flags may stand before or after the command), finds the command, and runs
 * it. Only this file exits; commands return their exit status:
 *   0 done, 1 failed, 2 usage, 3 done and the answer is no.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/base/conf.h"
#include "bridge/base/log.h"
#include "bridge/cmd/cleanup.h"
#include "bridge/cmd/decode.h"
#include "bridge/cmd/demo.h"
#include "bridge/cmd/init.h"
#include "bridge/cmd/run.h"
#include "bridge/cmd/status.h"
#include "bridge/cmd/switch.h"
#include "bridge/cmd/verify.h"
#include "bridge/pg/pgconn.h"

#define EXIT_USAGE 2

/* A command: its name, one line of help, and its entry point. */
struct command
{
    const char *name;
    const char *help;
    int (*run)(int argc, char **argv, const struct conf *conf);
};

static int
run_decode(int argc, char **argv, const struct conf *conf)
{
    (void) conf;
    return cmd_decode(argc, argv);
}

static const struct command commands[] = {
    {"init", "check prerequisites, create the slot, copy the tables, hand over to run", cmd_init},
    {"run", "stream continuously, with lag lines (--reverse streams target -> source)", cmd_run},
    {"status", "one-shot report: slots, lag, retained WAL, fences, sequences", cmd_status},
    {"verify", "compare source and target at one point: counts, hashes, sequences", cmd_verify},
    {"cutover", "switch writers to the target, arming the reverse stream", cmd_cutover},
    {"rollback", "switch writers back to the source, arming the forward stream", cmd_rollback},
    {"cleanup", "drop what the bridge created (slots, origins, fences) on both sides", cmd_cleanup},
    {"decode", "print a wal2json stream (file or stdin) change by change", run_decode},
    {"demo", "the whole life cycle on two local PostgreSQL clusters", cmd_demo},
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void
usage(FILE *out)
{
    size_t i;

    fputs("usage: memori-bridge [--config FILE] [--source DSN] [--target DSN] COMMAND [options]\n"
          "\n"
          "Streams the memori schema from one PostgreSQL to another through a logical\n"
          "replication slot (wal2json), for a cutover with no downtime and a rollback\n"
          "that loses nothing.\n"
          "\n"
          "commands:\n",
          out);
    for (i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %-9s  %s\n", commands[i].name, commands[i].help);
    fputs("\n"
          "settings (before or after the command; each also a key of the --config file):\n",
          out);
    conf_print_help(out);
    fputs("  --help                     show this help; COMMAND --help shows the command's\n"
          "  --version                  show the version\n"
          "  --print-config             print every setting as a documented configuration file\n"
          "\n"
          "Precedence: flag, then environment, then configuration file, then default.\n"
          "Passwords in connection strings are never printed.\n"
          "\n"
          "exit status: 0 done, 1 failed, 2 usage, 3 done and the answer is no\n",
          out);
}

static const struct command *
find_command(const char *name)
{
    size_t i;

    for (i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

/* A connection string that does not parse is a bad setting (exit 2), found
 * before the command connects anywhere. */
static bool
dsns_ok(const struct conf *conf)
{
    const char *side[2] = {"source", "target"};
    const char *env[2] = {"MEMORI_BRIDGE_SOURCE", "MEMORI_BRIDGE_TARGET"};
    const char *dsn[2] = {conf->source, conf->target};
    char err[1024];
    bool ok = true;
    int i;

    for (i = 0; i < 2; i++)
        if (dsn[i] != NULL && !pgconn_dsn_ok(dsn[i], err, sizeof(err)))
        {
            log_error("the %s %s; fix --%s (or %s, or %s in the configuration file)", side[i],
                      err, side[i], env[i], side[i]);
            ok = false;
        }
    return ok;
}

int
main(int argc, char **argv)
{
    const struct command *cmd;
    struct conf conf;
    enum conf_status loaded;
    char **rest;
    int nrest = 0, status;

    rest = calloc((size_t) argc + 1, sizeof(char *));
    if (rest == NULL)
    {
        log_error("out of memory");
        return 1;
    }
    loaded = conf_load(&conf, argc, argv, rest, &nrest);
    /* every value is copied: the command line (ps, /proc) loses the passwords */
    conf_hide_passwords(&conf);
    switch (loaded)
    {
        case CONF_OK:
            break;
        case CONF_HELP:
            usage(stdout);
            status = 0;
            goto done;
        case CONF_VERSION:
            printf("memori-bridge %s\n", MB_VERSION);
            status = 0;
            goto done;
        case CONF_EXAMPLE:
            conf_print_example(stdout);
            status = 0;
            goto done;
        case CONF_USAGE:
            status = EXIT_USAGE;
            goto done;
    }
    if (nrest == 0)
    {
        log_error("no command given");
        usage(stderr);
        status = EXIT_USAGE;
        goto done;
    }
    if (rest[0][0] == '-')
    {
        log_error("unknown option \"%s\"", rest[0]);
        usage(stderr);
        status = EXIT_USAGE;
        goto done;
    }
    /* every connection from now on: keepalives and tcp_user_timeout (peer.h) */
    pgconn_set_peer_timeout(conf.peer_timeout_ms);
    cmd = find_command(rest[0]);
    if (cmd == NULL)
    {
        log_error("unknown command \"%s\"", rest[0]);
        usage(stderr);
        status = EXIT_USAGE;
        goto done;
    }
    if (cmd->run != run_decode && !dsns_ok(&conf))
    {
        status = EXIT_USAGE;
        goto done;
    }
    status = cmd->run(nrest, rest, &conf);
done:
    conf_free(&conf);
    free(rest);
    return status;
}
