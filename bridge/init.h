/*
 * init.h - "memori-bridge init": preflight, slot with an exported snapshot,
 * the target's schema from the source's catalog, the copy in that snapshot,
 * and the hand-over to run.
 */
#ifndef MB_INIT_H
#define MB_INIT_H

#include "bridge/conf.h"

/*
 * Check both sides (all problems listed, each with its fix), create the slot
 * with an exported snapshot, create the target's tables from the source's
 * definitions, copy every table inside that snapshot over --jobs connections,
 * build keys, indexes and foreign keys after the data, set the sequences, and
 * set the target's origin to the slot's consistent point, so that run
 * continues from exactly there. ARGV[0] is "init". Returns the exit status:
 * 0 done, 1 failed, 2 usage.
 */
int cmd_init(int argc, char **argv, const struct conf *conf);

#endif
