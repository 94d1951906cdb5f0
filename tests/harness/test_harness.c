/*
 * test_harness.c: the clusters pgh starts are what the integration tests assume:
 * loopback only, distinct ports, password login over TCP, logical decoding with
 * wal2json allowed, run by a non-root user, gone after pgh_stop().
 */
#include "pgh.h"

#include <criterion/criterion.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static struct pgh_set set;
static PGconn *conn;

static void
start_one(void)
{
    char err[512];

    cr_assert(pgh_start(&set, 1, err, sizeof(err)), "pgh_start failed: %s", err);
    conn = pgh_connect(&set.c[0], NULL);
    cr_assert_not_null(conn, "could not connect to the cluster on port %d", set.c[0].port);
}

static void
stop_all(void)
{
    if (conn)
        PQfinish(conn);
    conn = NULL;
    pgh_stop(&set);
}

/* The value of SQL as a string; fails the test when the query fails. */
static const char *
value_of(PGconn *c, const char *sql, char *buf, size_t len)
{
    const char *v = pgh_query_value(c, sql, buf, len);

    cr_assert_not_null(v, "query failed: %s", sql);
    return v;
}

TestSuite(harness, .init = start_one, .fini = stop_all);
TestSuite(harness_pair, .fini = stop_all);
TestSuite(harness_dsn);

Test(harness_pair, starts_two_clusters_on_distinct_loopback_ports)
{
    char err[512];
    char buf[64];
    char expect[64];

    cr_assert(pgh_start(&set, 2, err, sizeof(err)), "pgh_start failed: %s", err);
    cr_assert_eq(set.count, 2, "count: got %d, want 2", set.count);
    cr_assert_neq(set.c[0].port, set.c[1].port, "both clusters on port %d", set.c[0].port);
    cr_assert_str_neq(set.c[0].datadir, set.c[1].datadir, "both clusters in \"%s\"",
                      set.c[0].datadir);

    for (int i = 0; i < 2; i++)
    {
        PGconn *c = pgh_connect(&set.c[i], NULL);

        cr_assert_not_null(c, "could not connect to cluster %d on port %d", i + 1, set.c[i].port);
        snprintf(expect, sizeof(expect), "127.0.0.1:%d", set.c[i].port);
        pgh_query_value(c, "SELECT host(inet_server_addr()) || ':' || inet_server_port()", buf,
                        sizeof(buf));
        PQfinish(c);
        cr_assert_str_eq(buf, expect, "cluster %d serves on %s, want %s", i + 1, buf, expect);
    }
}

Test(harness, tcp_login_with_the_right_password_uses_it)
{
    cr_assert_eq(PQconnectionUsedPassword(conn), 1,
                 "the TCP connection did not authenticate with a password");
}

Test(harness, tcp_login_with_a_wrong_password_fails)
{
    struct pgh_cluster wrong = set.c[0];
    char dsn[1024];
    PGconn *c;
    const char *msg;
    bool refused;

    snprintf(wrong.password, sizeof(wrong.password), "%s", "wrong-password");
    cr_assert_str_neq(wrong.password, set.c[0].password);
    cr_assert_not_null(pgh_dsn(&wrong, NULL, dsn, sizeof(dsn)));
    c = PQconnectdb(dsn);
    msg = PQerrorMessage(c);
    refused = PQstatus(c) == CONNECTION_BAD && strstr(msg, "password authentication failed");
    cr_expect(refused, "login with a wrong password: status %d, message \"%s\"", PQstatus(c), msg);
    PQfinish(c);
}

Test(harness, tcp_login_without_a_password_fails)
{
    char dsn[256];
    PGconn *c;
    bool refused;

    snprintf(dsn, sizeof(dsn),
             "host=127.0.0.1 port=%d user=postgres dbname=postgres passfile=/nonexistent",
             set.c[0].port);
    c = PQconnectdb(dsn);
    refused = PQstatus(c) == CONNECTION_BAD && strstr(PQerrorMessage(c), "no password supplied");
    cr_expect(refused, "login without a password: status %d, message \"%s\"", PQstatus(c),
              PQerrorMessage(c));
    PQfinish(c);
}

Test(harness, unix_socket_login_is_trusted)
{
    char dsn[512];
    PGconn *c;

    snprintf(dsn, sizeof(dsn), "host=%s port=%d user=postgres dbname=postgres", set.c[0].sockdir,
             set.c[0].port);
    c = PQconnectdb(dsn);
    cr_expect_eq(PQstatus(c), CONNECTION_OK, "socket login in \"%s\" failed: %s", set.c[0].sockdir,
                 PQerrorMessage(c));
    PQfinish(c);
}

