/*
 * preflight.c - checking a side before a command, and naming each fix.
 *
 * The wal2json check is a real one: a temporary logical slot with wal2json is
 * created and dropped again. That proves at once that the plugin is installed,
 * that output_plugin_libraries allows it (terrain: superusers are refused too),
 * and that this role may create slots; peeking at it with
 * numeric-data-types-as-string tells whether this wal2json knows that option
 * (an unknown option is an error; Debian's 2.5 does not know it).
 *
 * Whether session_replication_role may be set is tried, not looked up: on
 * Supabase the supautils extension lets the postgres role set it without any
 * grant that has_parameter_privilege() could see.
 */
#include "bridge/pg/preflight.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bridge/base/log.h"
#include "bridge/pg/pgconn.h"
#include "bridge/pg/schemas.h"

#define MIN_VERSION_NUM 120000
#define PROBE_TIMEOUT   "30s"

void
preflight_init(struct preflight *pf)
{
    memset(pf, 0, sizeof(*pf));
}

void
preflight_free(struct preflight *pf)
{
    int i;

    for (i = 0; i < pf->nkeyless; i++)
        free(pf->keyless[i]);
    free(pf->keyless);
    memset(pf, 0, sizeof(*pf));
}

void
preflight_add(struct preflight *pf, bool warning, const char *side, const char *who,
              const char *fix, const char *fmt, ...)
{
    struct preflight_problem *p;
    va_list ap;

    if (pf->n == PREFLIGHT_MAX)
        return;
    p = &pf->p[pf->n++];
    p->warning = warning;
    snprintf(p->side, sizeof(p->side), "%s", side);
    va_start(ap, fmt);
    vsnprintf(p->text, sizeof(p->text), fmt, ap);
    va_end(ap);
    snprintf(p->who, sizeof(p->who), "%s", who ? who : "");
    snprintf(p->fix, sizeof(p->fix), "%s", fix ? fix : "");
    if (!warning)
        pf->errors++;
}

void
preflight_report(const struct preflight *pf)
{
    int pass, i;

    for (pass = 0; pass < 2; pass++)
        for (i = 0; i < pf->n; i++)
        {
            const struct preflight_problem *p = &pf->p[i];

            if (p->warning != (pass == 1))
                continue;
            if (p->fix[0] && p->who[0])
                log_msg(p->warning ? LOG_WARNING : LOG_ERROR, "%s: %s; fix, as %s: %s",
                        p->side, p->text, p->who, p->fix);
            else if (p->fix[0])
                log_msg(p->warning ? LOG_WARNING : LOG_ERROR, "%s: %s; fix: %s", p->side,
                        p->text, p->fix);
            else
                log_msg(p->warning ? LOG_WARNING : LOG_ERROR, "%s: %s", p->side, p->text);
        }
}

const char *
preflight_who(const char *owner, const char *user, bool superuser, char *buf, size_t len)
{
    char o[160], u[160];

    if (!pgconn_quote_ident(user, u, sizeof(u)))
        snprintf(u, sizeof(u), "%s", user);
    if (superuser || strcmp(owner, user) == 0)
        snprintf(buf, len, "%s (the role connected)", u);
    else
    {
        if (!pgconn_quote_ident(owner, o, sizeof(o)))
            snprintf(o, sizeof(o), "%s", owner);
        snprintf(buf, len, "its owner %s or a superuser", o);
    }
    return buf;
}

/* Quoted identifier of NAME into BUF, for the statements printed as fixes. */
static const char *
ident(const char *name, char *buf, size_t len)
{
    if (!pgconn_quote_ident(name, buf, len))
        snprintf(buf, len, "%s", name);
    return buf;
}

