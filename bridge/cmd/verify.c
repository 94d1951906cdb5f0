/*
 * verify.c - comparing source and target at one point.
 *
 * NOTES
 *
 * Both sides are compared at one point: verify_point.c finds it, and holds
 * a running bridge there. Content is hashed inside each database: per chunk
 * of primary-key values, the count and the sum of a hash of each row, built
 * from the source's column list, so that no row travels and the column order
 * of the target does not matter. Both sides compute at the same time. The
 * report is verify_report.c's.
 *
 * verify_timeout bounds the whole command: every connection it opens is
 * guarded by the deadline (peer.h), so that a link that dies, or a server that
 * does not answer, cannot hold it. At the deadline one line says what it was
 * doing; the sockets are shut, which ends its sessions (and the temporary
 * slot with them), and a bridge it paused is released on a connection of its
 * own.
 */
#include "bridge/cmd/verify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/base/clock.h"
#include "bridge/base/log.h"
#include "bridge/cmd/schema_report.h"
#include "bridge/cmd/verify_int.h"
#include "bridge/pg/peer.h"
#include "bridge/pg/schemas.h"
#include "bridge/pg/seqsync.h"

#define EXIT_USAGE 2
#define SHOW_KEYS  20 /* keys listed per table */

static void
verify_usage(FILE *out)
{
    fputs("usage: memori-bridge verify [--json] [--show-keys] [--chunk-rows N] [options]\n"
          "\n"
          "Compares source and target at one point (the source's snapshot at a WAL\n"
          "position, and the target with everything before it applied): per table the\n"
          "row count and a content hash computed inside each database, by chunks of\n"
          "primary-key values; the sequences; the columns and their types. A running\n"
          "bridge is paused at that point for the comparison and goes on afterwards.\n"
          "After a cutover, memori lives on the target: verify then takes the point on\n"
          "the target and compares the source with it (the reverse stream's slot).\n"
          "\n"
          "  --json            the report as one JSON object\n"
          "  --show-keys       narrow each differing chunk to its keys\n"
          "  --chunk-rows N    key values per chunk (default 10000)\n"
          "\n"
          "exit status: 0 equal, 3 different, 1 could not compare\n",
          out);
}

/* ---- the deadline ----------------------------------------------------- */

/* The guard's thread, at the deadline: the one line. */
static void
expired(void *arg)
{
    struct verify *v = arg;
    const char *table = atomic_load(&v->table);

    if (atomic_exchange(&v->expired, true))
        return;
    log_error("verify gave up after %.0f s (verify_timeout) while %s%s%s: a link is down or a "
              "server does not answer; memori-bridge status says which, or give it longer with "
              "--verify-timeout",
              (double) v->conf->verify_timeout_ms / 1000, atomic_load(&v->step), table ? " " : "",
              table ? table : "");
    if (v->last_word)
        log_set_level(LOG_OFF);
}

static void
step(struct verify *v, const char *what, const char *table)
{
    atomic_store(&v->step, what);
    atomic_store(&v->table, table);
}

PGconn *
verify_connect(struct verify *v, const char *dsn, const char *role, enum pgconn_kind kind)
{
    int64_t timeout = v->conf->connect_timeout_ms, left;
    char err[2600];
    PGconn *conn;

    if (v->deadline != 0)
    {
        left = (v->deadline - clock_now_us()) / 1000;
        if (left <= 0)
        {
            expired(v);
            return NULL;
        }
        if (left < timeout)
            timeout = left;
    }
    step(v, strcmp(role, "source") == 0 ? "connecting to the source" : "connecting to the target",
         NULL);
    conn = pgconn_try(dsn, kind, "memori-bridge verify", timeout, err, sizeof(err));
    if (conn == NULL)
    {
        if (v->deadline != 0 && clock_now_us() >= v->deadline - 1000000)
            expired(v); /* the connection waited for the deadline */
        else if (err[0] == '(')
            log_error("could not connect to the %s %s", role, err);
        else
            log_error("the %s %s", role, err);
        return NULL;
    }
    pgconn_notices(conn, role);
    if (v->deadline != 0)
    {
        left = (v->deadline - clock_now_us()) / 1000;
        peer_guard(conn, left > 0 ? left : 0, expired, v);
    }
    return conn;
}

void
verify_close(PGconn *conn)
{
    peer_close(conn);
}

