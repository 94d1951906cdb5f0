/*
 * atomicfile.h - replacing a small file whole, atomically, as its readers
 * (an application's env file, PgBouncer's included ini) expect it: they see
 * the old content or the new one, never a half-written file.
 *
 * The new file is written next to the old one (FILE.memori-bridge.XXXXXX),
 * flushed to disk, given the old one's mode, owner and group, and renamed
 * over it; then the folder is flushed, so that the rename survives a power
 * cut. A reader that runs as another user (PgBouncer as postgres, an app as
 * its own user) still reads it. A file made anew is 0600, since what the
 * bridge writes holds a password.
 */
#ifndef MB_ATOMICFILE_H
#define MB_ATOMICFILE_H

#include <stdbool.h>
#include <stddef.h>

/* Replace FILE with the LEN bytes of CONTENT, as above. WHAT names the file
 * for messages ("the env file", "PgBouncer's ini file"). Returns false after
 * logging one line with the reason and the fix; FILE is then unchanged. */
bool atomicfile_replace(const char *file, const char *what, const char *content, size_t len);

/* Read the whole of FILE into a string that the caller frees, or NULL after
 * logging why (WHAT names the file). A missing file is an error unless
 * MISSING_OK, when it reads as "". */
char *atomicfile_read(const char *file, const char *what, bool missing_ok);

#endif