bool
preflight_list_has(const char *list, const char *item)
{
    const char *p = list;
    size_t n = strlen(item);

    while (*p != '\0')
    {
        const char *start, *end;

        while (*p == ' ' || *p == ',')
            p++;
        if (*p == '"')
        {
            start = ++p;
            while (*p != '\0' && *p != '"')
                p++;
            end = p;
            if (*p == '"')
                p++;
        }
        else
        {
            start = p;
            while (*p != '\0' && *p != ',')
                p++;
            end = p;
            while (end > start && end[-1] == ' ')
                end--;
        }
        if ((size_t) (end - start) == n && strncmp(start, item, n) == 0)
            return true;
    }
    return false;
}

/* The facts of one server and role. */
struct facts
{
    int version_num;
    char version[64];
    char wal_level[16];
    int max_slots, used_slots, max_senders, used_senders;
    bool superuser, replication;
    char user[128];
    char database[128];
    bool has_allowlist;
    char allowlist[512];
};

static bool
read_facts(PGconn *conn, const char *slot, struct facts *f)
{
    static const char sql[] =
        "SELECT current_setting('server_version_num')::int, current_setting('server_version'), "
        "       current_setting('wal_level'), current_setting('max_replication_slots')::int, "
        "       (SELECT count(*) FROM pg_catalog.pg_replication_slots WHERE slot_name <> $1), "
        "       current_setting('max_wal_senders')::int, "
        "       (SELECT count(*) FROM pg_catalog.pg_stat_replication), "
        "       r.rolsuper, r.rolreplication, current_user, current_database(), "
        "       (SELECT setting FROM pg_catalog.pg_settings "
        "        WHERE name = 'output_plugin_libraries') "
        "FROM pg_catalog.pg_roles r WHERE r.rolname = current_user";
    const char *params[1] = {slot};
    PGresult *res = pgconn_exec(conn, "could not read the server's settings", sql, 1, params,
                                NULL);

    if (res == NULL)
        return false;
    memset(f, 0, sizeof(*f));
    f->version_num = (int) strtol(PQgetvalue(res, 0, 0), NULL, 10);
    snprintf(f->version, sizeof(f->version), "%s", PQgetvalue(res, 0, 1));
    snprintf(f->wal_level, sizeof(f->wal_level), "%s", PQgetvalue(res, 0, 2));
    f->max_slots = (int) strtol(PQgetvalue(res, 0, 3), NULL, 10);
    f->used_slots = (int) strtol(PQgetvalue(res, 0, 4), NULL, 10);
    f->max_senders = (int) strtol(PQgetvalue(res, 0, 5), NULL, 10);
    f->used_senders = (int) strtol(PQgetvalue(res, 0, 6), NULL, 10);
    f->superuser = PQgetvalue(res, 0, 7)[0] == 't';
    f->replication = PQgetvalue(res, 0, 8)[0] == 't';
    snprintf(f->user, sizeof(f->user), "%s", PQgetvalue(res, 0, 9));
    snprintf(f->database, sizeof(f->database), "%s", PQgetvalue(res, 0, 10));
    f->has_allowlist = !PQgetisnull(res, 0, 11);
    snprintf(f->allowlist, sizeof(f->allowlist), "%s", PQgetvalue(res, 0, 11));
    PQclear(res);
    return true;
}

/* " (needed FOR)" after a LATER need's problem, "" after a NOW one's. */
static const char *
why(const struct preflight_side *s, enum preflight_need need, char *buf, size_t len)
{
    if (need == PREFLIGHT_LATER && s->later != NULL)
        snprintf(buf, len, " (needed %s)", s->later);
    else
        buf[0] = '\0';
    return buf;
}

