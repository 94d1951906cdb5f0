/*
 * test_secret.c - passwords never reach the output: connection strings
 * masked by their syntax, registered secrets scrubbed from free text.
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/secret.h"

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
