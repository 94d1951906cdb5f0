/*
 * main.c - the memori-bridge command line.
 *
 * Splits argv into the shared options (which may stand before or after the
 * command) and the command's own arguments, then runs the command. Only this
 * file exits; commands return their exit status:
 *   0 done, 1 failed, 2 usage, 3 done and the answer is no.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/cmd_decode.h"
#include "bridge/log.h"

#define EXIT_USAGE 2

/* A command: its name, one line of help, and its entry point (NULL while it
 * is not built yet). */
struct command
{
    const char *name;
    const char *help;
    int (*run)(int argc, char **argv);
};

static const struct command commands[] = {
    {"init", "check prerequisites, create the slot, copy the tables, hand over to run", NULL},
    {"run", "stream continuously (--reverse streams target -> source)", NULL},
    {"status", "one-shot report: slots, lag, retained WAL, fences, sequences", NULL},
    {"verify", "compare source and target at one point: counts, hashes, sequences", NULL},
    {"cutover", "switch writers to the target, arming the reverse stream", NULL},
    {"rollback", "switch writers back to the source", NULL},
    {"cleanup", "drop what the bridge created (slots, origins, fences) on both sides", NULL},
    {"decode", "print a wal2json stream (file or stdin) change by change", cmd_decode},
    {"demo", "the whole life cycle on two local PostgreSQL clusters", NULL},
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

/* Shared options that take a value. */
static const char *const value_options[] = {"--config", "--source", "--target", "--slot",
                                            "--schemas"};
#define NVALUE_OPTIONS (sizeof(value_options) / sizeof(value_options[0]))

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
        fprintf(out, "  %-9s  %s%s\n", commands[i].name, commands[i].help,
                commands[i].run ? "" : " (not built yet)");
    fputs("\n"
          "options shared by every command (before or after it):\n"
          "  --config FILE     configuration file\n"
          "  --source DSN      source connection string (or MEMORI_BRIDGE_SOURCE)\n"
          "  --target DSN      target connection string (or MEMORI_BRIDGE_TARGET)\n"
          "  --slot NAME       replication slot (default memori_bridge)\n"
          "  --schemas LIST    schemas to stream (default memori)\n"
          "  --help            show this help; COMMAND --help shows the command's\n"
          "  --version         show the version\n"
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

/* Does ARG name a shared option that takes a value? "--x=v" carries its own. */
static bool
takes_value(const char *arg)
{
    size_t i;

    for (i = 0; i < NVALUE_OPTIONS; i++)
        if (strcmp(arg, value_options[i]) == 0)
            return true;
    return false;
}

static bool
is_shared_with_value(const char *arg)
{
    size_t i;

    for (i = 0; i < NVALUE_OPTIONS; i++)
    {
        size_t n = strlen(value_options[i]);

        if (strncmp(arg, value_options[i], n) == 0 && arg[n] == '=')
            return true;
    }
    return false;
}

int
main(int argc, char **argv)
{
    const struct command *cmd = NULL;
    char **cmd_argv;
    int cmd_argc = 0;
    int i;

    cmd_argv = calloc((size_t) argc + 1, sizeof(char *));
    if (cmd_argv == NULL)
    {
        log_error("out of memory");
        return 1;
    }
    for (i = 1; i < argc; i++)
    {
        const char *arg = argv[i];

        if (takes_value(arg))
        {
            if (i + 1 >= argc)
            {
                log_error("option \"%s\" needs a value", arg);
                usage(stderr);
                free(cmd_argv);
                return EXIT_USAGE;
            }
            i++; /* the shared options are read by the commands that use them */
            continue;
        }
        if (is_shared_with_value(arg))
            continue;
        if (cmd == NULL && (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0))
        {
            usage(stdout);
            free(cmd_argv);
            return 0;
        }
        if (cmd == NULL && (strcmp(arg, "--version") == 0 || strcmp(arg, "-V") == 0))
        {
            printf("memori-bridge %s\n", MB_VERSION);
            free(cmd_argv);
            return 0;
        }
        if (cmd == NULL)
        {
            if (arg[0] == '-')
            {
                log_error("unknown option \"%s\"", arg);
                usage(stderr);
                free(cmd_argv);
                return EXIT_USAGE;
            }
            cmd = find_command(arg);
            if (cmd == NULL)
            {
                log_error("unknown command \"%s\"", arg);
                usage(stderr);
                free(cmd_argv);
                return EXIT_USAGE;
            }
        }
        cmd_argv[cmd_argc++] = argv[i];
    }
    if (cmd == NULL)
    {
        log_error("no command given");
        usage(stderr);
        free(cmd_argv);
        return EXIT_USAGE;
    }
    if (cmd->run == NULL)
    {
        log_error("command \"%s\" is not built yet in this version", cmd->name);
        free(cmd_argv);
        return 1;
    }
    i = cmd->run(cmd_argc, cmd_argv);
    free(cmd_argv);
    return i;
}
