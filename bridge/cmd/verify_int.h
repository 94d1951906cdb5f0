/*
 * verify_int.h - what the parts of verify share: the tables, chunks and
 * sequences compared, the state of one run, and small helpers. Private to
 * verify.c, verify_point.c and verify_report.c.
 */
#ifndef MEMORI_BRIDGE_VERIFY_INT_H
#define MEMORI_BRIDGE_VERIFY_INT_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <libpq-fe.h>

#include "bridge/base/conf.h"
#include "bridge/pg/direction.h"
#include "bridge/pg/pgconn.h"
#include "bridge/pg/tablediff.h"
#include "decoder/lsn.h"

#define EXIT_DIFFERENT 3
#define SHOW_CHUNKS    10 /* chunks narrowed to keys per table with --show-keys */

struct vchunk
{
    long long id; /* chunk number: floor(key / width); 0 for a table without one */
    long long rows;
    char sum[48]; /* sum of the rows' hashes, as text */
};

struct vtable
{
    char *qualified; /* owned: "schema"."name" */
    char *label;     /* owned: schema.name, for the report */
    char *rowhash;   /* owned: the hash of one row t (bigint), from the source's columns */
    char *key;       /* owned: t."id" when the key is one integer column, else NULL */
    char *special;   /* owned: condition true for NaN/Infinity in number columns, or NULL */
    char *src_cols;  /* owned: "name type, ..." by name, the source's columns */
    char *dst_cols;  /* owned: the same of the target, or NULL when it has no such table */
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
    struct direction dir; /* forward, or reverse after a cutover: from is
                           * the side memori lives on */
    char msg[256];        /* vmsg(): one message at a time */
    bool json, show_keys;
    long long width; /* key values per chunk */
    int64_t pause_timeout_ms;
    PGconn *src, *snap, *dst, *repl; /* owned */
    char point[LSN_BUFSZ];           /* L */
    char snapshot[128];
    char token[64]; /* of our pause request, "" when none */
    bool streaming; /* a bridge streams the slot (paused for us) */
    int64_t deadline;            /* monotonic us when verify gives up (verify_timeout); 0 never */
    _Atomic(const char *) step;  /* what it does now, for the line when it gives up */
    _Atomic(const char *) table; /* the table it hashes, or NULL */
    _Atomic bool expired;        /* it gave up: the line is out */
    bool last_word;              /* ... and then nothing more is logged (the command's own
                                  * run, not cutover's) */
    struct vtable *tables;
    int ntables;
    struct vseq *seqs;
    int nseqs;
    /* the table definitions of both sides, and how they differ
     * (schema_report.h): each difference with its fix */
    struct tabledefs fromdefs, todefs;
    struct td_diffs schema;
};

/* A message for pgconn_exec(), into V's buffer: one at a time. */
static inline const char *vmsg(struct verify *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static inline const char *
vmsg(struct verify *v, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(v->msg, sizeof(v->msg), fmt, ap);
    va_end(ap);
    return v->msg;
}

static inline PGresult *
q(PGconn *conn, const char *what, const char *sql, int n, const char *const *params)
{
    return pgconn_exec(conn, what, sql, n, params, NULL);
}

static inline bool
ok(PGconn *conn, const char *what, const char *sql, int n, const char *const *params)
{
    PGresult *res = q(conn, what, sql, n, params);

    PQclear(res);
    return res != NULL;
}

/* verify.c: open a connection of verify's to DSN (ROLE's), guarded by its
 * deadline; NULL after one line (the deadline's, when it came first). */
PGconn *verify_connect(struct verify *v, const char *dsn, const char *role, enum pgconn_kind kind);

/* Close CONN (NULL is fine), ending its guard. */
void verify_close(PGconn *conn);

/* verify_point.c: the point both sides are compared at (v->point, v->snapshot),
 * with a running bridge asked to hold there; and letting it go on. */
bool verify_establish_point(struct verify *v);
void verify_release_bridge(struct verify *v);

/* Did the running bridge still hold at the point once the comparison was
 * done (a hold outlives neither the bridge's --hold-timeout nor us)? Returns
 * false after logging why not: the comparison is then worth nothing. */
bool verify_hold_stood(struct verify *v);

/* verify_report.c: the report (text or JSON); the exit status. */
int verify_report(struct verify *v);

#endif
