/*
 * test_secret.c - passwords never reach the output: connection strings
 * masked by their syntax, password contexts masked in any line, registered
 * secrets masked in free text but where they read as a public name.
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/base/secret.h"

#define expect_str(got, want) cr_assert(eq(str, (char *) (got), (char *) (want)))

TestSuite(secret, .init = secret_clear, .fini = secret_clear);

/* Mask DSN and check the result is WANT and does not hold PASSWORD. */
static void
expect_masked(const char *dsn, const char *want, const char *password)
{
    char buf[512];

    secret_mask_dsn(dsn, buf, sizeof(buf));
    expect_str(buf, want);
    if (password != NULL)
        cr_assert(zero(ptr, strstr(buf, password)), "password \"%s\" shows in [%s]", password, buf);
}

Test(secret, masks_the_password_of_a_uri)
{
    expect_masked("postgresql://user:s3cr3t@host:5432/db",
                  "postgresql://user:********@host:5432/db", "s3cr3t");
}

Test(secret, masks_the_password_in_a_uri_query)
{
    expect_masked("postgres://user:s3cr3t@host/db?sslmode=require&password=xyzzy",
                  "postgres://user:********@host/db?sslmode=require&password=********", "s3cr3t");
    expect_masked("postgres://user@host/db?password=xyzzy&sslmode=require",
                  "postgres://user@host/db?password=********&sslmode=require", "xyzzy");
}

Test(secret, leaves_a_uri_without_password_unchanged)
{
    expect_masked("postgresql://host:5432/db?sslmode=require",
                  "postgresql://host:5432/db?sslmode=require", NULL);
    expect_masked("postgresql://", "postgresql://", NULL);
}

Test(secret, leaves_a_uri_user_without_password_unchanged)
{
    expect_masked("postgresql://user@host/db", "postgresql://user@host/db", NULL);
}

/* libpq ends the user info at the first '@' before any '/': a '?' or ':' in
 * an unencoded password is part of it, and so must be masked. */
Test(secret, masks_a_uri_password_holding_question_mark_or_colon)
{
    expect_masked("postgresql://user:pa?ss@host/db", "postgresql://user:********@host/db", "pa?ss");
    expect_masked("postgresql://user:a:b:c@host/db", "postgresql://user:********@host/db", "a:b:c");
}

Test(secret, masks_a_plain_keyvalue_password)
{
    expect_masked("host=h password=s3cr3t user=u", "host=h password=******** user=u", "s3cr3t");
}

Test(secret, masks_a_quoted_password_with_spaces_around_the_equals)
{
    expect_masked("host=h password = 'p w s3cr3t' user=u", "host=h password = ******** user=u",
                  "s3cr3t");
}

Test(secret, masks_a_quoted_password_with_an_escaped_quote)
{
    expect_masked("password='it\\'s s3cr3t' dbname=d", "password=******** dbname=d", "s3cr3t");
}

Test(secret, masks_a_password_with_an_escaped_space)
{
    expect_masked("password=pw\\ s3cr3t host=h", "password=******** host=h", "s3cr3t");
}

Test(secret, masks_the_password_first_last_or_in_the_middle)
{
    expect_masked("password=s3cr3t host=h", "password=******** host=h", "s3cr3t");
    expect_masked("host=h password=s3cr3t", "host=h password=********", "s3cr3t");
    expect_masked("host=h password=s3cr3t port=5432 user=u",
                  "host=h password=******** port=5432 user=u", "s3cr3t");
}

Test(secret, leaves_a_keyvalue_string_without_password_unchanged)
{
    expect_masked("host=h port=5432 user=u dbname='my db'",
                  "host=h port=5432 user=u dbname='my db'", NULL);
    expect_masked("", "", NULL);
}

/* Every buffer length gives a prefix of the full masked string, so the
 * password can never show through a cut. */
static void
expect_cut_safely(const char *dsn)
{
    char full[256];
    size_t n, len;

    secret_mask_dsn(dsn, full, sizeof(full));
    len = strlen(full);
    for (n = 1; n <= len + 1; n++)
    {
        char *buf = malloc(n); /* exactly N bytes: an overrun is caught by ASan */

        cr_assert_not_null(buf);
        secret_mask_dsn(dsn, buf, n);
        cr_assert(eq(sz, strlen(buf), n - 1), "length %zu: [%s]", n, buf);
        cr_assert(eq(int, strncmp(buf, full, n - 1), 0), "length %zu: [%s] is not a prefix of [%s]",
                  n, buf, full);
        free(buf);
    }
}

