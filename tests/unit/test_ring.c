/*
 * test_ring.c - batches (records copied out of the message they were
 * decoded in, or holding that message) and the ring that hands them from the
 * reader thread to the applier thread.
 *
 * The threaded tests wait the way ring.h says the bridge does: poll() the
 * ring's eventfd, then ring_clear(), then take again. Only the test's main
 * thread asserts; the other thread reports through a struct.
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge/streaming/batch.h"
#include "bridge/streaming/ring.h"

#define expect_str(got, want) cr_assert(eq(str, (char *) (got), (char *) (want)))
#define NELEM(a)              (sizeof(a) / sizeof((a)[0]))

/* A record whose every string lives in SRC (at least 256 bytes), so that the
 * test can overwrite them after the copy. VALUE is the content column's text. */
static struct w2j_record
record_in(char *src, struct w2j_column cols[2], struct w2j_column ident[1], const char *value)
{
    struct w2j_record r;
    size_t vlen = strlen(value);

    memset(&r, 0, sizeof(r));
    snprintf(src, 256, "memori%cmemories%cid%cinteger%c42%ccontent%ctext%c2026-11-25 04:15:52+00",
             0, 0, 0, 0, 0, 0, 0);
    cols[0] = (struct w2j_column){src + 16, 2, src + 19, 7, 23, {src + 27, 2, W2J_KIND_NUMBER}, 0};
    cols[1] = (struct w2j_column){src + 30, 7, src + 38, 4, 25, {value, vlen, W2J_KIND_STRING}, 0};
    ident[0] = (struct w2j_column){src + 16, 2, NULL, 0, 0, {NULL, 0, W2J_KIND_NULL}, 0};
    r.action = W2J_UPDATE;
    r.present = W2J_HAS_COLUMNS | W2J_HAS_IDENTITY | W2J_HAS_TIMESTAMP;
    r.schema = src;
    r.schema_len = 6;
    r.table = src + 7;
    r.table_len = 8;
    r.timestamp = src + 43;
    r.timestamp_len = strlen(src + 43);
    r.columns = cols;
    r.ncolumns = 2;
    r.identity = ident;
    r.nidentity = 1;
    return r;
}

Test(batch, copies_a_record_out_of_the_source_buffer)
{
    struct batch b;
    char src[256], value[64] = "a memory";
    struct w2j_column cols[2], ident[1];
    struct w2j_record r = record_in(src, cols, ident, value);
    const struct w2j_record *c;

    cr_assert(batch_init(&b, 4096, 16));
    cr_assert(eq(int, batch_add_record(&b, &r, 0x3000148, 321), 1));
    /* the decoder reuses its arena and column array */
    memset(src, 'X', sizeof(src));
    memset(value, 'Y', sizeof(value));
    memset(cols, 0, sizeof(cols));
    memset(ident, 0, sizeof(ident));

    cr_assert(eq(u32, b.nitems, 1));
    cr_assert(eq(int, b.items[0].kind, ITEM_RECORD));
    cr_assert(eq(u64, b.items[0].pos, 0x3000148));
    cr_assert(eq(u32, b.items[0].bytes, 321));
    c = &b.items[0].rec;
    cr_assert(eq(int, c->action, W2J_UPDATE));
    expect_str(c->schema, "memori");
    expect_str(c->table, "memories");
    expect_str(c->timestamp, "2026-11-25 04:15:52+00");
    cr_assert(eq(u32, c->ncolumns, 2));
    expect_str(c->columns[0].name, "id");
    expect_str(c->columns[0].type, "integer");
    cr_assert(eq(u32, c->columns[0].typeoid, 23));
    expect_str(c->columns[0].value.text, "42");
    cr_assert(eq(int, c->columns[0].value.kind, W2J_KIND_NUMBER));
    expect_str(c->columns[1].name, "content");
    expect_str(c->columns[1].value.text, "a memory");
    cr_assert(eq(sz, c->columns[1].value.len, 8));
    cr_assert(eq(u32, c->nidentity, 1));
    expect_str(c->identity[0].name, "id");
    cr_assert(zero(ptr, (void *) c->identity[0].type));
    cr_assert(zero(ptr, (void *) c->identity[0].value.text), "NULL became a value");
    cr_assert(zero(ptr, (void *) c->prefix));
    batch_free(&b);
}

