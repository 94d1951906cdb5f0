/*
 * secret.h - passwords never reach the output.
 *
 * Two layers. Connection strings are shown only through secret_mask_dsn,
 * which masks the password of a key=value string or a postgresql:// URI.
 * And every line the program writes goes through secret_scrub (log.c does it
 * for every line, whatever produced it: a libpq or server message that quotes
 * a connection string, say), which masks the password's VALUE, not every
 * string that happens to be equal to it.
 *
 * The rule of secret_scrub. Supabase's local password is "postgres", the
 * name of its user and of its database too: masking every "postgres" would
 * hide the names an operator needs (dbname=******** user=********) and tell
 * the reader which word is the password. So a line is masked in two ways:
 *
 * 1. Password contexts, always, whatever the value and whether or not it was
 *    registered: the value after "password=" (any case, so PGPASSWORD= too;
 *    spaces around '=' as libpq allows; a 'quoted value' with its escapes;
 *    in a URI query, "?password=" or "&password=", up to the next '&'), and
 *    the password of a URI's authority, between the first ':' after "://"
 *    and the '@' that ends the user info (before any '/' or quote; spaces
 *    included, as libpq's "unexpected spaces found in "..."" echoes them).
 *    This is where a password shows AS a password, so it never shows there.
 *
 * 2. Free text: each registered secret (secret_add, the passwords of the
 *    DSNs, PGPASSWORD) of at least 4 bytes is masked wherever it stands,
 *    except where it lies wholly inside an occurrence of a public word: the
 *    user names, database names and hosts of the DSNs (and PGUSER,
 *    PGDATABASE, PGHOST), the slot and the schemas, the program's own names
 *    ("memori-bridge", "memori_bridge") and the URI schemes "postgresql://"
 *    and "postgres://". Such an occurrence reads as that public name, which
 *    the output shows anyway; it says nothing about the password, whereas
 *    masking it would (a reader who sees "dbname=********" in a line that
 *    names the database elsewhere learns the password). An occurrence that
 *    sticks out of every public word, or stands alone, is masked: a random
 *    password that a server quotes in free text never shows.
 *
 * So with user, database and password all "postgres", "dbname=postgres
 * user=postgres" shows as it is and "password=postgres" as
 * "password=********"; a password that is part of the user name leaves the
 * user name whole; a password equal to the host leaves the host. The price:
 * a password equal to (or inside) a public name is not hidden where it
 * stands as that name, which is all the reader could learn from the name.
 *
 * A DSN that libpq cannot parse (it will echo it in its error) is read by its
 * syntax as far as it goes: the values of its password contexts, a URI's
 * password as libpq reads its user info (quotes and all), and the words after
 * an unquoted password up to the next keyword libpq knows ("password=two
 * words", which libpq reads as "two" and an unknown key "words" that it
 * quotes) are secrets, its user, host and database public words. libpq's
 * error goes through secret_mask_echo, which masks those pieces whatever
 * their length.
 * A dbname that is itself a connection string is not a public word: it is
 * registered as the DSN that libpq makes of it. No public word holds '=' or
 * "://": one that could hold a password context is never registered.
 *
 * Registration happens while the program starts, before any thread; after
 * that the lists are only read, so they need no lock.
 */
#ifndef MB_SECRET_H
#define MB_SECRET_H

#include <stdbool.h>
#include <stddef.h>

/* What a masked password reads as. */
#define SECRET_MASK "********"

/* Register S (copied) as a secret. Empty strings are ignored. */
void secret_add(const char *s);

/* Register WORD (copied) as a public word: a name the output may show even
 * where it holds a secret (see above). Empty strings are ignored. */
void secret_add_public(const char *word);

/* Register the password of connection string DSN, if it has one, as a secret,
 * and its user, dbname, host and hostaddr as public words. */
void secret_add_dsn(const char *dsn);

/* Forget every registered secret and public word (tests). */
void secret_clear(void);

/*
 * Copy DSN into BUF (LEN bytes) with its password replaced by SECRET_MASK:
 * "password=..." of a key=value string (quoted or not), and the password of a
 * URI, before '@' or as a "password" query parameter. Returns BUF; a DSN that
 * does not fit is cut short, never with the password showing.
 */
char *secret_mask_dsn(const char *dsn, char *buf, size_t len);

/*
 * Overwrite, in place, each byte of DSN that stands of its password with '*',
 * keeping the length and the rest (so that a process's command line keeps
 * its host, user and database): the password's value of a key=value string
 * (quoted or not, and the words after an unquoted one up to the next keyword
 * libpq knows: "password=two words" means both), and a URI's password,
 * before '@' or as a "password" query parameter.
 */
void secret_blank_dsn(char *dsn);

/*
 * MSG (buffer of CAP bytes) is libpq's reason for not parsing DSN: mask in
 * it what stands of DSN's passwords (as secret_blank_dsn reads them),
 * whatever their length, in every stretch of DSN that MSG quotes (libpq
 * quotes a key, a component or the whole URI after '"'; a stretch that could
 * as well be a name or a keyword is left alone), then secret_scrub it.
 * Returns the new length.
 */
size_t secret_mask_echo(const char *dsn, char *msg, size_t cap);

/*
 * Mask the password contexts and the registered secrets of the NUL-terminated
 * LINE (buffer of CAP bytes) by the rule above, in place. A line that would
 * grow past CAP is cut at the mask that makes it grow past, which is written
 * as far as it fits: what is left is a prefix of the fully masked line.
 * Returns the new length.
 */
size_t secret_scrub(char *line, size_t cap);

#endif