Test(secret, cuts_a_dsn_that_does_not_fit_without_showing_the_password)
{
    expect_cut_safely("host=h password=s3cr3t user=u");
    expect_cut_safely("postgresql://user:s3cr3t@host/db?password=s3cr3t");
}

/* Scrub LINE (copied into a buffer of CAP bytes) and return it, owned. */
static char *
scrub(const char *line, size_t cap, size_t *len)
{
    char *buf = malloc(cap);

    cr_assert_not_null(buf);
    snprintf(buf, cap, "%s", line);
    *len = secret_scrub(buf, cap);
    return buf;
}

Test(secret, scrubs_every_occurrence)
{
    size_t len;
    char *out;

    secret_add("hunter22");
    out = scrub("a hunter22 b hunter22hunter22 c", 128, &len);
    expect_str(out, "a ******** b **************** c");
    cr_assert(eq(sz, len, strlen(out)));
    free(out);
}

Test(secret, scrubs_every_registered_secret)
{
    size_t len;
    char *out;

    secret_add("first-secret");
    secret_add("2nd-pw");
    out = scrub("x=2nd-pw y=first-secret", 128, &len);
    expect_str(out, "x=******** y=********");
    free(out);
}

Test(secret, grows_the_line_for_a_short_secret)
{
    size_t len;
    char *out;

    secret_add("abcd");
    out = scrub("[abcd] [abcd]", 64, &len);
    expect_str(out, "[********] [********]");
    cr_assert(eq(sz, len, strlen("[********] [********]")));
    free(out);
}

Test(secret, cuts_a_line_at_capacity_without_showing_the_secret)
{
    static const char line[] = "user s3cr3t failed; then s3cr3t again";
    size_t cap;

    secret_add("s3cr3t");
    /* the line fills its buffer; each mask needs 2 more bytes */
    for (cap = sizeof(line); cap <= sizeof(line) + 4; cap++)
    {
        size_t len;
        char *out = scrub(line, cap, &len);

        cr_assert(zero(ptr, strstr(out, "s3cr")), "cap %zu: [%s]", cap, out);
        cr_assert(lt(sz, len, cap), "cap %zu: [%s]", cap, out);
        cr_assert(eq(sz, len, strlen(out)), "cap %zu", cap);
        if (cap == sizeof(line) + 4)
            expect_str(out, "user ******** failed; then ******** again");
        else
            cr_assert(eq(int, strncmp(out, "user ********", 13), 0), "cap %zu: [%s]", cap, out);
        free(out);
    }
}

Test(secret, cut_line_keeps_what_came_before_the_secret)
{
    size_t len;
    char *out;

    secret_add("s3cr3t");
    /* 11 bytes in a buffer of 12: no room for the 2 bytes the mask adds */
    out = scrub("x=s3cr3t yz", 12, &len);
    expect_str(out, "x=********");
    cr_assert(eq(sz, len, 10));
    free(out);
    /* the secret at the very end: even the mask is cut */
    out = scrub("ab s3cr3t", 10, &len);
    expect_str(out, "ab ******");
    cr_assert(eq(sz, len, 9));
    free(out);
}

Test(secret, does_not_scrub_secrets_shorter_than_4_bytes)
{
    size_t len;
    char *out;

    /* documented in secret.c: a one-letter password would turn every line into noise */
    secret_add("abc");
    out = scrub("abc and abcd", 64, &len);
    expect_str(out, "abc and abcd");
    free(out);
}

Test(secret, registers_the_password_of_a_dsn)
{
    size_t len;
    char *out;

    secret_add_dsn("host=h password='p w x' user=u");
    secret_add_dsn("postgresql://u:uripass@h/db");
    secret_add_dsn("postgresql://u@h/db?password=querypass");
    out = scrub("p w x, uripass, querypass", 128, &len);
    expect_str(out, "********, ********, ********");
    free(out);
}

Test(secret, registers_nothing_for_a_dsn_without_password)
{
    size_t len;
    char *out;

    secret_add_dsn("host=hosthost user=useruser");
    secret_add_dsn("not a connection string");
    out = scrub("hosthost useruser", 64, &len);
    expect_str(out, "hosthost useruser");
    free(out);
}

