/*
 * log.h - one-line messages on stderr, in PostgreSQL's message style:
 * lowercase, no final period, quoted names, the fix in a hint.
 *
 * Every line starts with "memori-bridge: " and the level (except info).
 * Callers log once, where the failure happens, and return false upward.
 */
#ifndef MB_LOG_H
#define MB_LOG_H

#include <stdbool.h>

enum log_level
{
    LOG_DEBUG = 0,
    LOG_INFO,
    LOG_WARNING,
    LOG_ERROR,
};

/* Messages below LEVEL are dropped (default LOG_INFO). */
void log_set_level(enum log_level level);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...)   log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)    log_msg(LOG_INFO, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_error(...)   log_msg(LOG_ERROR, __VA_ARGS__)

#endif
