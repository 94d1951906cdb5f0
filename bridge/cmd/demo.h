/*
 * demo.h - "memori-bridge demo": the whole life cycle on two local clusters.
 *
 * Two throwaway clusters (cluster.h): one plays the Supabase source, with
 * the memori schema and sample data, the other the standalone target. A
 * PgBouncer (bouncer.h) stands in front of memori, and agents (agent.h) keep
 * writing through it throughout, as plain applications that never learn of
 * a switch: cutover and rollback switch the PgBouncer (--pgbouncer). The demo runs the real
 * commands of this program, as a user would, each a child process whose
 * output it shows: init, run (in the background, with lag lines), verify,
 * cutover (the pause), writes continuing on the target, rollback, verify.
 * Then it proves that every write the agents were told committed is on both
 * sides, prints a summary table, and tears everything down, also on Ctrl-C
 * or a failure. Exit 0 only when every verify is equal and nothing was lost.
 */
#ifndef MB_DEMO_H
#define MB_DEMO_H

#include "bridge/base/conf.h"

/* memori-bridge demo [--agents N] [--rows N] [--seconds N] [--pg-bin DIR]. */
int cmd_demo(int argc, char **argv, const struct conf *conf);

#endif