Test(secret, clear_forgets_every_secret)
{
    size_t len;
    char *out;

    secret_add("hunter22");
    secret_clear();
    out = scrub("hunter22", 64, &len);
    expect_str(out, "hunter22");
    free(out);
}

/* ---- the password's value, not every string equal to it (secret.h) ---- */

/* Scrub LINE (in a roomy buffer) and check it reads WANT. */
static void
expect_scrubbed(const char *line, const char *want)
{
    size_t len;
    char *out = scrub(line, 1024, &len);

    cr_assert(eq(str, out, (char *) want), "scrubbed [%s]\n       to [%s]\n  not to [%s]", line,
              out, want);
    cr_assert(eq(sz, len, strlen(out)));
    free(out);
}

/* Supabase's local defaults: user, database and password all "postgres". */
Test(secret, shows_user_and_database_named_like_the_password_of_a_keyword_dsn)
{
    secret_add_dsn("host=127.0.0.1 port=54322 dbname=postgres user=postgres password=postgres");
    expect_scrubbed("streaming from the source (host=127.0.0.1 port=54322 dbname=postgres "
                    "user=postgres)",
                    "streaming from the source (host=127.0.0.1 port=54322 dbname=postgres "
                    "user=postgres)");
    expect_scrubbed("host=127.0.0.1 dbname=postgres user=postgres password=postgres",
                    "host=127.0.0.1 dbname=postgres user=postgres password=********");
    expect_scrubbed("dbname=postgres password = 'postgres' user=postgres",
                    "dbname=postgres password = ******** user=postgres");
    expect_scrubbed("PGPASSWORD=postgres psql -U postgres", "PGPASSWORD=******** psql -U postgres");
}

Test(secret, shows_user_and_database_named_like_the_password_of_a_uri)
{
    secret_add_dsn("postgresql://postgres:postgres@127.0.0.1:54322/postgres");
    expect_scrubbed("MEMORI_DATABASE_URL=postgresql://postgres:postgres@127.0.0.1:54322/postgres",
                    "MEMORI_DATABASE_URL=postgresql://postgres:********@127.0.0.1:54322/postgres");
    expect_scrubbed("postgres://postgres@127.0.0.1/postgres?sslmode=disable&password=postgres",
                    "postgres://postgres@127.0.0.1/postgres?sslmode=disable&password=********");
    expect_scrubbed("password authentication failed for user \"postgres\"",
                    "password authentication failed for user \"postgres\"");
}

/* libpq's "invalid ... in URI" messages echo the URI it could not parse. */
Test(secret, masks_the_password_of_a_uri_that_libpq_echoes)
{
    secret_add_dsn("postgresql://postgres:postgres@127.0.0.1:5432/postgres");
    expect_scrubbed("invalid URI query parameter: \"postgresql://postgres:postgres@127.0.0.1:5432/"
                    "postgres?bad\"",
                    "invalid URI query parameter: \"postgresql://postgres:********@127.0.0.1:5432/"
                    "postgres?bad\"");
    /* a password with a space: libpq cannot parse the URI, but its syntax
     * still says where the password stands, and that is registered */
    secret_add_dsn("postgresql://postgres:s3 cr3t@127.0.0.1/postgres");
    expect_scrubbed("unexpected spaces found in \"postgresql://postgres:s3 cr3t@127.0.0.1/"
                    "postgres\", use percent-encoded spaces (%20) instead",
                    "unexpected spaces found in \"postgresql://postgres:********@127.0.0.1/"
                    "postgres\", use percent-encoded spaces (%20) instead");
    expect_scrubbed("then s3 cr3t alone", "then ******** alone");
}

Test(secret, keeps_the_user_name_that_holds_the_password)
{
    secret_add_dsn("host=db user=agentsmith password=smith dbname=memori");
    expect_scrubbed("role \"agentsmith\" on host=db user=agentsmith password=smith",
                    "role \"agentsmith\" on host=db user=agentsmith password=********");
    expect_scrubbed("postgresql://agentsmith:smith@db/memori",
                    "postgresql://agentsmith:********@db/memori");
    /* alone, or in another word, it is masked */
    expect_scrubbed("smith said hello", "******** said hello");
    expect_scrubbed("blacksmiths", "black********s");
}

