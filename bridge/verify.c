/*
 * verify.c - comparing source and target at one point.
 *
 * NOTES
 *
 * The point is the consistent point L of a temporary slot created with an
 * exported snapshot: the snapshot shows every transaction that committed
 * before L and none after. The target must show the same ones:
 *   - a bridge streaming the slot is asked (memori_bridge.verify_pause, and a
 *     NOTIFY) to apply everything before L and hold still there; if it was
 *     already past L, a new temporary slot gives a new L;
 *   - with no bridge running, the slot itself must hold no change the target
 *     lacks (peeked, not consumed); otherwise writers are at work and there
 *     is no one point to compare at: verify says so and exits 1.
 * Content is hashed inside each database: per chunk of primary-key values, the
 * count and the sum of hashtextextended() of each row's text, built from the
 * source's column list, so that no row travels and the column order of the
 * target does not matter. Both sides compute at the same time.
 */
#include "bridge/verify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bridge/direction.h"
#include "bridge/log.h"
#include "bridge/pgconn.h"
#include "bridge/seqsync.h"
#include "bridge/stream.h"
#include "decoder/lsn.h"

#define EXIT_USAGE      2
#define EXIT_DIFFERENT  3
#define MAX_RETRIES     3
#define SHOW_CHUNKS     10 /* chunks narrowed to keys per table with --show-keys */
#define SHOW_KEYS       20 /* keys listed per table */

extern const char bridge_objects_sql[];

struct vchunk
{
    long long id;   /* chunk number: floor(key / width); 0 for a table without one */
    long long rows;
    char sum[48];   /* sum of the rows' hashes, as text */
};

struct vtable
{
    char *qualified;   /* owned: "schema"."name" */
    char *label;       /* owned: schema.name, for the report */
    char *rowhash;     /* owned: the hash of one row t (bigint), from the source's columns */
    char *key;         /* owned: t."id" when the key is one integer column, else NULL */
    char *special;     /* owned: condition true for NaN/Infinity in number columns, or NULL */
    char *src_cols;    /* owned: "name type, ..." by name, the source's columns */
    char *dst_cols;    /* owned: the same of the target, or NULL when it has no such table */
    struct vchunk *src, *dst; /* owned */
    int nsrc, ndst;
    long long src_rows, dst_rows;
    long long bad[SHOW_CHUNKS]; /* differing chunks */
    int nbad;                   /* how many differ (may exceed SHOW_CHUNKS) */
    char keys[1024];            /* --show-keys: what differs */
    long long special_rows;     /* source rows with NaN/Infinity, when content differs */
    bool schema_equal, content_equal;
};

struct vseq
{
    char name[300];
    char src[48], dst[48]; /* "last_value/is_called" */
};

struct verify
{
    const struct conf *conf;
    struct direction dir;     /* forward, or reverse after a cutover: from is
                               * the side memori lives on */
    char msg[256];            /* roles(): one message at a time */
    bool json, show_keys;
    long long width;          /* key values per chunk */
    int64_t pause_timeout_ms;
    PGconn *src, *snap, *dst, *repl; /* owned */
    char point[LSN_BUFSZ];    /* L */
    char snapshot[128];
    char token[64];           /* of our pause request, "" when none */
    bool streaming;           /* a bridge streams the slot (paused for us) */
    struct vtable *tables;
    int ntables;
    struct vseq *seqs;
    int nseqs;
};

/* TEXT with @F and @T replaced by the roles of the side streamed from (where
 * memori lives) and the side applied to: "source" and "target" until a
 * cutover, the other way round after it. */
static const char *
roles(struct verify *v, const char *text)
{
    size_t n = 0;

    for (; *text != '\0' && n + 8 < sizeof(v->msg); text++)
    {
        if (text[0] == '@' && (text[1] == 'F' || text[1] == 'T'))
        {
            const char *r = *++text == 'F' ? v->dir.from_role : v->dir.to_role;

            n += (size_t) snprintf(v->msg + n, sizeof(v->msg) - n, "%s", r);
            if (n >= sizeof(v->msg))
                n = sizeof(v->msg) - 1;
            continue;
        }
        v->msg[n++] = *text;
    }
    v->msg[n] = '\0';
    return v->msg;
}

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

