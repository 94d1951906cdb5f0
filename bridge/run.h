/*
 * run.h - "memori-bridge run": stream the slot and apply it, continuously.
 */
#ifndef MB_RUN_H
#define MB_RUN_H

#include "bridge/conf.h"

/*
 * Stream the source's slot and apply every change of the configured schemas
 * to the target until stopped (SIGINT, SIGTERM), until --stop-at is reached,
 * or until a change is refused. Connection losses on either side are retried
 * with exponential backoff and jitter, resuming from the target's origin.
 * ARGV[0] is "run". Returns the exit status: 0 stopped or reached, 1 failed,
 * 2 usage.
 */
int cmd_run(int argc, char **argv, const struct conf *conf);

#endif
