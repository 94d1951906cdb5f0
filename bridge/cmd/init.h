/*
 * init.h - "memori-bridge init": preflight, slot with an exported snapshot,
 * the target's schema from the source's catalog, the copy in that snapshot,
 * and the hand-over to run.
 *
 * The copy's format (--copy-format, copy_format, default auto). COPY's binary
 * format skips the text output and input of most values (a tsvector's is
 * costly), but it is only promised to be read back by the same
 * major version, and the binary forms of arrays and records carry type OIDs,
 * which differ between clusters for types made in the database. So:
 *   auto    binary when both servers are of one major version, for the tables
 *           whose columns are all of built-in types (ddl.h DDL_BINARY_SAFE),
 *           the others in text; text when the majors differ (the decision
 *           record's Supabase 15 or 17 into postgres:17-alpine: text unless
 *           both are 17);
 *   text    text for every table;
 *   binary  binary for every table, or init refuses in its checks, before it
 *           changes anything: when the majors differ (the fix named is
 *           --copy-format text), or for each column whose type is not safe
 *           (the fix named is auto). Refusing is the safe reading of "force":
 *           PostgreSQL does not promise that another major version reads a
 *           binary COPY as it was written, and a misread may fail half way
 *           through the copy or, worse, not fail at all.
 * init logs the format it uses and why ("COPY format: ..."), and then how many
 * tables go in each format, naming those that auto sends in text.
 */
#ifndef MB_INIT_H
#define MB_INIT_H

#include "bridge/base/conf.h"

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
