/*
 * run.h - "memori-bridge run": stream the slot and apply it, continuously.
 */
#ifndef MB_RUN_H
#define MB_RUN_H

#include <stdbool.h>

#include "bridge/base/conf.h"
#include "decoder/lsn.h"

/*
 * Stream the source's slot and apply every change of the configured schemas
 * to the target until stopped (SIGINT, SIGTERM), until --stop-at is reached,
 * or until a change is refused. Connection losses on either side are retried
 * with exponential backoff and jitter, resuming from the target's origin.
 * ARGV[0] is "run". Returns the exit status: 0 stopped or reached, 1 failed,
 * 2 usage.
 */
int cmd_run(int argc, char **argv, const struct conf *conf);

/*
 * Stream one direction (REVERSE: target to source) until STOP_AT is durably
 * applied or a switch marker is: the drain of a cutover or rollback when no
 * bridge is running. SIG_FD is the caller's signalfd (signals blocked). Returns
 * 0 when done, 1 on failure (logged), 2 when a signal stopped it.
 */
int run_drain(const struct conf *conf, bool reverse, lsn_t stop_at, int sig_fd);

#endif
