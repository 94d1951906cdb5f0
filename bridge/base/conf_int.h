/*
 * conf_int.h - what the files of the conf module share (conf.c: the settings
 * table, defaults, environment and flags; conf_file.c: the configuration
 * file). Nothing else includes it.
 */
#ifndef MB_CONF_INT_H
#define MB_CONF_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "bridge/base/conf.h"

/* Set the setting of file key KEY to VALUE. Returns false with a one-line
 * reason in WHY (LEN bytes) for an unknown key or a bad value; the reason
 * shows a key or value only as conf_shown does. */
bool conf_set_key(struct conf *conf, const char *key, const char *value, char *why, size_t len);

/* S in quotes when it may be echoed (printable ASCII, at most 40 bytes),
 * else NOUN: a line never shows raw bytes, nor a long paste. Returns BUF. */
const char *conf_shown(const char *s, const char *noun, char *buf, size_t len);

/* Is [S, S + LEN) text: valid UTF-8 without control characters (a tab
 * aside)? A line or value that is not is never echoed, and never taken. */
bool conf_is_text(const char *s, size_t len);

/* Read the configuration file at PATH into CONF (its path into
 * conf->config_file). Returns false after logging one line that names the
 * path (and the line, by its number). */
bool conf_load_file(struct conf *conf, const char *path);

/* TEXT as comment lines ("# ...") of at most 78 columns, broken at spaces
 * (a word longer than a line stands alone on its line): the configuration
 * example's lines stay far below what a file line may hold. */
void conf_print_comment(FILE *out, const char *text);

#endif