/* The streaming side's needs: wal_level, slots, senders, REPLICATION, wal2json. */
static void
check_streaming(struct preflight *pf, const struct preflight_side *s, const struct facts *f)
{
    bool warn = s->stream == PREFLIGHT_LATER;
    char fix[512], u[160], w[160];

    ident(f->user, u, sizeof(u));
    why(s, s->stream, w, sizeof(w));
    if (strcmp(f->wal_level, "logical") != 0)
        preflight_add(pf, warn, s->side, PREFLIGHT_SUPERUSER,
                      "ALTER SYSTEM SET wal_level = logical; then restart the server",
                      "wal_level is %s, not logical%s", f->wal_level, w);
    if (f->max_slots - f->used_slots < 1)
    {
        snprintf(fix, sizeof(fix),
                 "ALTER SYSTEM SET max_replication_slots = %d; then restart the server",
                 f->used_slots + 2);
        preflight_add(pf, warn, s->side, PREFLIGHT_SUPERUSER, fix,
                      "no free replication slot (%d of max_replication_slots = %d in use)%s",
                      f->used_slots, f->max_slots, w);
    }
    if (f->max_senders - f->used_senders < 1)
    {
        snprintf(fix, sizeof(fix), "ALTER SYSTEM SET max_wal_senders = %d; then restart the server",
                 f->used_senders + 2);
        preflight_add(pf, warn, s->side, PREFLIGHT_SUPERUSER, fix,
                      "no free WAL sender (%d of max_wal_senders = %d in use)%s", f->used_senders,
                      f->max_senders, w);
    }
    if (!f->superuser && !f->replication)
    {
        snprintf(fix, sizeof(fix), "ALTER ROLE %s WITH REPLICATION", u);
        preflight_add(pf, warn, s->side, PREFLIGHT_SUPERUSER, fix,
                      "role %s may not stream (no REPLICATION)%s", u, w);
    }
    if (f->has_allowlist && !preflight_list_has(f->allowlist, "wal2json"))
        preflight_add(pf, warn, s->side, PREFLIGHT_SUPERUSER,
                      "ALTER SYSTEM SET output_plugin_libraries = 'pgoutput', 'test_decoding', "
                      "'wal2json'; SELECT pg_reload_conf()",
                      "output_plugin_libraries ('%s') does not allow wal2json%s", f->allowlist, w);
}