/* After the deadline: the sessions are shut, and a bridge paused for this
 * verify would hold still until its own limit. Release it on a connection of
 * its own, within a few seconds, quietly. */
static void
release_after_deadline(struct verify *v)
{
    const char *params[1] = {v->token};
    char err[2600];
    PGconn *conn;

    if (v->token[0] == '\0')
        return;
    conn = pgconn_try(v->dir.to_dsn, PGCONN_SQL, "memori-bridge verify", 5000, err, sizeof(err));
    if (conn != NULL)
    {
        peer_guard(conn, 5000, NULL, NULL);
        PQclear(PQexecParams(conn, "DELETE FROM memori_bridge.verify_pause WHERE token = $1", 1,
                             NULL, params, NULL, NULL, 0));
        PQclear(PQexecParams(conn, "SELECT pg_catalog.pg_notify('memori_bridge', $1)", 1, NULL,
                             params, NULL, NULL, 0));
        peer_close(conn);
    }
    v->token[0] = '\0';
}

/* ---- what to compare -------------------------------------------------- */

static const char tables_sql[] =
    "SELECT pg_catalog.format('%I.%I', n.nspname, c.relname), n.nspname || '.' || c.relname, "
    /* the row's hash. PostgreSQL 14 and later on both sides ($2): one
     * hash_record_extended() over the columns, each hashed by its type's own
     * hash where that is exact (integers, booleans, text under COLLATE "C"
     * so that bytes count, bytea, dates, timestamps, uuid, arrays of these),
     * tsvector by its binary form, and any other type by its text, so that
     * 1.0 and 1.00, -0 and 0, '1 day' and '24 hours' still differ. Building
     * the text of the whole row cost a third of the time, the tsvector's text
     * half of the rest. Older servers: the text of the row, and the text of
     * its tsvectors apart. */
    "       CASE WHEN $2::bool THEN "
    "           'pg_catalog.hash_record_extended(ROW(' || pg_catalog.string_agg(CASE "
    "               WHEN a.atttypid = 'tsvector'::pg_catalog.regtype "
    "               THEN pg_catalog.format('pg_catalog.tsvectorsend(t.%I)', a.attname) "
    "               WHEN a.atttypid = ANY (x.exact) "
    "               THEN pg_catalog.format('t.%I', a.attname) "
    "                    || CASE WHEN a.attcollation <> 0 THEN ' COLLATE \"C\"' ELSE '' END "
    "               ELSE pg_catalog.format('(t.%I::text COLLATE \"C\")', a.attname) END, "
    "               ', ' ORDER BY a.attnum) || '), 0)' "
    "       ELSE 'pg_catalog.hashtextextended(ROW(' || coalesce(pg_catalog.string_agg("
    "           pg_catalog.format('t.%I', a.attname), ', ' ORDER BY a.attnum) "
    "           FILTER (WHERE a.atttypid <> 'tsvector'::pg_catalog.regtype), '') || ')::text, 0)' "
    "           || coalesce(' # pg_catalog.hashtextextended(ROW(' || pg_catalog.string_agg("
    "               pg_catalog.format('t.%I', a.attname), ', ' ORDER BY a.attnum) FILTER ("
    "               WHERE a.atttypid = 'tsvector'::pg_catalog.regtype) || ')::text, 1)', '') END, "
    "       (SELECT pg_catalog.format('t.%I', ka.attname) FROM pg_catalog.pg_index i "
    "        JOIN pg_catalog.pg_attribute ka ON ka.attrelid = c.oid AND ka.attnum = i.indkey[0] "
    "        WHERE i.indrelid = c.oid AND i.indisprimary AND i.indnatts = 1 "
    "          AND ka.atttypid IN ('int2'::pg_catalog.regtype, 'int4'::pg_catalog.regtype, "
    "                              'int8'::pg_catalog.regtype)), "
    "       pg_catalog.string_agg(pg_catalog.format("
    "           't.%I::text IN (''NaN'', ''Infinity'', ''-Infinity'')', a.attname), ' OR ') "
    "           FILTER (WHERE a.atttypid IN ('float4'::pg_catalog.regtype, "
    "               'float8'::pg_catalog.regtype, 'numeric'::pg_catalog.regtype)) "
    "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 "
    "     AND NOT a.attisdropped "
    "CROSS JOIN (SELECT pg_catalog.array_agg(e.oid) || pg_catalog.array_agg(e.typarray) AS exact "
    "            FROM pg_catalog.pg_type e WHERE e.oid = ANY ('{int2,int4,int8,oid,bool,text,"
    "                varchar,bytea,date,timestamp,timestamptz,uuid}'::pg_catalog.regtype[])) x "
    "WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition "
    "  AND n.nspname = ANY (pg_catalog.string_to_array(replace($1, ' ', ''), ',')) "
    "GROUP BY c.oid, n.nspname, c.relname, x.exact ORDER BY 2";

