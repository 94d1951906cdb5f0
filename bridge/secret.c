/*
 * secret.c - masking passwords in connection strings and in output lines.
 *
 * Secrets shorter than SECRET_MIN_SCRUB bytes are not scrubbed from free text:
 * a one-letter password would turn every line into noise. Connection strings
 * are masked by their syntax whatever the password's length, and the program
 * prints connection strings only through secret_mask_dsn.
 */
#include "bridge/secret.h"

#include <ctype.h>
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

#define SECRET_MAX       16
#define SECRET_MIN_SCRUB 4

static char *secrets[SECRET_MAX];
static size_t nsecrets;

void
secret_add(const char *s)
{
    size_t i;

    if (s == NULL || *s == '\0' || nsecrets == SECRET_MAX)
        return;
    for (i = 0; i < nsecrets; i++)
        if (strcmp(secrets[i], s) == 0)
            return;
    secrets[nsecrets] = strdup(s);
    if (secrets[nsecrets] != NULL)
        nsecrets++;
}

void
secret_add_dsn(const char *dsn)
{
    PQconninfoOption *opts, *o;

    if (dsn == NULL)
        return;
    opts = PQconninfoParse(dsn, NULL);
    if (opts == NULL)
        return; /* not a connection string; libpq will say so when it is used */
    for (o = opts; o->keyword != NULL; o++)
        if (strcmp(o->keyword, "password") == 0 && o->val != NULL)
            secret_add(o->val);
    PQconninfoFree(opts);
}

void
secret_clear(void)
{
    size_t i;

    for (i = 0; i < nsecrets; i++)
        free(secrets[i]);
    nsecrets = 0;
}

/* Output into a bounded buffer: never overruns, always NUL-terminated. */
struct out
{
    char *buf;
    size_t len, cap;
};

static void
put(struct out *o, const char *s, size_t n)
{
    size_t room = o->cap - 1 - o->len;

    if (n > room)
        n = room;
    memcpy(o->buf + o->len, s, n);
    o->len += n;
    o->buf[o->len] = '\0';
}

static bool
is_uri(const char *dsn)
{
    return strncmp(dsn, "postgresql://", 13) == 0 || strncmp(dsn, "postgres://", 11) == 0;
}

static void
mask_uri(const char *dsn, struct out *o)
{
    const char *p = strstr(dsn, "://") + 3, *q, *colon = NULL;

    put(o, dsn, (size_t) (p - dsn));
    /* as libpq reads it: userinfo is what stands before the first '@' that
     * comes before any '/' (a '?' does not end it: "user:pa?ss@host") */
    for (q = p; *q != '\0' && *q != '@' && *q != '/'; q++)
        if (*q == ':' && colon == NULL)
            colon = q;
    if (*q == '@' && colon != NULL)
    {
        put(o, p, (size_t) (colon + 1 - p));
        put(o, SECRET_MASK, strlen(SECRET_MASK));
        p = q;
    }
    /* the rest, with "password=" query parameters masked */
    while (*p != '\0')
    {
        const char *amp = p + strcspn(p, "?&");

        put(o, p, (size_t) (amp - p));
        if (*amp == '\0')
            break;
        put(o, amp, 1);
        p = amp + 1;
        if (strncmp(p, "password=", 9) == 0)
        {
            put(o, p, 9);
            put(o, SECRET_MASK, strlen(SECRET_MASK));
            p += 9;
            p += strcspn(p, "&");
        }
    }
}

static void
mask_keyvalue(const char *dsn, struct out *o)
{
    const char *p = dsn;

    while (*p != '\0')
    {
        const char *key, *key_end, *v;
        bool is_password;

        while (isspace((unsigned char) *p))
            put(o, p++, 1);
        key = p;
        while (*p != '\0' && *p != '=' && !isspace((unsigned char) *p))
            p++;
        key_end = p;
        while (isspace((unsigned char) *p))
            p++;
        put(o, key, (size_t) (p - key));
        if (*p != '=')
            continue; /* malformed: copied as it is, nothing more to mask */
        put(o, p++, 1);
        while (isspace((unsigned char) *p))
            put(o, p++, 1);
        is_password = (size_t) (key_end - key) == 8 && strncmp(key, "password", 8) == 0;
        v = p;
        if (*p == '\'')
        {
            p++;
            while (*p != '\0' && *p != '\'')
                p += (*p == '\\' && p[1] != '\0') ? 2 : 1;
            if (*p == '\'')
                p++;
        }
        else
            while (*p != '\0' && !isspace((unsigned char) *p))
                p += (*p == '\\' && p[1] != '\0') ? 2 : 1;
        if (is_password)
            put(o, SECRET_MASK, strlen(SECRET_MASK));
        else
            put(o, v, (size_t) (p - v));
    }
}

char *
secret_mask_dsn(const char *dsn, char *buf, size_t len)
{
    struct out o = {buf, 0, len};

    if (len == 0)
        return buf;
    buf[0] = '\0';
    if (dsn == NULL)
        return buf;
    if (is_uri(dsn))
        mask_uri(dsn, &o);
    else
        mask_keyvalue(dsn, &o);
    return buf;
}

size_t
secret_scrub(char *line, size_t cap)
{
    size_t len = strlen(line), i;
    const size_t mlen = strlen(SECRET_MASK);

    for (i = 0; i < nsecrets; i++)
    {
        size_t slen = strlen(secrets[i]);
        char *hit = line;

        if (slen < SECRET_MIN_SCRUB)
            continue;
        while ((hit = strstr(hit, secrets[i])) != NULL)
        {
            size_t tail = len - (size_t) (hit - line) - slen; /* bytes after the secret */
            size_t newlen = len - slen + mlen;

            if (newlen + 1 > cap)
            {
                /* no room to grow: cut the line at the secret, masked */
                size_t at = (size_t) (hit - line);
                size_t n = cap - 1 - at < mlen ? cap - 1 - at : mlen;

                memcpy(hit, SECRET_MASK, n);
                len = at + n;
                line[len] = '\0';
                break;
            }
            memmove(hit + mlen, hit + slen, tail + 1);
            memcpy(hit, SECRET_MASK, mlen);
            len = newlen;
            hit += mlen;
        }
    }
    return len;
}
