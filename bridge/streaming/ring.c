/*
 * ring.c - two ck_ring SPSC queues of batch pointers, with eventfd wakeups.
 */
#include "bridge/streaming/ring.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "bridge/base/log.h"

/* Items per batch: enough that the arena, not the item array, fills first
 * with the smallest messages (a commit is about 100 bytes). */
#define ITEMS_PER_KB 12

static void
signal_fd(int fd)
{
    uint64_t one = 1;

    /* an eventfd write fails only on counter overflow, when it is readable anyway */
    if (write(fd, &one, sizeof(one)) < 0)
        return;
}

void
ring_clear(int fd)
{
    uint64_t v;

    if (read(fd, &v, sizeof(v)) < 0)
        return; /* EAGAIN: already cleared */
}

bool
ring_init(struct ring *r, uint32_t nbatches, size_t batch_bytes)
{
    uint32_t i, items = (uint32_t) (batch_bytes / 1024 * ITEMS_PER_KB);

    memset(r, 0, sizeof(*r));
    r->full_fd = r->free_fd = -1;
    r->slots = 2;
    while (r->slots <= nbatches)
        r->slots *= 2;
    r->full_slots = calloc(r->slots, sizeof(ck_ring_buffer_t));
    r->free_slots = calloc(r->slots, sizeof(ck_ring_buffer_t));
    r->batches = calloc(nbatches, sizeof(struct batch));
    if (r->full_slots == NULL || r->free_slots == NULL || r->batches == NULL)
        goto oom;
    r->nbatches = nbatches;
    for (i = 0; i < nbatches; i++)
        if (!batch_init(&r->batches[i], batch_bytes, items < 64 ? 64 : items))
            goto oom;
    r->full_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    r->free_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (r->full_fd < 0 || r->free_fd < 0)
    {
        log_error("could not create an eventfd: %s", strerror(errno));
        ring_destroy(r);
        return false;
    }
    ring_reset(r);
    return true;
oom:
    log_error("out of memory for %u batches of %zu bytes", nbatches, batch_bytes);
    ring_destroy(r);
    return false;
}

void
ring_destroy(struct ring *r)
{
    uint32_t i;

    for (i = 0; r->batches != NULL && i < r->nbatches; i++)
        batch_free(&r->batches[i]);
    free(r->batches);
    free(r->full_slots);
    free(r->free_slots);
    if (r->full_fd >= 0)
        close(r->full_fd);
    if (r->free_fd >= 0)
        close(r->free_fd);
    memset(r, 0, sizeof(*r));
    r->full_fd = r->free_fd = -1;
}

void
ring_reset(struct ring *r)
{
    uint32_t i;

    ck_ring_init(&r->full, r->slots);
    ck_ring_init(&r->free, r->slots);
    ring_clear(r->full_fd);
    ring_clear(r->free_fd);
    for (i = 0; i < r->nbatches; i++)
    {
        batch_reset(&r->batches[i]);
        ck_ring_enqueue_spsc(&r->free, r->free_slots, &r->batches[i]);
    }
}

struct batch *
ring_take_free(struct ring *r)
{
    struct batch *b;

    if (!ck_ring_dequeue_spsc(&r->free, r->free_slots, &b))
        return NULL;
    return b; /* emptied by ring_reset or ring_give_back */
}

void
ring_push(struct ring *r, struct batch *b)
{
    /* cannot fail: only nbatches < slots batches exist */
    ck_ring_enqueue_spsc(&r->full, r->full_slots, b);
    signal_fd(r->full_fd);
}

struct batch *
ring_take_full(struct ring *r)
{
    struct batch *b;

    if (!ck_ring_dequeue_spsc(&r->full, r->full_slots, &b))
        return NULL;
    return b;
}

void
ring_give_back(struct ring *r, struct batch *b)
{
    batch_reset(b); /* a held message goes now, not when the batch comes round again */
    ck_ring_enqueue_spsc(&r->free, r->free_slots, b);
    signal_fd(r->free_fd);
}

unsigned
ring_fill(const struct ring *r)
{
    return ck_ring_size(&r->full);
}