static const char columns_sql[] =
    "SELECT n.nspname || '.' || c.relname, "
    "       pg_catalog.string_agg(pg_catalog.format('%s %s', a.attname, "
    "           pg_catalog.format_type(a.atttypid, a.atttypmod)), ', ' ORDER BY a.attname) "
    "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 "
    "     AND NOT a.attisdropped "
    "WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition "
    "  AND n.nspname = ANY (pg_catalog.string_to_array(replace($1, ' ', ''), ',')) "
    "GROUP BY 1 ORDER BY 1";

static char *
dup_or_null(PGresult *res, int r, int c)
{
    return PQgetisnull(res, r, c) ? NULL : strdup(PQgetvalue(res, r, c));
}

static bool
load_tables(struct verify *v)
{
    const char *params[1] = {v->conf->schemas};
    PGresult *res;
    const char *tparams[2] = {v->conf->schemas, NULL};

    tparams[1] =
        PQserverVersion(v->snap) >= 140000 && PQserverVersion(v->dst) >= 140000 ? "t" : "f";
    step(v, "reading the tables", NULL);
    res = q(v->snap, vmsg(v, "could not read the %s's tables", v->dir.from_role), tables_sql, 2,
            tparams);
    PGresult *sc, *dc;
    int r, i;

    if (res == NULL)
        return false;
    v->ntables = PQntuples(res);
    v->tables = calloc((size_t) v->ntables + 1, sizeof(struct vtable));
    if (v->tables == NULL)
    {
        PQclear(res);
        return false;
    }
    for (r = 0; r < v->ntables; r++)
    {
        struct vtable *t = &v->tables[r];

        t->qualified = strdup(PQgetvalue(res, r, 0));
        t->label = strdup(PQgetvalue(res, r, 1));
        t->rowhash = strdup(PQgetvalue(res, r, 2));
        t->key = dup_or_null(res, r, 3);
        t->special = dup_or_null(res, r, 4);
    }
    PQclear(res);

    sc = q(v->snap, vmsg(v, "could not read the %s's columns", v->dir.from_role), columns_sql, 1,
           params);
    dc = sc ? q(v->dst, vmsg(v, "could not read the %s's columns", v->dir.to_role), columns_sql, 1,
                params)
            : NULL;
    if (dc == NULL)
    {
        PQclear(sc);
        return false;
    }
    for (i = 0; i < v->ntables; i++)
    {
        struct vtable *t = &v->tables[i];

        for (r = 0; r < PQntuples(sc); r++)
            if (strcmp(PQgetvalue(sc, r, 0), t->label) == 0)
                t->src_cols = strdup(PQgetvalue(sc, r, 1));
        for (r = 0; r < PQntuples(dc); r++)
            if (strcmp(PQgetvalue(dc, r, 0), t->label) == 0)
                t->dst_cols = strdup(PQgetvalue(dc, r, 1));
        t->schema_equal = t->src_cols && t->dst_cols && strcmp(t->src_cols, t->dst_cols) == 0;
    }
    PQclear(sc);
    PQclear(dc);
    return true;
}

/* ---- hashing ---------------------------------------------------------- */

static void
chunk_sql(const struct verify *v, const struct vtable *t, char *buf, size_t len)
{
    if (t->key != NULL)
        snprintf(buf, len,
                 "SELECT CASE WHEN %s >= 0 THEN %s / %lld ELSE (%s + 1) / %lld - 1 END::bigint, "
                 "count(*), sum(%s)::text "
                 "FROM ONLY %s t GROUP BY 1 ORDER BY 1",
                 t->key, t->key, v->width, t->key, v->width, t->rowhash, t->qualified);
    else
        snprintf(buf, len,
                 "SELECT 0::bigint, count(*), "
                 "coalesce(sum(%s), 0)::text FROM ONLY %s t",
                 t->rowhash, t->qualified);
}