Test(harness, wal_level_is_logical)
{
    char buf[64];

    cr_assert_str_eq(value_of(conn, "SHOW wal_level", buf, sizeof(buf)), "logical",
                     "wal_level is \"%s\", want \"logical\"", buf);
}

Test(harness, listens_on_loopback_only)
{
    char buf[256];

    cr_assert_str_eq(value_of(conn, "SHOW listen_addresses", buf, sizeof(buf)), "127.0.0.1",
                     "listen_addresses is \"%s\", want \"127.0.0.1\"", buf);
}

Test(harness, plugin_allow_list_names_wal2json_when_the_server_has_one)
{
    char buf[256];

    value_of(conn, "SELECT count(*) FROM pg_settings WHERE name = 'output_plugin_libraries'", buf,
             sizeof(buf));
    if (strcmp(buf, "0") == 0)
        cr_skip_test("this server has no output_plugin_libraries");
    value_of(conn, "SHOW output_plugin_libraries", buf, sizeof(buf));
    /* One list of three items; a double quote would mean one item "a, b, c". */
    cr_assert_str_eq(buf, "pgoutput, test_decoding, wal2json", "output_plugin_libraries is \"%s\"",
                     buf);
}

Test(harness, wal2json_slot_yields_format_version_2_insert)
{
    char buf[1024];
    const char *expect_columns = "[{\"name\": \"id\", \"type\": \"integer\", \"value\": 1}, "
                                 "{\"name\": \"v\", \"type\": \"text\", \"value\": \"hello\"}]";

    cr_assert(pgh_exec(conn, "CREATE TABLE pgh_t (id integer PRIMARY KEY, v text)"));
    cr_assert(pgh_exec(conn, "SELECT pg_create_logical_replication_slot('pgh_w2j', 'wal2json')"));
    cr_assert(pgh_exec(conn, "INSERT INTO pgh_t VALUES (1, 'hello')"));

    /* Version 2 writes one message per change, each with an "action". */
    value_of(conn,
             "SELECT string_agg(data::jsonb->>'action', ',') FROM pg_logical_slot_peek_changes("
             "'pgh_w2j', NULL, NULL, 'format-version', '2')",
             buf, sizeof(buf));
    cr_assert_str_eq(buf, "B,I,C", "actions are \"%s\", want \"B,I,C\"", buf);

    value_of(conn,
             "SELECT d->>'schema' || '.' || (d->>'table') || ' ' || (d->'columns')::text "
             "FROM (SELECT data::jsonb AS d FROM pg_logical_slot_get_changes("
             "'pgh_w2j', NULL, NULL, 'format-version', '2')) m WHERE d->>'action' = 'I'",
             buf, sizeof(buf));
    cr_assert(strncmp(buf, "public.pgh_t ", 13) == 0, "insert is on \"%s\", want public.pgh_t",
              buf);
    cr_assert_str_eq(buf + 13, expect_columns, "insert columns are %s, want %s", buf + 13,
                     expect_columns);
    cr_assert(pgh_exec(conn, "SELECT pg_drop_replication_slot('pgh_w2j')"));
}

Test(harness, server_runs_as_the_owner_of_its_data_directory)
{
    char buf[PATH_MAX];
    char real_expected[PATH_MAX];
    char status_path[64];
    char line[256];
    struct stat st;
    FILE *f;
    long server_uid = -1;
    long backend_pid;
    char *end;

    /* The server's data directory is the one pgh reported. */
    value_of(conn, "SELECT current_setting('data_directory')", buf, sizeof(buf));
    cr_assert_not_null(realpath(set.c[0].datadir, real_expected), "realpath(%s): %s",
                       set.c[0].datadir, strerror(errno));
    cr_assert_str_eq(buf, real_expected, "data_directory is \"%s\", want \"%s\"", buf,
                     real_expected);
    cr_assert_eq(stat(real_expected, &st), 0, "stat(%s): %s", real_expected, strerror(errno));

    /* The backend serving us runs as that owner (same machine: read /proc). */
    value_of(conn, "SELECT pg_backend_pid()", buf, sizeof(buf));
    errno = 0;
    backend_pid = strtol(buf, &end, 10);
    cr_assert(errno == 0 && *end == '\0' && backend_pid > 0, "backend pid \"%s\"", buf);
    snprintf(status_path, sizeof(status_path), "/proc/%ld/status", backend_pid);
    f = fopen(status_path, "r");
    cr_assert_not_null(f, "could not open %s: %s", status_path, strerror(errno));
    while (fgets(line, sizeof(line), f))
    {
        if (strncmp(line, "Uid:", 4) == 0)
        {
            errno = 0;
            server_uid = strtol(line + 4, &end, 10);
            if (errno != 0 || end == line + 4)
                server_uid = -1;
            break;
        }
    }
    fclose(f);
    cr_assert_eq(server_uid, (long) st.st_uid, "server runs as uid %ld, data directory owner %ld",
                 server_uid, (long) st.st_uid);
    if (geteuid() == 0)
        cr_assert_neq(server_uid, 0L, "the server runs as root");
    else
        cr_assert_eq(server_uid, (long) geteuid(), "server uid %ld, test uid %ld", server_uid,
                     (long) geteuid());
}

