/*
 * status.h - "memori-bridge status": one look at both sides.
 */
#ifndef MB_STATUS_H
#define MB_STATUS_H

#include "bridge/base/conf.h"

/*
 * Report, for both sides: the bridge's slots (active, which PID, positions,
 * retained WAL, wal_status, safe_wal_size), the origins' progress, each
 * direction's lag in bytes and seconds, which side is fenced, which way memori
 * flows, sequence differences, and whether output_plugin_libraries still
 * allows wal2json. --json prints the same as one object. Each warning is a
 * line of its own. ARGV[0] is "status". Returns 0 healthy, 3 with warnings,
 * 1 when it cannot report, 2 usage.
 */
int cmd_status(int argc, char **argv, const struct conf *conf);

#endif
