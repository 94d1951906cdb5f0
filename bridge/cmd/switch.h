/*
 * switch.h - "memori-bridge cutover" and "memori-bridge rollback": move the
 * writers from one side to the other with a short pause, losing nothing.
 */
#ifndef MB_SWITCH_H
#define MB_SWITCH_H

#include "bridge/base/conf.h"

/*
 * Cutover (writers from the source to the target) and rollback (back again),
 * the same steps either way, each printed with its duration:
 *  1. the stream's lag under --max-lag-bytes and --max-lag, or refuse (exit 3);
 *  2. the other direction's slot made on the side writers move to, so that
 *     their first write is already captured;
 *  3. the side they leave fenced (transactions in flight waited for);
 *  4. a marker written there after the fence, and the stream drained to it
 *     (by the running bridge, or here when none runs);
 *  5. the sequences set from the side they leave;
 *  6. row counts and sequences checked (--verify full: a full verify);
 *  7. the side they move to unfenced;
 *  8. the switch recorded (a running bridge turns around), the old slot
 *     retired, the new MEMORI_DATABASE_URL printed (password masked) and, with
 *     --env-file FILE, written into that file (a new file in its place,
 *     renamed over it, with the old file's mode, owner and group; a file
 *     made anew is 0600, as it holds a password).
 * A failure or a signal at any step puts everything back and says so.
 * Returns 0 done, 1 failed (and put back), 2 usage, 3 refused for lag.
 */
int cmd_cutover(int argc, char **argv, const struct conf *conf);
int cmd_rollback(int argc, char **argv, const struct conf *conf);

#endif