Test(batch, says_full_when_the_arena_has_no_room)
{
    struct batch b;
    char src[256];
    struct w2j_column cols[2], ident[1];
    struct w2j_record r = record_in(src, cols, ident, "some content");
    int added = 0, rc;

    cr_assert(batch_init(&b, 1024, 64));
    while ((rc = batch_add_record(&b, &r, (lsn_t) added + 1, 100)) == 1)
        added++;
    cr_assert(eq(int, rc, 0));
    cr_assert(gt(int, added, 1));
    cr_assert(lt(int, added, 64), "the item array, not the arena, filled first");
    cr_assert(eq(u32, b.nitems, (uint32_t) added));
    cr_assert(le(sz, b.used, b.size));
    cr_assert(eq(sz, b.size, 1024), "a batch with records grew");
    /* what was added is intact */
    expect_str(b.items[added - 1].rec.columns[1].value.text, "some content");
    cr_assert(eq(u64, b.items[added - 1].pos, (lsn_t) added));
    batch_free(&b);
}

Test(batch, says_full_when_the_items_run_out)
{
    struct batch b;
    char src[256];
    struct w2j_column cols[2], ident[1];
    struct w2j_record r = record_in(src, cols, ident, "x");

    cr_assert(batch_init(&b, 1 << 20, 2));
    cr_assert(eq(int, batch_add_record(&b, &r, 1, 10), 1));
    cr_assert(eq(int, batch_add_idle(&b, 2), 1));
    cr_assert(eq(int, batch_add_record(&b, &r, 3, 10), 0));
    cr_assert(eq(int, batch_add_idle(&b, 3), 0));
    cr_assert(eq(int, b.items[1].kind, ITEM_IDLE));
    cr_assert(eq(u64, b.items[1].pos, 2));
    batch_free(&b);
}

Test(batch, empty_batch_grows_for_an_oversized_record_and_shrinks_on_reset)
{
    struct batch b;
    char src[256];
    struct w2j_column cols[2], ident[1];
    char *huge = malloc(10000);
    struct w2j_record big, small;

    cr_assert_not_null(huge);
    memset(huge, 'h', 9999);
    huge[9999] = '\0';
    big = record_in(src, cols, ident, huge);
    cr_assert(batch_init(&b, 512, 16));

    cr_assert(eq(int, batch_add_record(&b, &big, 1, 10100), 1));
    cr_assert(ge(sz, b.size, 10000));
    cr_assert(eq(sz, b.base_size, 512));
    memset(huge, 'z', 9999);
    cr_assert(eq(sz, strlen(b.items[0].rec.columns[1].value.text), 9999));
    cr_assert(eq(int, memcmp(b.items[0].rec.columns[1].value.text, "hhhh", 4), 0));
    /* it carries that record alone */
    small = record_in(src, cols, ident, "small");
    cr_assert(eq(int, batch_add_record(&b, &small, 2, 100), 0));

    batch_reset(&b);
    cr_assert(eq(sz, b.size, 512));
    cr_assert(eq(u32, b.nitems, 0));
    cr_assert(eq(sz, b.used, 0));
    cr_assert(eq(int, batch_add_record(&b, &small, 3, 100), 1));
    expect_str(b.items[0].rec.columns[1].value.text, "small");
    batch_free(&b);
    free(huge);
}

Test(batch, batch_with_records_refuses_an_oversized_one)
{
    struct batch b;
    char src[256], src2[256];
    struct w2j_column cols[2], ident[1], cols2[2], ident2[1];
    char huge[2000];
    struct w2j_record small, big;

    memset(huge, 'h', sizeof(huge) - 1);
    huge[sizeof(huge) - 1] = '\0';
    small = record_in(src, cols, ident, "small");
    big = record_in(src2, cols2, ident2, huge);
    cr_assert(batch_init(&b, 512, 16));
    cr_assert(eq(int, batch_add_record(&b, &small, 1, 100), 1));
    cr_assert(eq(int, batch_add_record(&b, &big, 2, 2100), 0));
    cr_assert(eq(sz, b.size, 512));
    cr_assert(eq(u32, b.nitems, 1));
    batch_free(&b);
}

/* What a held message's free function was given. */
static void *freed;
static int nfreed;

static void
count_free(void *p)
{
    freed = p;
    nfreed++;
    free(p);
}