static bool
read_chunks(PGconn *conn, const char *side, const struct vtable *t, struct vchunk **out, int *n,
            long long *rows)
{
    PGresult *res = PQgetResult(conn), *extra;
    int r;

    while ((extra = PQgetResult(conn)) != NULL)
        PQclear(extra);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
    {
        char msg[1024];

        log_error("could not hash %s on the %s: %s", t->label, side,
                  pgconn_error(conn, res, msg, sizeof(msg)));
        PQclear(res);
        return false;
    }
    *n = PQntuples(res);
    *out = calloc((size_t) *n + 1, sizeof(struct vchunk));
    *rows = 0;
    for (r = 0; *out != NULL && r < *n; r++)
    {
        (*out)[r].id = strtoll(PQgetvalue(res, r, 0), NULL, 10);
        (*out)[r].rows = strtoll(PQgetvalue(res, r, 1), NULL, 10);
        snprintf((*out)[r].sum, sizeof((*out)[r].sum), "%s", PQgetvalue(res, r, 2));
        *rows += (*out)[r].rows;
    }
    PQclear(res);
    return *out != NULL;
}

static void
compare_chunks(struct vtable *t)
{
    int i = 0, j = 0;

    t->nbad = 0;
    while (i < t->nsrc || j < t->ndst)
    {
        long long id;
        bool differ;

        if (j >= t->ndst || (i < t->nsrc && t->src[i].id < t->dst[j].id))
        {
            id = t->src[i++].id;
            differ = true;
        }
        else if (i >= t->nsrc || t->dst[j].id < t->src[i].id)
        {
            id = t->dst[j++].id;
            differ = true;
        }
        else
        {
            id = t->src[i].id;
            differ = t->src[i].rows != t->dst[j].rows || strcmp(t->src[i].sum, t->dst[j].sum) != 0;
            i++;
            j++;
        }
        if (differ)
        {
            if (t->nbad < SHOW_CHUNKS)
                t->bad[t->nbad] = id;
            t->nbad++;
        }
    }
    t->content_equal = t->nbad == 0;
}

/* The keys of the differing chunks: missing, extra, changed. */
static void
show_keys(struct verify *v, struct vtable *t)
{
    size_t n = 0;
    int shown = 0, c;

    for (c = 0; c < t->nbad && c < SHOW_CHUNKS && shown < SHOW_KEYS; c++)
    {
        char sql[8192];
        PGresult *s, *d;
        int i = 0, j = 0;

        snprintf(sql, sizeof(sql),
                 "SELECT %s::bigint, %s FROM ONLY %s t "
                 "WHERE %s >= %lld AND %s < %lld ORDER BY 1",
                 t->key, t->rowhash, t->qualified, t->key, t->bad[c] * v->width, t->key,
                 (t->bad[c] + 1) * v->width);
        s = q(v->snap, vmsg(v, "could not read keys on the %s", v->dir.from_role), sql, 0, NULL);
        d = s ? q(v->dst, vmsg(v, "could not read keys on the %s", v->dir.to_role), sql, 0, NULL)
              : NULL;
        while (d != NULL && (i < PQntuples(s) || j < PQntuples(d)) && shown < SHOW_KEYS)
        {
            long long ks = i < PQntuples(s) ? strtoll(PQgetvalue(s, i, 0), NULL, 10) : 0;
            long long kd = j < PQntuples(d) ? strtoll(PQgetvalue(d, j, 0), NULL, 10) : 0;
            const char *what = NULL;
            long long key = 0;

            if (j >= PQntuples(d) || (i < PQntuples(s) && ks < kd))
            {
                what = "missing";
                key = ks;
                i++;
            }
            else if (i >= PQntuples(s) || kd < ks)
            {
                what = "extra";
                key = kd;
                j++;
            }
            else
            {
                if (strcmp(PQgetvalue(s, i, 1), PQgetvalue(d, j, 1)) != 0)
                {
                    what = "changed";
                    key = ks;
                }
                i++;
                j++;
            }
            if (what != NULL && n < sizeof(t->keys))
            {
                n += (size_t) snprintf(t->keys + n, sizeof(t->keys) - n, "%s%s %lld", n ? ", " : "",
                                       what, key);
                shown++;
            }
        }
        PQclear(s);
        PQclear(d);
    }
}