/* Create and drop a temporary wal2json slot; peek with the option. */
static void
probe_wal2json(struct preflight *pf, const struct preflight_side *s, const struct facts *f)
{
    bool warn = s->stream == PREFLIGHT_LATER;
    char name[64], msg[1024], w[160];
    const char *params[1] = {name};
    PGresult *res;

    if (strcmp(f->wal_level, "logical") != 0 || (!f->superuser && !f->replication) ||
        f->max_slots - f->used_slots < 1)
        return; /* already reported; the probe could only fail the same way */
    why(s, s->stream, w, sizeof(w));
    snprintf(name, sizeof(name), "memori_bridge_probe_%d", (int) getpid());
    PQclear(PQexec(s->conn, "SET statement_timeout = '" PROBE_TIMEOUT "'"));
    res = PQexecParams(s->conn,
                       "SELECT slot_name FROM pg_catalog.pg_create_logical_replication_slot($1, "
                       "'wal2json', true)",
                       1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
    {
        pgconn_error(s->conn, res, msg, sizeof(msg));
        if (strstr(msg, "could not access file") != NULL)
            preflight_add(pf, warn, s->side, NULL,
                          "install wal2json there (Debian: apt-get install "
                          "postgresql-<major>-wal2json; the compose image builds it in)",
                          "wal2json is not installed (%s)%s", msg, w);
        else if (strstr(msg, "may not be used as an output plugin") != NULL)
        {
            if (!f->has_allowlist || preflight_list_has(f->allowlist, "wal2json"))
                preflight_add(pf, warn, s->side, PREFLIGHT_SUPERUSER,
                              "ALTER SYSTEM SET output_plugin_libraries = 'pgoutput', "
                              "'test_decoding', 'wal2json'; SELECT pg_reload_conf()",
                              "the server refuses wal2json as an output plugin (%s)%s", msg, w);
        }
        else if (strstr(msg, "statement timeout") != NULL)
            preflight_add(pf, warn, s->side, NULL,
                          "end the long-running transactions on it, then try again",
                          "could not create a logical slot within " PROBE_TIMEOUT
                          ": a long-running transaction holds it back%s",
                          w);
        else
            preflight_add(pf, warn, s->side, NULL, NULL, "could not create a wal2json slot: %s%s",
                          msg, w);
        PQclear(res);
        PQclear(PQexec(s->conn, "RESET statement_timeout"));
        return;
    }
    PQclear(res);
    res = PQexecParams(s->conn,
                       "SELECT count(*) FROM pg_catalog.pg_logical_slot_peek_changes($1, NULL, "
                       "0, 'format-version', '2', 'numeric-data-types-as-string', '1')",
                       1, NULL, params, NULL, NULL, 0);
    if (s->numeric_probe)
    {
        pf->numeric_as_string = PQresultStatus(res) == PGRES_TUPLES_OK;
        if (!pf->numeric_as_string)
            preflight_add(pf, true, s->side, NULL,
                          "upgrade wal2json to 2.6 or later; until then memori-bridge verify "
                          "finds such rows",
                          "this wal2json lacks numeric-data-types-as-string: NaN and +-Infinity "
                          "in float and numeric columns arrive on the other side as NULL");
    }
    PQclear(res);
    PQclear(PQexecParams(s->conn, "SELECT pg_catalog.pg_drop_replication_slot($1)", 1, NULL,
                         params, NULL, NULL, 0));
    PQclear(PQexec(s->conn, "RESET statement_timeout"));
}

/* A replication connection, as a stream opens it: pg_hba.conf, a pooler in
 * the way, TLS. */
static void
probe_replication(struct preflight *pf, const struct preflight_side *s, const struct facts *f)
{
    char msg[1024], w[160];
    PGconn *conn;
    PGresult *res;

    if (s->dsn == NULL || (!f->superuser && !f->replication))
        return; /* no REPLICATION: already reported */
    conn = pgconn_try(s->dsn, PGCONN_REPLICATION, "memori-bridge check", s->connect_timeout_ms,
                      msg, sizeof(msg));
    if (conn == NULL)
    {
        preflight_add(pf, s->stream == PREFLIGHT_LATER, s->side, NULL, NULL,
                      "could not open a replication connection %s%s", msg,
                      why(s, s->stream, w, sizeof(w)));
        return;
    }
    res = PQexec(conn, "IDENTIFY_SYSTEM");
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        preflight_add(pf, s->stream == PREFLIGHT_LATER, s->side, NULL, NULL,
                      "a replication connection cannot run IDENTIFY_SYSTEM: %s%s",
                      pgconn_error(conn, res, msg, sizeof(msg)), why(s, s->stream, w, sizeof(w)));
    PQclear(res);
    PQfinish(conn);
}

/* The applying side's needs: session_replication_role, tried in a
 * transaction that is rolled back. */
static bool
check_applying(struct preflight *pf, const struct preflight_side *s, const struct facts *f)
{
    bool warn = s->apply == PREFLIGHT_LATER;
    char fix[512], u[160], w[160], msg[512];
    PGresult *res;

    if (f->superuser)
        return true;
    ident(f->user, u, sizeof(u));
    why(s, s->apply, w, sizeof(w));
    if (f->version_num < 150000)
    {
        preflight_add(pf, warn, s->side, NULL, "connect as a superuser",
                      "PostgreSQL %s lets only superusers set session_replication_role%s",
                      f->version, w);
        return true;
    }
    if (!pgconn_script(s->conn, "could not check session_replication_role", "BEGIN"))
        return false;
    res = PQexec(s->conn, "SET LOCAL session_replication_role = replica");
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
    {
        snprintf(fix, sizeof(fix), "GRANT SET ON PARAMETER session_replication_role TO %s", u);
        preflight_add(pf, warn, s->side, PREFLIGHT_SUPERUSER, fix,
                      "role %s may not set session_replication_role (%s)%s", u,
                      pgconn_error(s->conn, res, msg, sizeof(msg)), w);
    }
    PQclear(res);
    return pgconn_script(s->conn, "could not check session_replication_role", "ROLLBACK");
}

/* The tables of the schemas: keys, privileges, ownership (where they are);
 * emptiness is init's. */
static bool
check_tables(struct preflight *pf, const struct preflight_side *s, const struct facts *f)
{
    static const char tables_sql[] =
        "SELECT n.nspname, c.relname, c.relreplident, "
        "       EXISTS (SELECT 1 FROM pg_catalog.pg_index i "
        "               WHERE i.indrelid = c.oid AND i.indisprimary), "
        "       EXISTS (SELECT 1 FROM pg_catalog.pg_index i "
        "               WHERE i.indrelid = c.oid AND i.indisreplident), "
        "       pg_catalog.has_table_privilege(c.oid, 'SELECT'), "
        "       pg_catalog.pg_has_role(c.relowner, 'MEMBER'), "
        "       pg_catalog.pg_get_userbyid(c.relowner) "
        "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = ANY (pg_catalog.string_to_array(replace($1, ' ', ''), ',')) "
        "  AND c.relkind IN ('r', 'p') "
        "ORDER BY 1, 2";
    const char *params[1] = {s->schemas};
    char fix[512], u[160], sch[160], tab[160], who[200];
    struct schema_state *schemas;
    PGresult *res;
    int r, n;

    ident(f->user, u, sizeof(u));
    schemas = schemas_read(s->conn, s->schemas, &n, NULL);
    if (schemas == NULL)
        return false;
    for (r = 0; r < n; r++)
    {
        const struct schema_state *st = &schemas[r];

        ident(st->name, sch, sizeof(sch));
        if (!st->exists)
        {
            if (s->has_tables)
                preflight_add(pf, false, s->side, NULL, NULL, "%s",
                              schemas_missing_text(st->name, fix, sizeof(fix)));
            continue;
        }
        if (!st->usage)
        {
            snprintf(fix, sizeof(fix), "GRANT USAGE ON SCHEMA %s TO %s", sch, u);
            preflight_add(pf, false, s->side,
                          preflight_who(st->owner, f->user, f->superuser, who, sizeof(who)), fix,
                          "role %s may not use schema %s", u, sch);
        }
        if (s->has_tables && st->tables == 0)
            preflight_add(pf, true, s->side, NULL, NULL, "schema %s has no tables", sch);
    }
    free(schemas);
    if (!s->has_tables)
        return true;

    res = pgconn_exec(s->conn, "could not read the tables", tables_sql, 1, params, NULL);
    if (res == NULL)
        return false;
    for (r = 0; r < PQntuples(res); r++)
    {
        char ident_kind = PQgetvalue(res, r, 2)[0];
        bool has_pk = PQgetvalue(res, r, 3)[0] == 't';
        bool has_ri = PQgetvalue(res, r, 4)[0] == 't';
        bool keyed = ident_kind == 'f' || (ident_kind == 'd' && has_pk) ||
                     (ident_kind == 'i' && has_ri);
        const char *owner = PQgetvalue(res, r, 7);

        ident(PQgetvalue(res, r, 0), sch, sizeof(sch));
        ident(PQgetvalue(res, r, 1), tab, sizeof(tab));
        preflight_who(owner, f->user, f->superuser, who, sizeof(who));
        if (PQgetvalue(res, r, 5)[0] != 't')
        {
            snprintf(fix, sizeof(fix), "GRANT SELECT ON ALL TABLES IN SCHEMA %s TO %s", sch, u);
            preflight_add(pf, false, s->side, who, fix, "role %s may not read table %s.%s", u,
                          sch, tab);
        }
        if (PQgetvalue(res, r, 6)[0] != 't')
        {
            snprintf(fix, sizeof(fix), "ALTER TABLE %s.%s OWNER TO %s", sch, tab, u);
            preflight_add(pf, false, s->side, who, fix,
                          "role %s does not own table %s.%s: the fence at cutover needs it", u,
                          sch, tab);
        }
        if (!keyed)
        {
            char **k = realloc(pf->keyless, (size_t) (pf->nkeyless + 1) * sizeof(char *));
            char full[330];

            snprintf(full, sizeof(full), "%s.%s", sch, tab);
            if (k != NULL)
            {
                pf->keyless = k;
                pf->keyless[pf->nkeyless] = strdup(full);
                if (pf->keyless[pf->nkeyless] != NULL)
                    pf->nkeyless++;
            }
        }
    }
    PQclear(res);

    /* sequences: read at the end of init and at cutover */
    res = pgconn_exec(s->conn, "could not read the sequences",
                      "SELECT pg_catalog.quote_ident(n.nspname), "
                      "       pg_catalog.format('%I.%I', n.nspname, c.relname), "
                      "       pg_catalog.pg_get_userbyid(c.relowner) "
                      "FROM pg_catalog.pg_class c "
                      "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
                      "WHERE c.relkind = 'S' "
                      "  AND n.nspname = ANY (pg_catalog.string_to_array(replace($1, ' ', ''), ',')) "
                      "  AND CASE WHEN c.relkind = 'S' "
                      "      THEN NOT pg_catalog.has_sequence_privilege(c.oid, 'SELECT') END "
                      "ORDER BY 1, 2",
                      1, params, NULL);
    if (res == NULL)
        return false;
    for (r = 0; r < PQntuples(res); r++)
        if (r == 0 || strcmp(PQgetvalue(res, r, 0), PQgetvalue(res, r - 1, 0)) != 0)
        {
            snprintf(fix, sizeof(fix), "GRANT SELECT ON ALL SEQUENCES IN SCHEMA %s TO %s",
                     PQgetvalue(res, r, 0), u);
            preflight_add(pf, false, s->side,
                          preflight_who(PQgetvalue(res, r, 2), f->user, f->superuser, who,
                                        sizeof(who)),
                          fix, "role %s may not read sequence %s", u, PQgetvalue(res, r, 1));
        }
    PQclear(res);
    return true;
}

bool
preflight_check(struct preflight *pf, const struct preflight_side *s)
{
    struct facts f;

    if (!read_facts(s->conn, s->slot, &f))
        return false;
    if (f.version_num < MIN_VERSION_NUM)
    {
        preflight_add(pf, false, s->side, NULL, "upgrade the server to PostgreSQL 12 or later",
                      "PostgreSQL %s is too old: memori-bridge needs 12 or later", f.version);
        return true;
    }
    {
        /* the bridge's own schema (memori_bridge) goes on both sides */
        PGresult *res = pgconn_exec(s->conn, "could not check privileges",
                                    "SELECT pg_catalog.has_database_privilege("
                                    "current_database(), 'CREATE') OR EXISTS (SELECT 1 FROM "
                                    "pg_catalog.pg_namespace WHERE nspname = 'memori_bridge' "
                                    "AND pg_catalog.has_schema_privilege(oid, 'CREATE')), "
                                    "(SELECT pg_catalog.pg_get_userbyid(datdba) FROM "
                                    "pg_catalog.pg_database WHERE datname = current_database())",
                                    0, NULL, NULL);
        char fix[512], u[160], db[160], who[200];

        if (res == NULL)
            return false;
        if (PQgetvalue(res, 0, 0)[0] != 't' && !f.superuser)
        {
            snprintf(fix, sizeof(fix), "GRANT CREATE ON DATABASE %s TO %s",
                     ident(f.database, db, sizeof(db)), ident(f.user, u, sizeof(u)));
            preflight_add(pf, false, s->side,
                          preflight_who(PQgetvalue(res, 0, 1), f.user, f.superuser, who,
                                        sizeof(who)),
                          fix, "role %s may not create schemas in %s (%s)", u, db,
                          s->has_tables ? "the bridge's own, memori_bridge"
                                        : "the streamed ones and memori_bridge");
        }
        PQclear(res);
    }
    if (s->stream != PREFLIGHT_NO)
    {
        check_streaming(pf, s, &f);
        probe_wal2json(pf, s, &f);
        probe_replication(pf, s, &f);
    }
    if (s->apply != PREFLIGHT_NO && !check_applying(pf, s, &f))
        return false;
    return check_tables(pf, s, &f);
}