Test(secret, masks_a_password_that_sticks_out_of_a_public_word)
{
    secret_add_dsn("host=h user=alice password=lice99");
    expect_scrubbed("role alice: alice99", "role alice: a********");
}

Test(secret, keeps_the_host_that_equals_the_password)
{
    secret_add_dsn("host=db.internal port=5433 user=memori password=db.internal dbname=memori");
    expect_scrubbed("could not connect to host=db.internal port=5433 dbname=memori user=memori",
                    "could not connect to host=db.internal port=5433 dbname=memori user=memori");
    expect_scrubbed("host=db.internal password=db.internal", "host=db.internal password=********");
    expect_scrubbed("postgresql://memori:db.internal@db.internal:5433/memori",
                    "postgresql://memori:********@db.internal:5433/memori");
}

Test(secret, masks_a_random_password_that_stands_bare_in_free_text)
{
    secret_add_dsn("host=127.0.0.1 user=postgres dbname=postgres "
                   "password=Xq7vR2pL9wK4mZ8tB3nJ6cF1");
    expect_scrubbed("server said: role postgres with Xq7vR2pL9wK4mZ8tB3nJ6cF1 at 127.0.0.1",
                    "server said: role postgres with ******** at 127.0.0.1");
    expect_scrubbed("\"Xq7vR2pL9wK4mZ8tB3nJ6cF1\"", "\"********\"");
}

/* A password context is masked by its syntax, registered or not, and
 * whatever the password's length. */
Test(secret, masks_every_password_context_even_unregistered)
{
    expect_scrubbed("host=h password=abc user=u", "host=h password=******** user=u");
    expect_scrubbed("password='it\\'s a b' x", "password=******** x");
    expect_scrubbed("PGPASSWORD=pw1 cmd", "PGPASSWORD=******** cmd");
    expect_scrubbed("postgresql://u:pw@h/db?password=pw2&x=1",
                    "postgresql://u:********@h/db?password=********&x=1");
    /* nothing to mask */
    expect_scrubbed("password authentication failed", "password authentication failed");
    expect_scrubbed("postgresql://u@h:5432/db", "postgresql://u@h:5432/db");
    expect_scrubbed("password=", "password=");
}

Test(secret, masks_the_password_of_a_dbname_that_is_a_connection_string)
{
    secret_add_dsn("dbname='host=h password=inner-pw9 dbname=memori' user=u");
    expect_scrubbed("inner-pw9 and memori", "******** and memori");
}

/* Masking a fixed word would tell the reader the password. */
Test(secret, keeps_the_programs_own_names)
{
    secret_add_dsn("host=h user=u password=memori");
    expect_scrubbed("memori-bridge: slot \"memori_bridge\" of memori",
                    "memori-bridge: slot \"memori_bridge\" of ********");
    secret_add_public("memori");
    expect_scrubbed("copying memori.memories", "copying memori.memories");
}

/* libpq cannot parse it, so the syntax says which word is the name. */
Test(secret, reads_the_names_of_a_dsn_libpq_cannot_parse)
{
    secret_add_dsn("postgresql://agent7:agent7@[::1]x/agent7db");
    expect_scrubbed("in URI: \"postgresql://agent7:agent7@[::1]x/agent7db\"",
                    "in URI: \"postgresql://agent7:********@[::1]x/agent7db\"");
    secret_add_dsn("host=h user=bot99 password=bot99 dbname='unterminated");
    expect_scrubbed("role bot99", "role bot99");
    expect_scrubbed("password=bot99", "password=********");
    /* what holds '=' where a name stands is no public word: it would keep
     * the password inside it */
    secret_add_dsn("user=u dbname='x=zed99pw' password=zed99pw port 5432");
    expect_scrubbed("x=zed99pw", "x=********");
}

/* ---- what libpq echoes of a string it cannot parse --------------------- */

/* libpq's own reason for not parsing DSN, through secret_mask_echo (nothing
 * registered: the echo alone must not show it); it must not hold any of
 * HIDDEN (NULL-terminated) and must hold SHOWN. */
