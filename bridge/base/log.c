/*
 * log.c - one-line messages on stderr, text or JSON, secrets masked.
 *
 * A line is formatted whole and written with one write(2), so that lines of
 * the reader and applier threads never interleave. The settings are set once
 * at start, before any thread.
 */
#include "bridge/base/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "bridge/base/secret.h"

#define LINE_MAX_BYTES 4096

static _Atomic int min_level = LOG_INFO; /* set from any thread (LOG_OFF) */
static bool json_lines;
static bool timestamps;

static const char *const level_names[] = {"debug", "info", "warning", "error"};
static _Atomic uint64_t counts[LOG_ERROR + 1]; /* messages per level, printed or not */

uint64_t
log_count(enum log_level level)
{
    return atomic_load(&counts[level]);
}

void
log_set_level(enum log_level level)
{
    min_level = level;
}

void
log_set_json(bool json)
{
    json_lines = json;
}

void
log_set_timestamps(bool on)
{
    timestamps = on;
}

bool
log_is_json(void)
{
    return json_lines;
}

/* "2026-11-26 10:53:42.123" (local time), or ISO 8601 UTC for JSON. */
static int
format_time(char *buf, size_t cap, bool iso_utc)
{
    struct timeval tv;
    struct tm tm;
    size_t n;

    gettimeofday(&tv, NULL);
    if (iso_utc)
        gmtime_r(&tv.tv_sec, &tm);
    else
        localtime_r(&tv.tv_sec, &tm);
    n = strftime(buf, cap, iso_utc ? "%Y-%m-%dT%H:%M:%S" : "%Y-%m-%d %H:%M:%S", &tm);
    return (int) n + snprintf(buf + n, cap - n, iso_utc ? ".%03dZ" : ".%03d",
                              (int) (tv.tv_usec / 1000));
}

int
log_json_string(char *buf, int len, int cap, const char *s)
{
    static const char hex[] = "0123456789abcdef";

    if (len >= cap - 1)
        return len;
    buf[len++] = '"';
    for (; *s != '\0' && len < cap - 8; s++)
    {
        unsigned char c = (unsigned char) *s;

        if (c == '"' || c == '\\')
        {
            buf[len++] = '\\';
            buf[len++] = (char) c;
        }
        else if (c == '\n')
        {
            buf[len++] = '\\';
            buf[len++] = 'n';
        }
        else if (c < 0x20)
        {
            len += snprintf(buf + len, (size_t) (cap - len), "\\u00%c%c", hex[c >> 4],
                            hex[c & 15]);
        }
        else
            buf[len++] = (char) c;
    }
    buf[len++] = '"';
    buf[len] = '\0';
    return len;
}

/* Copy S into BUF (CAP bytes, NUL-terminated, cut when it does not fit);
 * returns the bytes copied. */
static int
append(char *buf, size_t cap, const char *s)
{
    size_t n = strlen(s);

    if (cap == 0)
        return 0;
    if (n > cap - 1)
        n = cap - 1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return (int) n;
}

static void
emit(char *line, size_t cap)
{
    size_t n = secret_scrub(line, cap - 1);

    if (n > cap - 2)
        n = cap - 2;
    line[n++] = '\n';
    if (write(STDERR_FILENO, line, n) < 0)
        return; /* nowhere left to report it */
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
    char line[LINE_MAX_BYTES], msg[LINE_MAX_BYTES];
    va_list ap;
    int n = 0;

    atomic_fetch_add(&counts[level], 1);
    if ((int) level < atomic_load(&min_level))
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* a message is one line: a server's multi-line text is folded */
    for (char *p = msg; *p != '\0'; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    /* masked before JSON escapes a quoted password's quotes and backslashes
     * out of the shape secret_scrub knows (the whole line is masked again) */
    secret_scrub(msg, sizeof(msg));
    if (json_lines)
    {
        n = snprintf(line, sizeof(line), "{\"time\":\"");
        n += format_time(line + n, sizeof(line) - (size_t) n, true);
        n += snprintf(line + n, sizeof(line) - (size_t) n, "\",\"level\":\"%s\",\"message\":",
                      level_names[level]);
        n = log_json_string(line, n, (int) sizeof(line) - 2, msg);
        line[n++] = '}';
        line[n] = '\0';
    }
    else
    {
        if (timestamps)
        {
            n = format_time(line, sizeof(line), false);
            line[n++] = ' ';
        }
        n += append(line + n, sizeof(line) - (size_t) n, "memori-bridge: ");
        if (level != LOG_INFO)
        {
            n += append(line + n, sizeof(line) - (size_t) n, level_names[level]);
            n += append(line + n, sizeof(line) - (size_t) n, ": ");
        }
        append(line + n, sizeof(line) - (size_t) n, msg);
    }
    emit(line, sizeof(line));
}

void
log_event(const char *event, const char *fields, const char *text)
{
    char line[LINE_MAX_BYTES];
    int n = 0;

    if (min_level > LOG_INFO)
        return;
    if (json_lines)
    {
        if (fields == NULL)
            return;
        n = snprintf(line, sizeof(line), "{\"time\":\"");
        n += format_time(line + n, sizeof(line) - (size_t) n, true);
        snprintf(line + n, sizeof(line) - (size_t) n, "\",\"level\":\"info\",\"event\":\"%s\"%s%s}",
                 event, fields[0] ? "," : "", fields);
    }
    else
    {
        if (text == NULL)
            return;
        if (timestamps)
        {
            n = format_time(line, sizeof(line), false);
            line[n++] = ' ';
        }
        n += append(line + n, sizeof(line) - (size_t) n, "memori-bridge: ");
        append(line + n, sizeof(line) - (size_t) n, text);
    }
    emit(line, sizeof(line));
}
