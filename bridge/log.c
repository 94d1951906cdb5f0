/*
 * log.c - one-line messages on stderr.
 *
 * A line is formatted whole and written with one write(2), so that lines of
 * the reader and applier threads never interleave.
 */
#include "bridge/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static enum log_level min_level = LOG_INFO;

void
log_set_level(enum log_level level)
{
    min_level = level;
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
    static const char *const prefix[] = {"debug: ", "", "warning: ", "error: "};
    char line[2048];
    va_list ap;
    int n, m;

    if (level < min_level)
        return;
    n = snprintf(line, sizeof(line), "memori-bridge: %s", prefix[level]);
    va_start(ap, fmt);
    m = vsnprintf(line + n, sizeof(line) - (size_t) n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        m = 0;
    n += m;
    if ((size_t) n > sizeof(line) - 2)
        n = (int) sizeof(line) - 2; /* truncated: still one line */
    line[n++] = '\n';
    if (write(STDERR_FILENO, line, (size_t) n) < 0)
        return; /* nowhere left to report it */
}