static void
expect_echo_masked(const char *dsn, const char *const *hidden, const char *shown)
{
    char *err = NULL, msg[1024];
    PQconninfoOption *opts = PQconninfoParse(dsn, &err);

    cr_assert_null(opts, "libpq parses [%s]", dsn);
    cr_assert_not_null(err);
    snprintf(msg, sizeof(msg), "not valid: %s", err);
    PQfreemem(err);
    secret_mask_echo(dsn, msg, sizeof(msg));
    for (; *hidden != NULL; hidden++)
        cr_assert(zero(ptr, strstr(msg, *hidden)), "\"%s\" shows in [%s]", *hidden, msg);
    cr_assert(not(zero(ptr, strstr(msg, shown))), "no \"%s\" in [%s]", shown, msg);
}

Test(secret, masks_the_password_that_libpq_echoes_whatever_its_length)
{
    /* the whole URI, echoed, with short passwords and quotes in them */
    expect_echo_masked("postgresql://postgres:SECRET@[::1x/postgres",
                       (const char *const[]){"SECRET", NULL}, "postgres:********@[::1x/postgres");
    expect_echo_masked("postgresql://u:a'b@[::1x/db", (const char *const[]){"a'b", NULL},
                       "u:********@[::1x/db");
    expect_echo_masked("postgresql://u:p\"q@[::1x/db", (const char *const[]){"p\"q", NULL},
                       "u:********@[::1x/db");
    expect_echo_masked("postgresql://u:x y@[::1]x/db", (const char *const[]){"x y", NULL},
                       "u:********@[::1]x/db");
    /* the password alone, as a token libpq could not decode */
    expect_echo_masked("postgresql://u:%z1@h/db", (const char *const[]){"%z1", NULL},
                       "\"********\"");
    /* "password=two words": libpq reads a key "words" and quotes it */
    expect_echo_masked("host=h password=SECRET tail", (const char *const[]){"tail", NULL},
                       "after \"********\"");
    expect_echo_masked("host=h password=SECRET tail=1", (const char *const[]){"tail", NULL},
                       "option \"********\"");
    expect_echo_masked("host=h password=\"two words\" x", (const char *const[]){"words", NULL},
                       "after \"********\"");
    /* what could be a key or a name is left alone */
    expect_echo_masked("host=h password='two words' bogus", (const char *const[]){"words", NULL},
                       "after \"bogus\"");
    expect_echo_masked("host=h password=pw port 5432", (const char *const[]){"pw", NULL},
                       "after \"port\"");
}

Test(secret, registers_the_words_after_an_unquoted_password_of_a_bad_string)
{
    secret_add_dsn("host=h password=SECRET PWTAIL");
    expect_scrubbed("PWTAIL and SECRET", "******** and ********");
    /* a keyword ends it: "port" and its value are no password */
    secret_add_dsn("host=h password=pw98 port 5432");
    expect_scrubbed("port 5432", "port 5432");
}

/* Blank DSN (a copy) in place: it reads WANT, of the same length. */
static void
expect_blanked(const char *dsn, const char *want)
{
    char buf[256];

    snprintf(buf, sizeof(buf), "%s", dsn);
    secret_blank_dsn(buf);
    expect_str(buf, want);
}

Test(secret, blanks_the_password_of_a_dsn_in_place)
{
    expect_blanked("host=h user=u password=s3cr3t dbname=d",
                   "host=h user=u password=****** dbname=d");
    expect_blanked("host=h password = 'a b\\'c' user=u", "host=h password = ******** user=u");
    expect_blanked("password=pw", "password=**");
    expect_blanked("postgresql://u:s3cr3t@h:5432/d?sslmode=require",
                   "postgresql://u:******@h:5432/d?sslmode=require");
    expect_blanked("postgres://u@h/d?password=qq&sslmode=disable",
                   "postgres://u@h/d?password=**&sslmode=disable");
    expect_blanked("postgresql://u:a'b c@[::1x/d", "postgresql://u:*****@[::1x/d");
    expect_blanked("host=h password=two words port=5", "host=h password=*** ***** port=5");
    /* a dbname that is a connection string: its password too (read as free
     * text, up to the white space, the quote that ends the dbname with it) */
    expect_blanked("dbname='host=h password=inner' user=u",
                   "dbname='host=h password=****** user=u");
    /* nothing to blank */
    expect_blanked("host=h user=u dbname=d", "host=h user=u dbname=d");
    expect_blanked("postgresql://u@h/d", "postgresql://u@h/d");
}