static PGresult *
q(PGconn *conn, const char *what, const char *sql, int n, const char *const *params)
{
    return pgconn_exec(conn, what, sql, n, params, NULL);
}

static bool
ok(PGconn *conn, const char *what, const char *sql, int n, const char *const *params)
{
    PGresult *res = q(conn, what, sql, n, params);

    PQclear(res);
    return res != NULL;
}

/* ---- the point -------------------------------------------------------- */

static bool
make_point(struct verify *v)
{
    char cmd[256];
    PGresult *res;

    if (v->repl != NULL)
        PQfinish(v->repl); /* a temporary slot goes with its connection */
    v->repl = pgconn_open(v->dir.from_dsn, v->dir.from_role, PGCONN_REPLICATION, "memori-bridge verify",
                          v->conf->connect_timeout_ms, NULL);
    if (v->repl == NULL)
        return false;
    snprintf(cmd, sizeof(cmd),
             "CREATE_REPLICATION_SLOT \"memori_bridge_verify_%d\" TEMPORARY LOGICAL wal2json "
             "EXPORT_SNAPSHOT",
             (int) getpid());
    res = PQexec(v->repl, cmd);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
    {
        char msg[1024];

        log_error("could not take a snapshot of the %s (a temporary slot): %s", v->dir.from_role,
                  pgconn_error(v->repl, res, msg, sizeof(msg)));
        PQclear(res);
        return false;
    }
    snprintf(v->point, sizeof(v->point), "%s", PQgetvalue(res, 0, 1));
    snprintf(v->snapshot, sizeof(v->snapshot), "%s", PQgetvalue(res, 0, 2));
    PQclear(res);
    return true;
}

/* Ask the bridge that streams the slot to hold at v->point. Sets *PAST when
 * it had gone beyond it already. */
static bool
pause_bridge(struct verify *v, bool *past)
{
    const char *params[3] = {v->token, v->dir.slot, v->point};
    int64_t start = stream_now_us(), last_note = start;
    int moves = 0;

    *past = false;
    snprintf(v->token, sizeof(v->token), "verify-%d-%lld", (int) getpid(), (long long) time(NULL));
    if (!pgconn_script(v->dst, roles(v, "could not create the bridge's objects on the @T"),
                       bridge_objects_sql) ||
        !ok(v->dst, "could not ask the bridge to pause",
            "INSERT INTO memori_bridge.verify_pause (token, slot, pause_at) "
            "VALUES ($1, $2, $3::pg_lsn)",
            3, params) ||
        !ok(v->dst, "could not ask the bridge to pause", "SELECT pg_catalog.pg_notify('memori_bridge', $1)",
            1, params))
        return false;
    log_info("asked the running bridge to pause at %s", v->point);
    for (;;)
    {
        PGresult *res = q(v->dst, "could not read the bridge's answer",
                          "SELECT state, coalesce(applied::text, '') FROM memori_bridge.verify_pause "
                          "WHERE token = $1",
                          1, params);
        int64_t now = stream_now_us();
        char state[16] = "";

        if (res == NULL)
            return false;
        if (PQntuples(res) == 1)
            snprintf(state, sizeof(state), "%s", PQgetvalue(res, 0, 0));
        PQclear(res);
        if (strcmp(state, "paused") == 0)
            return true;
        if (strcmp(state, "past") == 0)
        {
            /* it had applied beyond our point before it saw the request, and
             * holds where it is: a point taken now is ahead of it */
            if (++moves > MAX_RETRIES)
            {
                *past = true;
                return true;
            }
            log_info("the bridge was already past %s and holds there; taking a later point",
                     v->point);
            if (!make_point(v) ||
                !ok(v->dst, "could not move the pause point",
                    "UPDATE memori_bridge.verify_pause SET pause_at = $3::pg_lsn, "
                    "state = 'requested', updated_at = now() WHERE token = $1 AND slot = $2",
                    3, params) ||
                !ok(v->dst, "could not move the pause point",
                    "SELECT pg_catalog.pg_notify('memori_bridge', $1)", 1, params))
                return false;
            log_info("asked the bridge to go on to %s and pause there", v->point);
            continue;
        }
        if (now - start > v->pause_timeout_ms * 1000)
        {
            log_error("the bridge streaming slot \"%s\" did not pause at %s within %.0f s; is it "
                      "far behind? (memori-bridge status shows its lag)",
                      v->dir.slot, v->point, (double) v->pause_timeout_ms / 1000);
            return false;
        }
        if (now - last_note > 5000000)
        {
            log_info("waiting for the bridge to apply everything before %s", v->point);
            last_note = now;
        }
        usleep(50000);
    }
}