Test(batch, holds_a_message_too_large_to_copy_and_frees_it_when_given_back)
{
    struct ring ring;
    struct batch *b;
    char *msg = malloc(256), other[256];
    struct w2j_column cols[2], ident[1], cols2[2], ident2[1];
    struct w2j_record r, small;
    const struct w2j_record *h;

    cr_assert_not_null(msg);
    r = record_in(msg, cols, ident, "held, not copied");
    small = record_in(other, cols2, ident2, "small");
    cr_assert(ring_init(&ring, 2, 4096));
    b = ring_take_free(&ring);
    cr_assert_not_null(b);
    cr_assert(gt(sz, batch_record_bytes(&r), 16));
    cr_assert(eq(int, batch_hold_record(b, &r, 0x3000148, 321, msg, count_free), 1));
    h = &b->items[0].rec;
    /* the strings stay in the message, the columns are the batch's own */
    cr_assert(eq(ptr, (void *) h->schema, msg));
    cr_assert(eq(ptr, (void *) h->columns[0].name, msg + 16));
    cr_assert(ne(ptr, (void *) h->columns, cols));
    memset(cols, 0, sizeof(cols));
    expect_str(h->columns[1].value.text, "held, not copied");
    expect_str(h->identity[0].name, "id");
    cr_assert(eq(u64, b->items[0].pos, 0x3000148));
    /* one held message per batch; copies may follow it */
    cr_assert(eq(int, batch_hold_record(b, &small, 2, 100, other, count_free), 0));
    cr_assert(eq(int, batch_add_record(b, &small, 3, 100), 1));
    ring_push(&ring, b);
    cr_assert(eq(ptr, ring_take_full(&ring), b));
    cr_assert(eq(int, nfreed, 0));
    ring_give_back(&ring, b);
    cr_assert(eq(int, nfreed, 1), "the message is freed when the batch is given back");
    cr_assert(eq(ptr, freed, msg));
    cr_assert(zero(ptr, b->held));
    cr_assert(eq(u32, b->nitems, 0));
    ring_destroy(&ring);
    cr_assert(eq(int, nfreed, 1));
}

/* ---- the ring ---- */

Test(ring, hands_out_each_batch_once_until_given_back)
{
    struct ring r;
    struct batch *taken[4];
    int i;

    cr_assert(ring_init(&r, 4, 4096));
    for (i = 0; i < 4; i++)
    {
        taken[i] = ring_take_free(&r);
        cr_assert_not_null(taken[i], "batch %d", i);
        cr_assert(eq(u32, taken[i]->nitems, 0));
    }
    cr_assert(zero(ptr, ring_take_free(&r)), "a fifth batch out of four");
    cr_assert(zero(ptr, ring_take_full(&r)));
    batch_add_idle(taken[2], 7);
    ring_push(&r, taken[2]);
    ring_push(&r, taken[0]);
    cr_assert(eq(uint, ring_fill(&r), 2));
    cr_assert(eq(ptr, ring_take_full(&r), taken[2]));
    cr_assert(eq(ptr, ring_take_full(&r), taken[0]));
    cr_assert(zero(ptr, ring_take_full(&r)));
    cr_assert(eq(uint, ring_fill(&r), 0));
    ring_give_back(&r, taken[2]);
    cr_assert(eq(ptr, ring_take_free(&r), taken[2]));
    cr_assert(eq(u32, taken[2]->nitems, 0), "a recycled batch is not emptied");
    ring_destroy(&r);
}

/* Poll FD until readable (no timeout: a lost wakeup hangs, and the test's
 * timeout fails it), then clear it. Returns false when poll fails. */
static bool
wait_fd(int fd)
{
    struct pollfd pfd = {fd, POLLIN, 0};

    if (poll(&pfd, 1, -1) < 0)
        return false;
    ring_clear(fd);
    return true;
}

#define NBATCHES   10000
#define END_OF_RUN UINT64_MAX

struct producer
{
    struct ring *ring;
    uint64_t items; /* records sent */
    int waits;      /* times it found no free batch */
    const char *error;
};

/* Fill NBATCHES batches with records numbered 0, 1, 2, ... (pos and the
 * content's text), the last one ending with an IDLE item at END_OF_RUN. */
static void *
produce(void *arg)
{
    struct producer *pr = arg;
    char src[256], text[32];
    struct w2j_column cols[2], ident[1];
    uint64_t seq = 0;
    int n;

    for (n = 0; n < NBATCHES; n++)
    {
        struct batch *b;
        int per_batch = 1 + n % 37; /* varying fill, up to full batches */

        while ((b = ring_take_free(pr->ring)) == NULL)
        {
            pr->waits++;
            if (!wait_fd(pr->ring->free_fd))
            {
                pr->error = "poll on free_fd failed";
                return NULL;
            }
        }
        while (per_batch-- > 0)
        {
            struct w2j_record r;

            snprintf(text, sizeof(text), "%llu", (unsigned long long) seq);
            r = record_in(src, cols, ident, text);
            if (batch_add_record(b, &r, seq, 100) != 1)
                break; /* full: the rest goes to the next batch */
            seq++;
        }
        if (n == NBATCHES - 1 && batch_add_idle(b, END_OF_RUN) != 1)
        {
            pr->error = "no room for the end marker";
            return NULL;
        }
        ring_push(pr->ring, b);
    }
    pr->items = seq;
    return NULL;
}

