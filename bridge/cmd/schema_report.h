/*
 * schema_report.h - what status and verify say about the schema: a stream
 * held by a schema change (memori_bridge.schema_stop, which a running bridge
 * keeps on the side it applies to), and the differences between both sides'
 * table definitions, each with its fix.
 */
#ifndef MB_SCHEMA_REPORT_H
#define MB_SCHEMA_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#include <libpq-fe.h>

#include "bridge/pg/tablediff.h"

#define SCHEMA_LINE 1200

/* The schema stops recorded on CONN (the side SIDE) for the directions named
 * SLOTS, one line each into LINES (at most MAX). Returns how many; 0 also
 * when the record is not there (an older bridge's objects). */
int schema_report_stops(PGconn *conn, const char *side, const char *const slots[2],
                        char (*lines)[SCHEMA_LINE], int max);

/* Read both sides' definitions (FROM is the side memori lives on) and their
 * differences into *DIFFS, with the sets they point into. Returns false
 * after logging why. */
bool schema_report_read(PGconn *from, const char *from_role, PGconn *to, const char *to_role,
                        const char *schemas, struct tabledefs *fromdefs, struct tabledefs *todefs,
                        struct td_diffs *diffs);

#endif