static void
release_bridge(struct verify *v)
{
    const char *params[1] = {v->token};

    if (v->token[0] == '\0' || v->dst == NULL)
        return;
    PQclear(PQexecParams(v->dst, "DELETE FROM memori_bridge.verify_pause WHERE token = $1", 1, NULL,
                         params, NULL, NULL, 0));
    PQclear(PQexecParams(v->dst, "SELECT pg_catalog.pg_notify('memori_bridge', $1)", 1, NULL,
                         params, NULL, NULL, 0));
    v->token[0] = '\0';
}

/* With no bridge running: does the slot hold changes of transactions the
 * target has not applied (those ending after the origin's progress)? */
static int
pending_changes(struct verify *v)
{
    static const char sql[] =
        "WITH p AS (SELECT xid, data::jsonb AS j FROM pg_catalog.pg_logical_slot_peek_changes("
        "    $1, $2::pg_lsn, NULL, 'format-version', '2', 'include-xids', '1', "
        "    'include-lsn', '1', 'add-tables', $3)) "
        "SELECT count(*) FROM p WHERE j->>'action' IN ('I', 'U', 'D', 'T') AND xid IN "
        "  (SELECT xid FROM p WHERE j->>'action' = 'C' AND (j->>'nextlsn')::pg_lsn > $4::pg_lsn)";
    char tables[1024], origin[LSN_BUFSZ] = "0/0";
    const char *oparams[1] = {v->dir.slot};
    const char *params[4] = {v->dir.slot, v->point, tables, origin};
    const char *p = v->conf->schemas;
    size_t n = 0;
    PGresult *res;
    int count;

    for (; *p != '\0' && n + 4 < sizeof(tables); p++)
    {
        if (*p == ' ')
            continue;
        if (*p == ',')
            n += (size_t) snprintf(tables + n, sizeof(tables) - n, ".*,");
        else
            tables[n++] = *p;
    }
    snprintf(tables + n, sizeof(tables) - n, ".*");
    res = q(v->dst, roles(v, "could not read the origin on the @T"),
            "SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_replication_origin "
            "                         WHERE roname = $1) "
            "       THEN coalesce(pg_catalog.pg_replication_origin_progress($1, false)::text, "
            "                     '0/0') ELSE '' END",
            1, oparams);
    if (res == NULL)
        return -1;
    if (PQgetvalue(res, 0, 0)[0] == '\0')
    {
        log_error("the %s has no replication origin \"%s\": nothing streams slot \"%s\" into "
                  "it, so there is no point to compare at; fix: memori-bridge %s (or --slot "
                  "NAME for another slot)",
                  v->dir.to_role, v->dir.slot, v->dir.slot, v->dir.reverse ? "cutover" : "init");
        PQclear(res);
        return -1;
    }
    snprintf(origin, sizeof(origin), "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    res = q(v->src, "could not look into the slot", sql, 4, params);
    if (res == NULL)
        return -1;
    count = (int) strtol(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return count;
}

static bool
establish_point(struct verify *v)
{
    const char *params[1] = {v->dir.slot};
    int attempt;

    for (attempt = 0; attempt < MAX_RETRIES; attempt++)
    {
        PGresult *res;
        bool slot_exists, past;

        if (!make_point(v))
            return false;
        res = q(v->src, roles(v, "could not read the @F's slots"),
                "SELECT active FROM pg_catalog.pg_replication_slots WHERE slot_name = $1", 1, params);
        if (res == NULL)
            return false;
        slot_exists = PQntuples(res) == 1;
        v->streaming = slot_exists && PQgetvalue(res, 0, 0)[0] == 't';
        PQclear(res);
        if (!v->streaming)
        {
            int pending = slot_exists ? pending_changes(v) : 0;

            if (pending < 0)
                return false;
            if (pending > 0)
            {
                log_error("cannot compare at one point: slot \"%s\" holds %d change%s the %s "
                          "does not have yet, and no bridge is streaming it; start memori-bridge "
                          "run%s (verify then pauses it at one point), or let it catch up with "
                          "the writers stopped",
                          v->dir.slot, pending, pending == 1 ? "" : "s", v->dir.to_role,
                          v->dir.reverse ? " --reverse" : "");
                return false;
            }
            log_info("comparing at %s (no bridge is streaming; the %s has everything before it)",
                     v->point, v->dir.to_role);
            return true;
        }
        if (!pause_bridge(v, &past))
            return false;
        if (!past)
        {
            log_info("comparing at %s (the running bridge holds there)", v->point);
            return true;
        }
        release_bridge(v);
        log_info("the bridge was already past %s; taking a new point", v->point);
    }
    log_error("could not find one point to compare at: the bridge kept running past it");
    return false;
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

    tparams[1] = PQserverVersion(v->snap) >= 140000 && PQserverVersion(v->dst) >= 140000 ? "t"
                                                                                          : "f";
    res = q(v->snap, roles(v, "could not read the @F's tables"), tables_sql, 2, tparams);
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

    sc = q(v->snap, roles(v, "could not read the @F's columns"), columns_sql, 1, params);
    dc = sc ? q(v->dst, roles(v, "could not read the @T's columns"), columns_sql, 1, params) : NULL;
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
        s = q(v->snap, roles(v, "could not read keys on the @F"), sql, 0, NULL);
        d = s ? q(v->dst, roles(v, "could not read keys on the @T"), sql, 0, NULL) : NULL;
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
                n += (size_t) snprintf(t->keys + n, sizeof(t->keys) - n, "%s%s %lld",
                                       n ? ", " : "", what, key);
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
            res = q(v->snap, roles(v, "could not count NaN and Infinity on the @F"), sql, 0, NULL);
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
    PGresult *res = q(v->src, roles(v, "could not list the @F's sequences"), seq_list_sql, 1,
                    params);
    int r;

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

/* "1000/t" against "990/t": is the target's sequence behind? */
static bool
seq_behind(const struct vseq *s)
{
    long long a, b;

    if (strcmp(s->dst, "missing") == 0)
        return true;
    a = strtoll(s->src, NULL, 10);
    b = strtoll(s->dst, NULL, 10);
    if (b != a)
        return b < a;
    return strstr(s->src, "/t") != NULL && strstr(s->dst, "/f") != NULL;
}

/* ---- the report ------------------------------------------------------- */

static int
report(struct verify *v)
{
    int i, differences = 0;

    for (i = 0; i < v->ntables; i++)
        differences += !v->tables[i].schema_equal || !v->tables[i].content_equal;
    for (i = 0; i < v->nseqs; i++)
        differences += !v->streaming && seq_behind(&v->seqs[i]);

    if (v->json)
    {
        char buf[4096];
        int n;

        bool rev = v->dir.reverse;

        /* source_* and target_* name the sides as the settings do, in
         * either direction; the point is a position on the side memori
         * lives on ("direction") */
        printf("{\"direction\":\"%s\",\"point\":\"%s\",\"bridge_paused\":%s,\"equal\":%s,"
               "\"tables\":[",
               direction_name(&v->dir), v->point, v->streaming ? "true" : "false",
               differences ? "false" : "true");
        for (i = 0; i < v->ntables; i++)
        {
            struct vtable *t = &v->tables[i];
            int c;

            n = log_json_string(buf, 0, sizeof(buf), t->label);
            printf("%s{\"table\":%s,\"schema_equal\":%s,\"source_rows\":%lld,\"target_rows\":%lld,"
                   "\"content_equal\":%s,\"differing_chunks\":%d,\"differing_ranges\":[",
                   i ? "," : "", buf, t->schema_equal ? "true" : "false",
                   rev ? t->dst_rows : t->src_rows, rev ? t->src_rows : t->dst_rows,
                   t->schema_equal && t->content_equal ? "true" : "false", t->nbad);
            for (c = 0; c < t->nbad && c < SHOW_CHUNKS && t->key; c++)
                printf("%s[%lld,%lld]", c ? "," : "", t->bad[c] * v->width,
                       (t->bad[c] + 1) * v->width);
            n = log_json_string(buf, 0, sizeof(buf), t->keys);
            printf("],\"keys\":%s,\"nan_or_infinity_rows\":%lld", buf, t->special_rows);
            if (!t->schema_equal)
            {
                const char *from = t->src_cols ? t->src_cols : "";
                const char *to = t->dst_cols ? t->dst_cols : "";

                printf(",\"source_columns\":");
                n = log_json_string(buf, 0, sizeof(buf), rev ? to : from);
                printf("%s,\"target_columns\":", buf);
                n = log_json_string(buf, 0, sizeof(buf), rev ? from : to);
                printf("%s", buf);
            }
            printf("}");
        }
        printf("],\"sequences\":[");
        for (i = 0; i < v->nseqs; i++)
        {
            n = log_json_string(buf, 0, sizeof(buf), v->seqs[i].name);
            printf("%s{\"sequence\":%s,\"source\":\"%s\",\"target\":\"%s\",\"behind\":%s}",
                   i ? "," : "", buf, rev ? v->seqs[i].dst : v->seqs[i].src,
                   rev ? v->seqs[i].src : v->seqs[i].dst,
                   seq_behind(&v->seqs[i]) ? "true" : "false");
        }
        (void) n;
        printf("]}\n");
        return differences ? EXIT_DIFFERENT : 0;
    }

    if (v->dir.reverse)
        printf("memori lives on the target (cut over): the target is compared with the source, "
               "which the bridge streams it back to\n");
    printf("%-40s %14s %14s  %s\n", "object", v->dir.from_role, v->dir.to_role, "result");
    for (i = 0; i < v->ntables; i++)
    {
        struct vtable *t = &v->tables[i];
        char name[256];

        snprintf(name, sizeof(name), "%s (columns)", t->label);
        if (!t->schema_equal)
        {
            printf("%-40s %14s %14s  DIFFERS: %s (%s), %s (%s)\n", name, "", "", v->dir.from_role,
                   t->src_cols ? t->src_cols : "", v->dir.to_role,
                   t->dst_cols ? t->dst_cols : "no such table");
            continue;
        }
        printf("%-40s %14s %14s  equal\n", name, "", "");
        snprintf(name, sizeof(name), "%s (rows)", t->label);
        if (t->content_equal)
        {
            printf("%-40s %14lld %14lld  equal\n", name, t->src_rows, t->dst_rows);
            continue;
        }
        printf("%-40s %14lld %14lld  DIFFERS", name, t->src_rows, t->dst_rows);
        if (t->key != NULL)
        {
            int c;

            printf(" in %d chunk%s of keys:", t->nbad, t->nbad == 1 ? "" : "s");
            for (c = 0; c < t->nbad && c < SHOW_CHUNKS; c++)
                printf(" [%lld, %lld)", t->bad[c] * v->width, (t->bad[c] + 1) * v->width);
            if (t->nbad > SHOW_CHUNKS)
                printf(" ...");
        }
        else
            printf(" (no single integer key: the table is hashed whole)");
        putchar('\n');
        if (t->keys[0])
            printf("%-40s %14s %14s  keys: %s\n", "", "", "", t->keys);
        if (t->special_rows > 0)
            printf("%-40s %14s %14s  %lld %s row%s hold NaN or +-Infinity in a number column: "
                   "wal2json 2.5 sends those as NULL\n",
                   "", "", "", t->special_rows, v->dir.from_role,
                   t->special_rows == 1 ? "" : "s");
    }
    for (i = 0; i < v->nseqs; i++)
    {
        const struct vseq *s = &v->seqs[i];
        char name[320];

        snprintf(name, sizeof(name), "sequence %s", s->name);
        printf("%-40s %14s %14s  %s\n", name, s->src, s->dst,
               !seq_behind(s)   ? "equal or ahead"
               : v->streaming ? (v->dir.reverse
                                     ? "behind (expected while streaming: rollback sets it)"
                                     : "behind (expected while streaming: cutover sets it)")
                              : "BEHIND");
    }
    printf("verdict: %s at %s position %s\n", differences ? "DIFFERENT" : "equal",
           v->dir.from_role, v->point);
    return differences ? EXIT_DIFFERENT : 0;
}

/* ---- the command ------------------------------------------------------ */

static void
free_verify(struct verify *v)
{
    int i;

    release_bridge(v);
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
    if (v->snap != NULL)
        PQfinish(v->snap);
    if (v->repl != NULL)
        PQfinish(v->repl);
    if (v->src != NULL)
        PQfinish(v->src);
    if (v->dst != NULL)
        PQfinish(v->dst);
}

static bool
open_snapshot(struct verify *v)
{
    char sql[256], *lit;

    v->snap = pgconn_open(v->dir.from_dsn, v->dir.from_role, PGCONN_SQL, "memori-bridge verify",
                          v->conf->connect_timeout_ms, NULL);
    if (v->snap == NULL)
        return false;
    lit = PQescapeLiteral(v->snap, v->snapshot, strlen(v->snapshot));
    snprintf(sql, sizeof(sql), "SET TRANSACTION SNAPSHOT %s", lit ? lit : "''");
    PQfreemem(lit);
    return ok(v->snap, "could not start the snapshot transaction",
              "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", 0, NULL) &&
           ok(v->snap, roles(v, "could not import the snapshot on the @F"), sql, 0, NULL) &&
           ok(v->snap, roles(v, "could not set up the @F session"), "SET LOCAL search_path = ''", 0,
              NULL);
}

int
verify_compare(const struct conf *conf, bool json, bool show_keys, long long width)
{
    struct verify v;
    int status = 1;

    memset(&v, 0, sizeof(v));
    v.conf = conf;
    v.json = json;
    v.show_keys = show_keys;
    v.width = width;
    v.pause_timeout_ms = 300000;
    v.src = pgconn_open(conf->source, "source", PGCONN_SQL, "memori-bridge verify",
                        conf->connect_timeout_ms, NULL);
    v.dst = v.src ? pgconn_open(conf->target, "target", PGCONN_SQL, "memori-bridge verify",
                                conf->connect_timeout_ms, NULL)
                  : NULL;
    if (v.dst == NULL || !ok(v.src, "could not set up the source session",
                             "SET search_path = ''", 0, NULL) ||
        !ok(v.dst, "could not set up the target session", "SET search_path = ''", 0, NULL))
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
    /* sequences first: they move outside transactions, and the bridge sets
     * the target's only at cutover */
    if (!read_sequences(&v) || !establish_point(&v) || !open_snapshot(&v) || !load_tables(&v) ||
        !hash_tables(&v))
        goto done;
    release_bridge(&v);
    status = report(&v);
done:
    free_verify(&v);
    return status;
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
    return verify_compare(conf, v.json, v.show_keys, v.width);
}

