/*
 * verify.h - "memori-bridge verify": are source and target equal, at one
 * point?
 */
#ifndef MB_VERIFY_H
#define MB_VERIFY_H

#include <stdbool.h>

#include "bridge/base/conf.h"

/*
 * Compare the source and the target at one point: the consistent point of a
 * temporary slot's exported snapshot on the source, and the target once every
 * transaction before that point is applied (a running bridge is asked to
 * pause there; without one, the slot must hold nothing the target lacks).
 * Per table: row counts and content hashes computed inside each database,
 * chunked by primary-key ranges (--show-keys narrows a difference to keys);
 * sequences; columns and types. ARGV[0] is "verify". Returns 0 equal, 3
 * different, 1 when it could not compare, 2 usage.
 */
int cmd_verify(int argc, char **argv, const struct conf *conf);

/* The comparison itself, report on stdout (JSON when JSON), keys of differing
 * chunks when SHOW_KEYS, WIDTH key values per chunk. Returns 0 equal, 3
 * different, 1 when it could not compare. */
int verify_compare(const struct conf *conf, bool json, bool show_keys, long long width);

#endif
