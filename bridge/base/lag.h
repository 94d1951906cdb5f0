/*
 * lag.h - how far behind the target is, as users watch it during a migration.
 *
 * A lag line every lag_interval: the applied LSN and the source's current
 * LSN, the lag in bytes, the lag in seconds (now minus the source commit time
 * of the last applied transaction, or 0 when caught up), changes and
 * transactions per second since the previous line, and the ring's fill.
 */
#ifndef MB_LAG_H
#define MB_LAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decoder/lsn.h"

/* One lag line's figures. */
struct lag_sample
{
    lsn_t applied;          /* origin progress committed on the target */
    lsn_t durable;          /* origin progress durable on the target (confirmed to the slot) */
    lsn_t source;           /* the source's current WAL position, 0 when unknown */
    int64_t lag_bytes;      /* source - applied, at least 0; -1 when the source is unknown */
    double lag_seconds;     /* 0 when caught up; negative when unknown */
    double changes_per_s;   /* since the previous line */
    double xacts_per_s;     /* since the previous line */
    unsigned ring_fill;     /* batches waiting for the applier */
    unsigned ring_size;     /* batches in circulation */
    bool caught_up;         /* everything the server had is applied */
    const char *link_down;  /* the side ("source", "target") whose link is down, or NULL */
};

/* Parse PostgreSQL's ISO timestamptz output ("2026-11-25 04:15:52.520718+00",
 * offsets "+05:30" and "-08" too) into microseconds since the Unix epoch.
 * Returns false when S is not one. */
bool lag_parse_timestamp(const char *s, int64_t *unix_us);

/* The text form of S into BUF: "lag applied=0/3000148 source=0/3000180 ...",
 * ending in " caught-up" or " source-link-down" when so. */
char *lag_format_text(const struct lag_sample *s, char *buf, size_t len);

/* The JSON members of S into BUF: "\"applied_lsn\":\"0/3000148\",...", with
 * "link_down":"source" before the last one, caught_up, when a link is down. */
char *lag_format_json(const struct lag_sample *s, char *buf, size_t len);

#endif
