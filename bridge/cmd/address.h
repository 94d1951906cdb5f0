/*
 * address.h - where memori lives, as the fences and the application are told.
 */
#ifndef MB_ADDRESS_H
#define MB_ADDRESS_H

#include <stdbool.h>
#include <stddef.h>

/* "host=H port=P dbname=D" of connection string DSN into BUF (never the user
 * or the password: the fence's message shows it to every writer). Returns
 * BUF. */
char *address_describe(const char *dsn, char *buf, size_t len);

/* postgresql://user:password@host:port/dbname of DSN, with the password
 * masked in DISPLAY and real in FULL (for the env file); KEEP (may be NULL)
 * is the query string of the URL being replaced, kept. */
void address_url(const char *dsn, const char *keep, char *display, size_t dlen, char *full,
                 size_t flen);

/* Replace the MEMORI_DATABASE_URL line of FILE (or add it), atomically, with
 * DSN's URL; the URL as shown (password masked) into DISPLAY. The file keeps
 * its mode, owner and group. Returns false after logging why. */
bool address_write_env_file(const char *file, const char *dsn, char *display, size_t dlen);

#endif
