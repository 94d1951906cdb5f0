/*
 * log.h - one-line messages on stderr, in PostgreSQL's message style:
 * lowercase, no final period, quoted names, the fix in a hint.
 *
 * Every text line starts with "memori-bridge: " and the level (except info),
 * after a timestamp when timestamps are on (the long-running commands turn
 * them on). In JSON format every line is one object: {"time", "level",
 * "message"}, or an event's own fields (log_event). Each registered secret
 * (secret.h) is masked in every line, whatever produced it.
 *
 * Callers log once, where the failure happens, and return false upward.
 * Lines are written whole with one write(2), so threads never interleave.
 */
#ifndef MB_LOG_H
#define MB_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum log_level
{
    LOG_DEBUG = 0,
    LOG_INFO,
    LOG_WARNING,
    LOG_ERROR,
    LOG_OFF, /* for log_set_level only: nothing more is printed */
};

/* Messages below LEVEL are dropped (default LOG_INFO). Any thread may call it:
 * a command that has said its last word sets LOG_OFF. */
void log_set_level(enum log_level level);

/* JSON lines instead of text (default off). */
void log_set_json(bool json);

/* Prefix text lines with the local time (default off). */
void log_set_timestamps(bool on);

bool log_is_json(void);

/* Messages of LEVEL logged so far by this process (for the metrics). */
uint64_t log_count(enum log_level level);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * An event line at info level: TEXT (a printf format for the text form) when
 * the format is text, or the JSON object {"time":..., "event": EVENT, FIELDS}
 * when it is JSON, where FIELDS is the already formatted JSON members
 * ("\"a\":1,\"b\":\"x\""). Either may be NULL to print nothing in that form.
 */
void log_event(const char *event, const char *fields, const char *text);

#define log_debug(...)   log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)    log_msg(LOG_INFO, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_error(...)   log_msg(LOG_ERROR, __VA_ARGS__)

/* Append S as a JSON string (quoted, escaped) to BUF of CAP bytes holding LEN;
 * returns the new length (cut short, never overrun, when it does not fit). */
int log_json_string(char *buf, int len, int cap, const char *s);

#endif
