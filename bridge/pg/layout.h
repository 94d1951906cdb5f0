/*
 * layout.h - what the stream has shown of the streaming side's columns: for
 * each table (as streamed, by schema and name) its OID there, and for each
 * attribute number the column's name, or that the column is gone there.
 *
 * wal2json's include-column-positions gives every column of a change its
 * attnum as the source's catalog had it when the change was written, and an
 * attnum is never reused within a table. So a name seen under an attnum
 * that had another name before is a rename, for certain; a name seen under a
 * new attnum is a new column (or one dropped and added again); and a column
 * of an earlier change that an INSERT no longer carries was dropped. The
 * record is kept per direction on the side applied to
 * (memori_bridge.layout), written in the same transaction as the changes, so
 * that it survives restarts and never runs ahead of the progress.
 */
#ifndef MB_LAYOUT_H
#define MB_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

struct layout_col
{
    int attnum; /* on the streaming side */
    char *name; /* owned: its name as last streamed */
    bool gone;  /* gone there by now: its values in the stream are left out */
    bool dirty; /* not written yet */
};

struct layout_table
{
    char *schema;            /* owned: as streamed */
    char *name;              /* owned */
    uint32_t relid;          /* the table's OID on the streaming side; 0 unknown */
    bool relid_dirty;        /* relid not written yet */
    struct layout_col *cols; /* owned */
    int ncols, cap;
};

struct layout
{
    struct layout_table *tables; /* owned */
    int ntables, cap;
};

/* The statement that records one entry: $1 slot, $2 schema, $3 table,
 * $4 attnum (0: the table's own row), $5 name, $6 gone ("t"/"f"), $7 relid. */
extern const char layout_write_sql[];

/* Load the record of direction SLOT from CONN (not in a transaction; SIDE
 * names it in messages), making memori_bridge.layout when it is missing.
 * Returns false when the record cannot be kept there (logged at debug
 * level): the bridge then keeps it in memory only. */
bool layout_load(struct layout *l, PGconn *conn, const char *slot, const char *side);

void layout_free(struct layout *l);

/* The table SCHEMA.NAME (lengths given); made when CREATE and missing (NULL
 * when out of memory or not there). */
struct layout_table *layout_table(struct layout *l, const char *schema, size_t schema_len,
                                  const char *name, size_t name_len, bool create);

/* The table whose OID is RELID, or NULL. */
struct layout_table *layout_by_relid(struct layout *l, uint32_t relid);

/* The entry of ATTNUM, or NULL. */
struct layout_col *layout_col(struct layout_table *t, int attnum);

/* The live entry named NAME (LEN bytes), or NULL. */
struct layout_col *layout_col_named(struct layout_table *t, const char *name, size_t len);

/* Record ATTNUM as named NAME, GONE or not. Returns false when out of memory. */
bool layout_set(struct layout_table *t, int attnum, const char *name, bool gone);

/* Is anything not yet written? */
bool layout_dirty(const struct layout *l);

/* Mark everything written. */
void layout_clean(struct layout *l);

#endif