Test(ring, delivers_every_item_once_in_order_between_threads, .timeout = 120)
{
    struct ring r;
    struct producer pr = {&r, 0, 0, NULL};
    pthread_t thread;
    uint64_t expected = 0;
    int batches = 0, waits = 0;
    bool done = false;

    cr_assert(ring_init(&r, 4, 4096));
    cr_assert(eq(int, pthread_create(&thread, NULL, produce, &pr), 0));
    while (!done)
    {
        struct batch *b = ring_take_full(&r);
        uint32_t i;

        if (b == NULL)
        {
            waits++;
            cr_assert(wait_fd(r.full_fd), "poll on full_fd failed");
            continue;
        }
        cr_assert(le(uint, ring_fill(&r), 4));
        batches++;
        for (i = 0; i < b->nitems; i++)
        {
            const struct item *it = &b->items[i];
            char text[32];

            if (it->kind == ITEM_IDLE)
            {
                cr_assert(eq(u64, it->pos, END_OF_RUN));
                cr_assert(eq(u32, i, b->nitems - 1), "items after the end marker");
                done = true;
                break;
            }
            cr_assert(eq(u64, it->pos, expected), "batch %d item %u", batches, i);
            snprintf(text, sizeof(text), "%llu", (unsigned long long) expected);
            expect_str(it->rec.columns[1].value.text, text);
            expected++;
        }
        ring_give_back(&r, b);
    }
    cr_assert(eq(int, pthread_join(thread, NULL), 0));
    cr_assert(zero(ptr, (void *) pr.error), "producer: %s", pr.error);
    cr_assert(eq(int, batches, NBATCHES));
    cr_assert(eq(u64, expected, pr.items));
    cr_assert(zero(ptr, ring_take_full(&r)), "a batch after the end");
    cr_log_info("%llu items; the consumer waited %d times, the producer %d times",
                (unsigned long long) expected, waits, pr.waits);
    ring_destroy(&r);
}

static int64_t
clock_us(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

struct waiter
{
    struct ring *ring;
    int64_t cpu_us;  /* thread CPU time spent waiting */
    int64_t wall_us; /* wall time spent waiting */
    int wakeups;     /* polls that returned */
    struct batch *got;
    const char *error;
};

static void *
wait_for_a_batch(void *arg)
{
    struct waiter *w = arg;
    int64_t cpu0 = clock_us(CLOCK_THREAD_CPUTIME_ID), wall0 = clock_us(CLOCK_MONOTONIC);

    while ((w->got = ring_take_full(w->ring)) == NULL)
    {
        if (!wait_fd(w->ring->full_fd))
        {
            w->error = "poll on full_fd failed";
            return NULL;
        }
        w->wakeups++;
    }
    w->cpu_us = clock_us(CLOCK_THREAD_CPUTIME_ID) - cpu0;
    w->wall_us = clock_us(CLOCK_MONOTONIC) - wall0;
    return NULL;
}

/* Pins "neither side spins": a consumer blocked on an empty ring sleeps in
 * poll(). This is CPU time, not a speed figure: a spinning consumer would
 * burn about the whole 300 ms. */
Test(ring, consumer_waiting_on_an_empty_ring_uses_no_cpu, .timeout = 60)
{
    struct ring r;
    struct waiter w = {&r, 0, 0, 0, NULL, NULL};
    struct timespec pause = {0, 300 * 1000 * 1000};
    pthread_t thread;
    struct batch *b;

    cr_assert(ring_init(&r, 4, 4096));
    cr_assert(eq(int, pthread_create(&thread, NULL, wait_for_a_batch, &w), 0));
    nanosleep(&pause, NULL);
    b = ring_take_free(&r);
    cr_assert_not_null(b);
    ring_push(&r, b);
    cr_assert(eq(int, pthread_join(thread, NULL), 0));

    cr_assert(zero(ptr, (void *) w.error), "%s", w.error);
    cr_assert(eq(ptr, w.got, b));
    cr_assert(ge(i64, w.wall_us, 250000), "the consumer did not wait for the batch");
    cr_assert(lt(i64, w.cpu_us, 50000), "the blocked consumer used %lld us of CPU",
              (long long) w.cpu_us);
    cr_assert(le(int, w.wakeups, 2), "woken %d times by one push", w.wakeups);
    ring_destroy(&r);
}
