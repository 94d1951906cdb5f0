/*
 * batch.h - decoded messages, copied into one block of memory, handed from
 * the reader to the applier as a unit and recycled.
 *
 * The decoder's records borrow its arena, which the next message reuses; a
 * batch holds copies, so the reader can go on decoding while the applier
 * works. A batch has a fixed size: a record that does not fit ends it. A
 * single message larger than a whole batch gets a batch grown to its size,
 * which shrinks back when it is recycled, so memory stays bounded by the
 * ring's size plus the largest message, whatever the transaction's size.
 */
#ifndef MB_BATCH_H
#define MB_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decoder/lsn.h"
#include "decoder/w2j.h"

enum item_kind
{
    ITEM_RECORD = 0, /* a decoded wal2json message */
    ITEM_IDLE,       /* a keepalive outside any transaction: everything up to
                      * pos has been sent, so pos may be confirmed once every
                      * earlier item is applied */
};

/* One entry of a batch. */
struct item
{
    enum item_kind kind;
    lsn_t pos;             /* RECORD: WAL position of the message; IDLE: the
                            * server's end of WAL */
    uint32_t bytes;        /* RECORD: size of the message as received */
    struct w2j_record rec; /* RECORD: strings and columns point into the batch */
};

/* A batch of items. */
struct batch
{
    struct item *items; /* owned: cap_items entries */
    uint32_t nitems;    /* used entries */
    uint32_t cap_items; /* allocated entries */
    char *arena;        /* owned: copies of the records' strings and columns */
    size_t used;        /* bytes used in arena */
    size_t size;        /* bytes at arena */
    size_t base_size;   /* the size it shrinks back to when recycled */
};

/* Allocate a batch of ARENA_BYTES and CAP_ITEMS items. Returns false when out
 * of memory (B is then empty and safe to free). */
bool batch_init(struct batch *b, size_t arena_bytes, uint32_t cap_items);

void batch_free(struct batch *b);

/* Empty B for reuse, shrinking a grown arena back to its base size. */
void batch_reset(struct batch *b);

/*
 * Copy REC, received at POS as BYTES bytes, into B. Returns 1 when added, 0
 * when B has no room left (hand B on and add to a fresh one), and -1 when
 * out of memory (logged). An empty batch always takes the record, growing if
 * it must.
 */
int batch_add_record(struct batch *b, const struct w2j_record *rec, lsn_t pos, uint32_t bytes);

/* Add an IDLE item for POS. Returns 1, or 0 when B has no room left. */
int batch_add_idle(struct batch *b, lsn_t pos);

#endif
