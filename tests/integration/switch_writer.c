/*
 * switch_writer.c - an application that writes memories through a cutover.
 *
 *   switch_writer SOURCE_DSN TARGET_DSN DUMP_FILE [INDEX] [DELAY_US]
 *
 * Inserts, updates and deletes rows of memori.memories with ids of its own
 * (10,000,000 + INDEX * 1,000,000 onwards), one statement per transaction,
 * DELAY_US apart (default 2000). Every write the server acknowledges goes into
 * the writer's own model of its rows. A write refused by a memori-bridge fence
 * (SQLSTATE 25006) makes it reconnect to the other side and retry the same
 * write, as an application following MEMORI_DATABASE_URL would. On SIGTERM or
 * SIGINT it writes its model to DUMP_FILE ("id<TAB>content" lines, by id) and
 * prints one line of figures: writes, switches, and the longest time one write
 * waited from its first attempt to its acknowledgement. Any other error ends
 * it with status 1.
 *
 * With TARGET_DSN "-" it is a plain application, as most are: it connects
 * once (to a PgBouncer, say), never reconnects and never follows anything. A
 * write that fails, for whatever reason, is counted, its first lines go to
 * stderr, and it goes on with the next write (an insert's id is not used
 * again, so a failed insert that did commit shows up as an extra row). Its
 * figures then end with "; N failed".
 */
#include <errno.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_ROWS 200000

struct row
{
    long id;
    long version; /* the content is "w<id>-v<version>" */
};

static volatile sig_atomic_t stopping;

static void
on_signal(int sig)
{
    (void) sig;
    stopping = 1;
}

static double
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec * 1000 + (double) ts.tv_nsec / 1e6;
}

static PGconn *
connect_to(const char *dsn)
{
    PGconn *c = PQconnectdb(dsn);

    if (PQstatus(c) != CONNECTION_OK)
    {
        fprintf(stderr, "switch_writer: could not connect: %s", PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    return c;
}

static int
cmp_rows(const void *a, const void *b)
{
    const struct row *x = a, *y = b;

    return (x->id > y->id) - (x->id < y->id);
}

int
main(int argc, char **argv)
{
    static struct row rows[MAX_ROWS];
    const char *dsn[2];
    int side = 0, nrows = 0, switches = 0, index;
    long next_id, writes = 0, delay, failed = 0;
    bool plain;
    double longest = 0;
    PGconn *conn;
    FILE *dump;
    int i;

    if (argc < 4)
    {
        fprintf(stderr, "usage: switch_writer SOURCE_DSN TARGET_DSN DUMP_FILE [INDEX] [DELAY_US]\n");
        return 2;
    }
    dsn[0] = argv[1];
    dsn[1] = argv[2];
    plain = strcmp(dsn[1], "-") == 0;
    index = argc > 4 ? (int) strtol(argv[4], NULL, 10) : 0;
    delay = argc > 5 ? strtol(argv[5], NULL, 10) : 2000;
    next_id = 10000000L + (long) index * 1000000L;
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    srandom((unsigned) (getpid() ^ time(NULL)));

    conn = connect_to(dsn[side]);
    if (conn == NULL)
        return 1;
    while (!stopping)
    {
        char sql[256];
        int op = (int) (random() % 100), pick = -1;
        double first = now_ms();
        bool done = false;

        /* 60 % insert, 25 % update, 15 % delete, of the writer's own rows */
        if (nrows == 0 || op < 60)
            snprintf(sql, sizeof(sql),
                     "INSERT INTO memori.memories (id, user_id, content) "
                     "VALUES (%ld, 'switch-writer-%d', 'w%ld-v0')",
                     next_id, index, next_id);
        else
        {
            pick = (int) (random() % nrows);
            if (op < 85)
                snprintf(sql, sizeof(sql),
                         "UPDATE memori.memories SET content = 'w%ld-v%ld' WHERE id = %ld",
                         rows[pick].id, rows[pick].version + 1, rows[pick].id);
            else
                snprintf(sql, sizeof(sql), "DELETE FROM memori.memories WHERE id = %ld",
                         rows[pick].id);
        }
        while (!done)
        {
            PGresult *res = PQexec(conn, sql);
            const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

            if (PQresultStatus(res) == PGRES_COMMAND_OK)
            {
                if (strncmp(sql, "DELETE", 6) != 0 && strcmp(PQcmdTuples(res), "1") != 0)
                {
                    fprintf(stderr, "switch_writer: %s touched %s rows\n", sql, PQcmdTuples(res));
                    return 1;
                }
                done = true;
            }
            else if (plain)
            {
                /* a plain application: the write is lost, the next one goes on */
                if (failed++ < 5)
                    fprintf(stderr, "switch_writer: %s failed: %s", sql, PQerrorMessage(conn));
                PQclear(res);
                if (pick < 0)
                    next_id++;
                pick = -2;
                break;
            }
            else if (state != NULL && strcmp(state, "25006") == 0)
            {
                /* fenced: memori moved; follow it */
                PQfinish(conn);
                side = 1 - side;
                switches++;
                conn = connect_to(dsn[side]);
                if (conn == NULL)
                    return 1;
            }
            else
            {
                fprintf(stderr, "switch_writer: %s failed: %s", sql, PQerrorMessage(conn));
                return 1;
            }
            PQclear(res);
        }
        /* acknowledged: into the model */
        if (pick == -2)
            ;
        else if (pick < 0)
        {
            if (nrows == MAX_ROWS)
                break;
            rows[nrows].id = next_id++;
            rows[nrows++].version = 0;
        }
        else if (strncmp(sql, "UPDATE", 6) == 0)
            rows[pick].version++;
        else
            rows[pick] = rows[--nrows];
        writes += pick != -2;
        if (now_ms() - first > longest)
            longest = now_ms() - first;
        if (delay > 0)
            usleep((useconds_t) delay);
    }
    PQfinish(conn);

    qsort(rows, (size_t) nrows, sizeof(rows[0]), cmp_rows);
    dump = fopen(argv[3], "w");
    if (dump == NULL)
    {
        fprintf(stderr, "switch_writer: %s: %s\n", argv[3], strerror(errno));
        return 1;
    }
    for (i = 0; i < nrows; i++)
        fprintf(dump, "%ld\tw%ld-v%ld\n", rows[i].id, rows[i].id, rows[i].version);
    fclose(dump);
    printf("writer %d: %ld writes, %d rows, %d switches, longest wait %.1f ms, on the %s", index,
           writes, nrows, switches, longest,
           plain  ? "one connection"
           : side ? "target"
                  : "source");
    if (plain)
        printf("; %ld failed", failed);
    printf("\n");
    return 0;
}
