/*
 * batch.h - decoded messages, copied into one block of memory, handed from
 * the reader to the applier as a unit and recycled.
 *
 * The reader decodes each message in place, in the buffer libpq handed over,
 * which the next message replaces; a batch holds copies of the records, so
 * the reader can go on decoding while the applier works. A batch has a fixed
 * size: a record that does not fit ends it. A message too large to copy into
 * a batch is not copied: a batch of its own takes the message's buffer
 * (batch_hold_record) and frees it when the applier gives the batch back. So
 * memory stays bounded by the ring's size plus the largest message, whatever
 * the transaction's size, and a large value is in memory once on this side
 * of the ring, not twice.
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
    struct w2j_record rec; /* RECORD: strings and columns point into the batch, or
                            * its strings into the message it holds */
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
    void *held;         /* owned: the message the one record borrows its strings
                         * from (batch_hold_record), or NULL */
    void (*held_free)(void *); /* how HELD is freed */
};

/* Allocate a batch of ARENA_BYTES and CAP_ITEMS items. Returns false when out
 * of memory (B is then empty and safe to free). */
bool batch_init(struct batch *b, size_t arena_bytes, uint32_t cap_items);

void batch_free(struct batch *b);

/* Empty B for reuse: free the message it holds, and shrink a grown arena
 * back to its base size. */
void batch_reset(struct batch *b);

/* Bytes of arena a copy of REC takes (batch_add_record). */
size_t batch_record_bytes(const struct w2j_record *rec);

/*
 * Copy REC, received at POS as BYTES bytes, into B. Returns 1 when added, 0
 * when B has no room left (hand B on and add to a fresh one), and -1 when
 * out of memory (logged). An empty batch always takes the record, growing if
 * it must.
 */
int batch_add_record(struct batch *b, const struct w2j_record *rec, lsn_t pos, uint32_t bytes);

/*
 * Add REC, received at POS as BYTES bytes and decoded in place from MSG, to
 * the empty batch B without copying its strings: only its column array is
 * copied (growing the arena if it must), and B takes MSG, which it frees with
 * FREE_FN when it is reset or freed. Returns 1 when added, 0 when B is not
 * empty, and -1 when out of memory (logged); MSG stays the caller's then.
 */
int batch_hold_record(struct batch *b, const struct w2j_record *rec, lsn_t pos, uint32_t bytes,
                      void *msg, void (*free_fn)(void *));

/* Add an IDLE item for POS. Returns 1, or 0 when B has no room left. */
int batch_add_idle(struct batch *b, lsn_t pos);

#endif