static bool
hash_tables(struct verify *v)
{
    int i;

    for (i = 0; i < v->ntables; i++)
    {
        struct vtable *t = &v->tables[i];
        char sql[8192];

        if (t->dst_cols == NULL || !t->schema_equal)
            continue; /* reported as a schema difference */
        step(v, "hashing", t->label);
        chunk_sql(v, t, sql, sizeof(sql));
        /* both databases at once */
        if (PQsendQuery(v->snap, sql) != 1 || PQsendQuery(v->dst, sql) != 1)
        {
            log_error("could not send the hash of %s", t->label);
            return false;
        }
        if (!read_chunks(v->snap, v->dir.from_role, t, &t->src, &t->nsrc, &t->src_rows) ||
            !read_chunks(v->dst, v->dir.to_role, t, &t->dst, &t->ndst, &t->dst_rows))
            return false;
        compare_chunks(t);
        if (!t->content_equal && t->special != NULL)
        {
            PGresult *res;

            snprintf(sql, sizeof(sql), "SELECT count(*) FROM ONLY %s t WHERE %s", t->qualified,
                     t->special);
            res =
                q(v->snap, vmsg(v, "could not count NaN and Infinity on the %s", v->dir.from_role),
                  sql, 0, NULL);
            if (res == NULL)
                return false;
            t->special_rows = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
            PQclear(res);
        }
        if (!t->content_equal && v->show_keys && t->key != NULL)
            show_keys(v, t);
    }
    return true;
}

static bool
read_sequences(struct verify *v)
{
    const char *params[1] = {v->conf->schemas};
    PGresult *res;
    int r;

    step(v, "reading the sequences", NULL);
    res = q(v->src, vmsg(v, "could not list the %s's sequences", v->dir.from_role), seq_list_sql, 1,
            params);
    if (res == NULL)
        return false;
    v->nseqs = PQntuples(res);
    v->seqs = calloc((size_t) v->nseqs + 1, sizeof(struct vseq));
    for (r = 0; v->seqs != NULL && r < v->nseqs; r++)
    {
        struct vseq *s = &v->seqs[r];
        char sql[512];
        PGresult *a, *b;

        snprintf(s->name, sizeof(s->name), "%s", PQgetvalue(res, r, 0));
        snprintf(sql, sizeof(sql), "SELECT last_value || '/' || is_called FROM %s", s->name);
        a = PQexec(v->src, sql);
        b = PQexec(v->dst, sql);
        snprintf(s->src, sizeof(s->src), "%s",
                 PQresultStatus(a) == PGRES_TUPLES_OK ? PQgetvalue(a, 0, 0) : "?");
        snprintf(s->dst, sizeof(s->dst), "%s",
                 PQresultStatus(b) == PGRES_TUPLES_OK ? PQgetvalue(b, 0, 0) : "missing");
        PQclear(a);
        PQclear(b);
    }
    PQclear(res);
    return v->seqs != NULL;
}

/* ---- the command ------------------------------------------------------ */

static void
free_verify(struct verify *v)
{
    tablediff_free(&v->schema);
    tabledefs_free(&v->fromdefs);
    tabledefs_free(&v->todefs);
    int i;

    verify_release_bridge(v);
    for (i = 0; i < v->ntables; i++)
    {
        struct vtable *t = &v->tables[i];

        free(t->qualified);
        free(t->label);
        free(t->rowhash);
        free(t->key);
        free(t->special);
        free(t->src_cols);
        free(t->dst_cols);
        free(t->src);
        free(t->dst);
    }
    free(v->tables);
    free(v->seqs);
    verify_close(v->snap);
    verify_close(v->repl);
    verify_close(v->src);
    verify_close(v->dst);
}

static bool
open_snapshot(struct verify *v)
{
    char sql[256], *lit;

    v->snap = verify_connect(v, v->dir.from_dsn, v->dir.from_role, PGCONN_SQL);
    if (v->snap == NULL)
        return false;
    step(v, "opening the snapshot", NULL);
    lit = PQescapeLiteral(v->snap, v->snapshot, strlen(v->snapshot));
    snprintf(sql, sizeof(sql), "SET TRANSACTION SNAPSHOT %s", lit ? lit : "''");
    PQfreemem(lit);
    return ok(v->snap, "could not start the snapshot transaction",
              "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", 0, NULL) &&
           ok(v->snap, vmsg(v, "could not import the snapshot on the %s", v->dir.from_role), sql, 0,
              NULL) &&
           ok(v->snap, vmsg(v, "could not set up the %s session", v->dir.from_role),
              "SET LOCAL search_path = ''", 0, NULL);
}