Test(harness, psql_file_runs_a_script_and_stops_at_the_first_error)
{
    char good[] = "/tmp/pgh-good-XXXXXX";
    char bad[] = "/tmp/pgh-bad-XXXXXX";
    char buf[64];
    int fd;
    bool ran_good, ran_bad;
    static const char good_sql[] =
        "CREATE TABLE pgh_psql (x int);\nINSERT INTO pgh_psql VALUES (7);\n";
    static const char bad_sql[] = "INSERT INTO pgh_psql VALUES (8);\nSELECT 1/0;\n"
                                  "INSERT INTO pgh_psql VALUES (9);\n";

    fd = mkstemp(good);
    cr_assert(fd >= 0 &&
              write(fd, good_sql, sizeof(good_sql) - 1) == (ssize_t) sizeof(good_sql) - 1);
    close(fd);
    fd = mkstemp(bad);
    cr_assert(fd >= 0 && write(fd, bad_sql, sizeof(bad_sql) - 1) == (ssize_t) sizeof(bad_sql) - 1);
    close(fd);

    ran_good = pgh_psql_file(&set.c[0], NULL, good);
    ran_bad = pgh_psql_file(&set.c[0], NULL, bad);
    unlink(good);
    unlink(bad);
    cr_assert(ran_good, "psql of a correct file failed");
    cr_assert_not(ran_bad, "psql of a failing file reported success");
    value_of(conn, "SELECT string_agg(x::text, ',' ORDER BY x) FROM pgh_psql", buf, sizeof(buf));
    cr_assert_str_eq(buf, "7,8", "rows are \"%s\", want \"7,8\" (stopped at 1/0)", buf);
}

Test(harness, forked_child_exit_leaves_the_clusters_running)
{
    char buf[16];
    pid_t pid;
    int status;

    /* The child inherits the atexit handler; it must not stop its parent's set. */
    fflush(NULL);
    pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0)
        exit(0);
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert_str_eq(value_of(conn, "SELECT 1", buf, sizeof(buf)), "1");
}

Test(harness, stop_removes_the_set_and_is_idempotent)
{
    struct pgh_set copy = set;
    struct pgh_cluster c = set.c[0];
    struct stat st;
    PGconn *after;
    char dsn[1024];

    PQfinish(conn);
    conn = NULL;
    pgh_stop(&set);
    cr_assert_str_eq(set.dir, "", "pgh_stop left dir \"%s\" set", set.dir);
    cr_assert(stat(copy.dir, &st) != 0 && errno == ENOENT, "set \"%s\" still exists", copy.dir);

    pgh_dsn(&c, NULL, dsn, sizeof(dsn));
    after = PQconnectdb(dsn);
    cr_expect_eq(PQstatus(after), CONNECTION_BAD, "port %d still accepts connections", c.port);
    PQfinish(after);

    pgh_stop(&set);  /* already stopped: no-op */
    pgh_stop(&copy); /* stale copy: the script finds nothing to do */
    cr_assert(stat(copy.dir, &st) != 0 && errno == ENOENT);
}

Test(harness_dsn, quotes_values_and_refuses_a_short_buffer)
{
    struct pgh_cluster c = {.port = 5999, .password = "it's"};
    char buf[256];
    char tiny[16];

    cr_assert_not_null(pgh_dsn(&c, "my db", buf, sizeof(buf)));
    cr_assert_str_eq(buf, "host=127.0.0.1 port=5999 user=postgres password='it\\'s' dbname='my db'",
                     "dsn is \"%s\"", buf);
    cr_assert_null(pgh_dsn(&c, NULL, tiny, sizeof(tiny)), "a 16-byte buffer held \"%s\"", tiny);
}

Test(harness_dsn, start_refuses_a_bad_count)
{
    struct pgh_set s;
    char err[256];

    cr_assert_not(pgh_start(&s, 0, err, sizeof(err)));
    cr_assert(strstr(err, "invalid cluster count 0") != NULL, "error is \"%s\"", err);
    cr_assert_not(pgh_start(&s, PGH_MAX_CLUSTERS + 1, err, sizeof(err)));
    cr_assert_str_eq(s.dir, "", "a failed start left dir \"%s\"", s.dir);
}
