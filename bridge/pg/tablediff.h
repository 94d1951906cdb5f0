/*
 * tablediff.h - how two sides' definitions of the streamed tables differ,
 * each difference with the statement that makes the applied side ("to")
 * like the side streamed from ("from"), and whether the bridge may run that
 * statement by itself.
 *
 * The bridge mirrors by itself what adds to a table and loses nothing: a new
 * table, column, index or constraint, a widened type, a default, NOT NULL,
 * the replica identity. It never drops or renames anything, nor converts a
 * type that is not widened, nor changes a primary key: for those the
 * difference says the exact statement to run and what happens to the data.
 * A difference only the applied side has (a column or a table there and not
 * on the side streamed from) may be a drop or a rename: the fix names both
 * where the catalogs offer a candidate.
 */
#ifndef MB_TABLEDIFF_H
#define MB_TABLEDIFF_H

#include <stdbool.h>
#include <stddef.h>

#include "bridge/pg/tabledef.h"

enum td_kind
{
    TD_TABLE_MISSING,      /* on "from" only: the bridge creates it */
    TD_TABLE_EXTRA,        /* on "to" only: dropped (or renamed) on "from" */
    TD_COLUMN_MISSING,     /* the bridge adds it, with the values the rows had */
    TD_COLUMN_EXTRA,       /* dropped (or renamed) on "from" */
    TD_COLUMN_TYPE,        /* widened on "from": the bridge widens it; else a stop */
    TD_COLUMN_DEFAULT,     /* the bridge sets it */
    TD_COLUMN_NOTNULL,     /* the bridge sets it */
    TD_COLUMN_OTHER,       /* collation, generated or identity clause */
    TD_PRIMARY_KEY,        /* a primary key added, dropped or changed */
    TD_CONSTRAINT_MISSING, /* the bridge adds it */
    TD_CONSTRAINT_EXTRA,   /* on "to" only */
    TD_CONSTRAINT_DIFFERS, /* one name, two definitions */
    TD_INDEX_MISSING,      /* the bridge builds it */
    TD_INDEX_EXTRA,        /* on "to" only */
    TD_INDEX_DIFFERS,      /* one name, two definitions */
    TD_REPLIDENT,          /* the bridge sets it */
};

/* One difference. */
struct td_diff
{
    enum td_kind kind;
    bool automatic;              /* the bridge runs the fix by itself */
    const struct td_table *from; /* borrowed from the "from" set, NULL for TD_TABLE_EXTRA */
    const struct td_table *to;   /* borrowed from the "to" set, NULL for TD_TABLE_MISSING */
    const struct td_column *col; /* TD_COLUMN_*: the "from" side's column (EXTRA: "to"'s) */
    char key[320];               /* the same difference gets the same key in the next check */
    char label[260];             /* "schema.table", for messages */
    char *what;                  /* owned: what differs, one line */
    char *fix;                   /* owned: the statement(s) to run on "to" */
    const char *data;            /* static: what the fix does to the data */
};

struct td_diffs
{
    struct td_diff *d; /* owned */
    int n;
};

/* Compare FROM with TO (FROM_ROLE and TO_ROLE name them in messages). Returns
 * false when out of memory (logged). */
bool tablediff(const struct tabledefs *from, const struct tabledefs *to, const char *from_role,
               const char *to_role, struct td_diffs *out);

void tablediff_free(struct td_diffs *diffs);

/* TYPE (format_type's text) without a schema qualification, into BUF (a user
 * type is qualified by one side's search_path and not by the other's). */
const char *tablediff_type_norm(const char *type, char *buf, size_t len);

/* Does every value of type NARROW fit type WIDE unchanged: the same type, or
 * one ALTER COLUMN ... TYPE widens without changing a value (varchar(n) to a
 * larger n or to text, smallint to integer to bigint to numeric, numeric with
 * more digits, real to double precision)? Both as format_type writes them. */
bool tablediff_type_fits(const char *narrow, const char *wide);

/* The column clause of C, named NAME: "name" type [COLLATE c] [DEFAULT d |
 * GENERATED ALWAYS AS (e) STORED] [GENERATED ... AS IDENTITY] [NOT NULL],
 * into BUF. With DEFAULT_OVERRIDE the default is that literal instead.
 * Returns false when it does not fit. */
bool tablediff_column_clause(const struct td_column *c, const char *name,
                             const char *default_override, char *buf, size_t len);

#endif
