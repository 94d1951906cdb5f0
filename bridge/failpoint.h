/*
 * failpoint.h - crash on purpose, for the tests of what an interruption
 * leaves behind.
 *
 * MEMORI_BRIDGE_FAILPOINT=NAME makes failpoint("NAME") kill the process with
 * SIGKILL at that point, as a power cut or kill -9 would: nothing is cleaned
 * up. Unset (always, outside tests) it costs one getenv per call.
 */
#ifndef MB_FAILPOINT_H
#define MB_FAILPOINT_H

/* Die here when MEMORI_BRIDGE_FAILPOINT names NAME. */
void failpoint(const char *name);

#endif