/* The comparison; LAST_WORD: nothing is logged after the line of the
 * deadline (the command itself, not a step of cutover). */
static int
compare(const struct conf *conf, bool json, bool show_keys, long long width, bool last_word)
{
    struct verify v;
    int status = 1;

    memset(&v, 0, sizeof(v));
    v.conf = conf;
    v.json = json;
    v.show_keys = show_keys;
    v.width = width;
    v.pause_timeout_ms = 300000;
    v.last_word = last_word;
    if (conf->verify_timeout_ms > 0)
        v.deadline = clock_now_us() + conf->verify_timeout_ms * 1000;
    v.src = verify_connect(&v, conf->source, "source", PGCONN_SQL);
    v.dst = v.src ? verify_connect(&v, conf->target, "target", PGCONN_SQL) : NULL;
    step(&v, "setting up the sessions", NULL);
    if (v.dst == NULL ||
        !ok(v.src, "could not set up the source session", "SET search_path = ''", 0, NULL) ||
        !ok(v.dst, "could not set up the target session", "SET search_path = ''", 0, NULL))
        goto done;
    /* a schema either side lacks would compare as nothing against nothing */
    if (!schemas_on_both(v.src, "source", v.dst, "target", conf->schemas, NULL))
        goto done;
    /* after a cutover memori lives on the target and streams back: compare
     * that way round (the switch record, on the target, says which) */
    {
        bool exists = false, reverse = false;
        char phase[16] = "";

        if (!direction_read_switch(v.dst, conf->slot, &exists, &reverse, phase, sizeof(phase)))
            goto done;
        direction_init(&v.dir, conf, exists && reverse);
        if (v.dir.reverse)
        {
            PGconn *c = v.src;

            v.src = v.dst;
            v.dst = c;
            log_info("memori lives on the target (cut over): comparing the target with the "
                     "source, which slot \"%s\" streams it back to",
                     v.dir.slot);
        }
    }
    /* the table definitions: columns, keys, indexes, constraints */
    if (!schema_report_read(v.src, v.dir.from_role, v.dst, v.dir.to_role, conf->schemas,
                            &v.fromdefs, &v.todefs, &v.schema))
        goto done;
    /* sequences first: they move outside transactions, and the bridge sets
     * the target's only at cutover */
    if (!read_sequences(&v) || !verify_establish_point(&v) || !open_snapshot(&v) ||
        !load_tables(&v) || !hash_tables(&v) || !verify_hold_stood(&v))
        goto done;
    verify_release_bridge(&v);
    step(&v, "reporting", NULL);
    peer_unguard(v.src);
    peer_unguard(v.dst);
    peer_unguard(v.snap);
    peer_unguard(v.repl);
    if (atomic_load(&v.expired))
        goto done; /* the deadline came as the last answer did */
    status = verify_report(&v);
done:
    if (atomic_load(&v.expired))
        release_after_deadline(&v);
    free_verify(&v);
    return status;
}

int
verify_compare(const struct conf *conf, bool json, bool show_keys, long long width)
{
    return compare(conf, json, show_keys, width, false);
}

int
cmd_verify(int argc, char **argv, const struct conf *conf)
{
    struct verify v;
    int i;

    memset(&v, 0, sizeof(v));
    v.conf = conf;
    v.width = 10000;
    v.pause_timeout_ms = 300000;
    for (i = 1; i < argc; i++)
    {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
        {
            verify_usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--json") == 0)
            v.json = true;
        else if (strcmp(argv[i], "--show-keys") == 0)
            v.show_keys = true;
        else if (strcmp(argv[i], "--chunk-rows") == 0 && i + 1 < argc)
        {
            char *end;

            v.width = strtoll(argv[++i], &end, 10);
            if (*end != '\0' || v.width < 1)
            {
                log_error("verify: --chunk-rows takes a positive whole number, not \"%s\"",
                          argv[i]);
                return EXIT_USAGE;
            }
        }
        else
        {
            log_error("verify: unknown option \"%s\"", argv[i]);
            verify_usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (!conf_require_dsns(conf, "verify"))
        return EXIT_USAGE;
    return compare(conf, v.json, v.show_keys, v.width, true);
}
