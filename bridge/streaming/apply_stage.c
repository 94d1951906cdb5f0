/*
 * apply_stage.c - values too large to send in one piece, staged in parts
 * ahead of their row (stmt.h).
 *
 * libpq copies a statement's parameters whole into its send buffer, and
 * keeps that buffer at its largest for as long as the connection lasts: a
 * value of 300 MB sent as a parameter costs the bridge 300 MB more, for
 * good. A value longer than STAGE_OVER goes instead as parts of at most
 * STAGE_PART bytes into the session's temporary table, each pushed out
 * before the next is sent, so that the buffer never holds more than one
 * part; the row's statement puts the parts together on the target. The
 * parts are in the group's transaction: a rollback drops them with the rest,
 * a commit empties the table. A role that may not create temporary tables
 * sends every value whole, with a warning.
 */
#include "bridge/streaming/apply_int.h"

#include <stdio.h>

#include "bridge/base/log.h"

#define STAGE_OVER (1u << 20)  /* values longer than this are staged */
#define STAGE_PART (64u << 10) /* bytes per part at most */

void
apply_stage_open(struct apply *a)
{
    PGresult *res = PQexec(a->conn, stmt_stage_table_sql);
    char msg[512];

    a->stage = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!a->stage)
        log_warning("could not make the table that large values are sent through on the %s: "
                    "%s; values over 1 MB go whole, each costing the bridge twice its size "
                    "more memory; fix: GRANT TEMPORARY ON DATABASE \"%s\" TO \"%s\"",
                    a->o.role, pgconn_error(a->conn, res, msg, sizeof(msg)), PQdb(a->conn),
                    a->user);
    PQclear(res);
}

size_t
apply_stage_over(const struct apply *a)
{
    return a->stage ? STAGE_OVER : 0;
}

/* Send V, the value of parameter P, in parts under staging id ID. */
static bool
stage_value(struct apply *a, const struct pl_entry *e, uint64_t id, int p,
            const struct w2j_value *v)
{
    char ids[24], ps[12], ns[12];
    const char *values[4] = {ids, ps, ns, NULL};
    int lengths[4] = {0, 0, 0, 0}, formats[4] = {0, 0, 0, 1}; /* the part: text, binary */
    size_t off = 0;
    int n = 0;

    snprintf(ids, sizeof(ids), "%llu", (unsigned long long) id);
    snprintf(ps, sizeof(ps), "%d", p);
    while (off < v->len)
    {
        size_t end = v->len - off > STAGE_PART ? off + STAGE_PART : v->len;

        /* each part whole characters: the server checks each one's encoding */
        while (end < v->len && end > off + 1 && ((unsigned char) v->text[end] & 0xC0) == 0x80)
            end--;
        snprintf(ns, sizeof(ns), "%d", n++);
        values[3] = v->text + off;
        lengths[3] = (int) (end - off);
        if (!pl_send_params(&a->pl, e, stmt_stage_sql, 4, values, lengths, formats))
            return false;
        off = end;
    }
    return true;
}

bool
apply_stage(struct apply *a, struct stmt *st, const struct w2j_record *rec, uint64_t *id)
{
    struct pl_entry e = {.kind = PL_STAGE, .st = st, .nrows = 1};
    int p;

    *id = 0;
    if (st->staged == 0)
        return true;
    *id = ++a->stage_serial;
    e.xid = a->xid;
    e.commit_lsn = a->commit_lsn;
    stmt_describe_key(st, rec, e.what, sizeof(e.what));
    for (p = 0; p < st->nparams && p < 64; p++)
        if ((st->staged & (UINT64_C(1) << p)) &&
            !stage_value(a, &e, *id, p, stmt_param_value(st, rec, p)))
            return false;
    return true;
}
