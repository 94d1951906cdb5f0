/*
 * failpoint.h - crash on purpose, for the tests of what an interruption
 * leaves behind.
 *
 * MEMORI_BRIDGE_FAILPOINT=NAME makes failpoint("NAME") kill the process with
 * SIGKILL at that point, as a power cut or kill -9 would: nothing is cleaned
 * up; and failpoint_fail("NAME") report a failure there, which the caller
 * handles as any other (cutover puts everything back). Unset (always, outside
 * tests) it costs one getenv per call.
 */
#ifndef MB_FAILPOINT_H
#define MB_FAILPOINT_H

#include <stdbool.h>

/* Die here when MEMORI_BRIDGE_FAILPOINT names NAME. */
void failpoint(const char *name);

/* Fail here (return true, after logging it) when MEMORI_BRIDGE_FAILPOINT
 * names NAME: the caller then handles it like any failure of that step. */
bool failpoint_fail(const char *name);

#endif
