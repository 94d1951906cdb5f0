/*
 * clock.h - the time every module reads: a monotonic clock for intervals and
 * timeouts, and the wall clock for what is compared with the servers' own
 * timestamps (commit times, lag in seconds).
 */
#ifndef MB_CLOCK_H
#define MB_CLOCK_H

#include <stdint.h>

/* Microseconds of CLOCK_MONOTONIC: for intervals, never for dates. */
int64_t clock_now_us(void);

/* Microseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t clock_wall_us(void);

#endif
