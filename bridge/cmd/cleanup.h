/*
 * cleanup.h - the "cleanup" command: list, and with --yes drop, what the
 * bridge created on both sides.
 *
 * What the bridge creates: the slots <slot> and <slot>_reverse, the
 * replication origins of the same names, the fence trigger
 * memori_bridge_fence on the streamed tables, and its own schema
 * memori_bridge (sql/memori_bridge.sql). Without --yes nothing changes: the
 * list is the answer, exit 0, also while a bridge streams (the list says so,
 * and that --yes would refuse). With --yes each object is dropped, fences
 * first, then slots (which free the WAL they retain), origins and the schema;
 * anything already gone is skipped, so a second run, or a run after one that
 * stopped half way, finishes the job. A slot a bridge still streams stops
 * --yes (exit 1) before anything is dropped. When another slot's bridge
 * shares the memori_bridge schema, only this slot's rows go.
 */
#ifndef MB_CLEANUP_H
#define MB_CLEANUP_H

#include "bridge/base/conf.h"

/* memori-bridge cleanup [--yes] [--keep-fences] [--side source|target]. */
int cmd_cleanup(int argc, char **argv, const struct conf *conf);

#endif
