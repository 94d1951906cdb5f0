/*
 * secret.c - masking passwords in connection strings and in output lines
 * (the rule is in secret.h).
 *
 * Secrets shorter than SECRET_MIN_SCRUB bytes are not masked in free text: a
 * one-letter password would turn every line into noise. Password contexts are
 * masked by their syntax whatever the password's length, and the program
 * prints connection strings only through secret_mask_dsn.
 *
 * secret_scrub marks the bytes to mask first (a byte array beside the line:
 * 1 starts a masked run, 2 continues it), then writes the line again with
 * each run replaced by SECRET_MASK. Runs that overlap become one; runs that
 * only touch stay two masks.
 */
#include "bridge/base/secret.h"

#include <ctype.h>
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SECRET_MAX       16
#define PUBLIC_MAX       32
#define SECRET_MIN_SCRUB 4
#define SCRUB_STACK      4096 /* lines up to this long need no allocation */

static char *secrets[SECRET_MAX];
static size_t nsecrets;
static char *publics[PUBLIC_MAX];
static size_t npublics;

/* public words whatever the settings say: the program's own names (its
 * binary, schema and fence trigger), and the URI schemes */
static const char *const builtin_publics[] = {"memori-bridge", "memori_bridge", "postgresql://",
                                              "postgres://"};

static void
add_word(char **list, size_t *n, size_t max, const char *s, size_t len)
{
    size_t i;

    if (s == NULL || len == 0 || *n == max)
        return;
    for (i = 0; i < *n; i++)
        if (strlen(list[i]) == len && strncmp(list[i], s, len) == 0)
            return;
    list[*n] = strndup(s, len);
    if (list[*n] != NULL)
        (*n)++;
}

/* Register [S, S + LEN) as a public word, unless it could hold a password
 * context itself (a connection string in a name's place): a public word keeps
 * what lies inside it. */
static void
add_public(const char *s, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++)
        if (s[i] == '=' || (i + 3 <= len && strncmp(s + i, "://", 3) == 0))
            return;
    add_word(publics, &npublics, PUBLIC_MAX, s, len);
}

void
secret_add(const char *s)
{
    if (s != NULL)
        add_word(secrets, &nsecrets, SECRET_MAX, s, strlen(s));
}

void
secret_add_public(const char *word)
{
    if (word != NULL)
        add_public(word, strlen(word));
}

/* A host list ("a,b"): the whole and each item. */
static void
add_public_list(const char *s)
{
    secret_add_public(s);
    while (*s != '\0')
    {
        size_t n = strcspn(s, ",");

        add_public(s, n);
        s += n + (s[n] == ',');
    }
}

static size_t mark_contexts(const char *line, size_t len, unsigned char *mark);
static void mark_dsn(const char *dsn, size_t len, unsigned char *mark);
static size_t value_end(const char *line, size_t len, size_t p, bool query);

static bool
is_name_key(const char *key, size_t n)
{
    static const char *const keys[] = {"user", "dbname", "host", "hostaddr"};
    size_t i;

    for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (strlen(keys[i]) == n && strncmp(keys[i], key, n) == 0)
            return true;
    return false;
}

/* The names of a DSN libpq cannot parse, read by its syntax as far as it
 * goes: a URI's user, host and database, or the user, dbname, host and
 * hostaddr values of a key=value string. */
static void
add_unparsed_names(const char *dsn, size_t len)
{
    const char *uri = strstr(dsn, "://");
    size_t i = 0;

    if (uri != NULL)
    {
        const char *p = uri + 3, *q = p + strcspn(p, "@/"), *host = p;
        size_t n;

        if (*q == '@')
        {
            add_public(p, strcspn(p, ":@"));
            host = q + 1;
        }
        n = strcspn(host, *host == '[' ? "]" : ":/?,");
        add_public(host, n + (host[n] == ']'));
        q = host + strcspn(host, "/");
        if (*q == '/')
            add_public(q + 1, strcspn(q + 1, "?"));
        return;
    }
    while (i < len)
    {
        size_t key, key_len, v, end;

        while (i < len && isspace((unsigned char) dsn[i]))
            i++;
        key = i;
        while (i < len && dsn[i] != '=' && !isspace((unsigned char) dsn[i]))
            i++;
        key_len = i - key;
        while (i < len && isspace((unsigned char) dsn[i]))
            i++;
        if (i >= len || dsn[i] != '=')
            continue;
        for (i++; i < len && isspace((unsigned char) dsn[i]); i++)
            ;
        v = i;
        end = value_end(dsn, len, v, false);
        if (is_name_key(dsn + key, key_len))
        {
            if (dsn[v] == '\'' && end >= v + 2)
                add_public(dsn + v + 1, end - v - 2);
            else
                add_public(dsn + v, end - v);
        }
        i = end;
    }
}

/* A DSN libpq cannot parse: what stands of its passwords (mark_dsn) is
 * secret, each piece on its own (libpq echoes one piece at a time), and what
 * stands where names do is public. */
static void
add_unparsed(const char *dsn)
{
    size_t len = strlen(dsn), i, start = 0;
    unsigned char *mark = calloc(len + 1, 1);

    if (mark == NULL)
        return;
    add_unparsed_names(dsn, len);
    mark_dsn(dsn, len, mark);
    for (i = 0; i <= len; i++)
    {
        if (i < len && mark[i] == 2)
            continue;
        if (i > start && mark[start] == 1)
            add_word(secrets, &nsecrets, SECRET_MAX, dsn + start, i - start);
        start = i;
    }
    free(mark);
}

void
secret_add_dsn(const char *dsn)
{
    PQconninfoOption *opts, *o;

    if (dsn == NULL)
        return;
    opts = PQconninfoParse(dsn, NULL);
    if (opts == NULL)
    {
        /* libpq will say so when it is used, and may echo the string */
        add_unparsed(dsn);
        return;
    }
    for (o = opts; o->keyword != NULL; o++)
    {
        if (o->val == NULL)
            continue;
        if (strcmp(o->keyword, "password") == 0)
            secret_add(o->val);
        else if (strcmp(o->keyword, "user") == 0)
            secret_add_public(o->val);
        else if (strcmp(o->keyword, "dbname") == 0)
        {
            /* libpq expands a dbname that is a connection string itself */
            if (strchr(o->val, '=') != NULL || strstr(o->val, "://") != NULL)
                secret_add_dsn(o->val);
            else
                secret_add_public(o->val);
        }
        else if (strcmp(o->keyword, "host") == 0 || strcmp(o->keyword, "hostaddr") == 0)
            add_public_list(o->val);
    }
    PQconninfoFree(opts);
}

void
secret_clear(void)
{
    size_t i;

    for (i = 0; i < nsecrets; i++)
        free(secrets[i]);
    nsecrets = 0;
    for (i = 0; i < npublics; i++)
        free(publics[i]);
    npublics = 0;
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

/* Mark [FROM, TO) of MARK as one masked run, joined with runs it overlaps. */
static void
mark_run(unsigned char *mark, size_t from, size_t to)
{
    size_t i;

    if (from >= to)
        return;
    if (mark[from] == 0)
        mark[from] = 1;
    for (i = from + 1; i < to; i++)
        mark[i] = 2;
}

/* The end of a value that starts at P, as libpq reads a key=value string: a
 * 'quoted' value with backslash escapes, or up to white space; in a URI query
 * (QUERY), up to the next '&'. */
static size_t
value_end(const char *line, size_t len, size_t p, bool query)
{
    if (p < len && line[p] == '\'')
    {
        for (p++; p < len && line[p] != '\''; p++)
            if (line[p] == '\\' && p + 1 < len)
                p++;
        return p < len ? p + 1 : len;
    }
    if (query)
        return p + strcspn(line + p, "&#\"' \t\r\n");
    while (p < len && !isspace((unsigned char) line[p]))
        p += (line[p] == '\\' && p + 1 < len) ? 2 : 1;
    return p;
}

/* Mark the values that stand in a password context (secret.h, rule 1), whatever
 * they are. Returns how many it marked. */
static size_t
mark_contexts(const char *line, size_t len, unsigned char *mark)
{
    size_t i, found = 0;

    for (i = 0; i < len; i++)
    {
        if (i + 8 <= len && strncasecmp(line + i, "password", 8) == 0)
        {
            size_t p = i + 8;
            bool query = i > 0 && (line[i - 1] == '?' || line[i - 1] == '&');

            while (!query && p < len && (line[p] == ' ' || line[p] == '\t'))
                p++;
            if (p < len && line[p] == '=')
            {
                size_t end;

                p++;
                while (!query && p < len && (line[p] == ' ' || line[p] == '\t'))
                    p++;
                end = value_end(line, len, p, query);
                if (end > p)
                {
                    mark_run(mark, p, end);
                    found++;
                }
            }
        }
        else if (i + 3 <= len && strncmp(line + i, "://", 3) == 0)
        {
            /* the user info ends at the first '@' before any '/', as libpq
             * reads it; in free text a quote ends the URI too */
            size_t p = i + 3, q = p + strcspn(line + p, "@/\"'"), colon;

            if (q < len && line[q] == '@')
            {
                colon = p + strcspn(line + p, ":");
                if (colon + 1 < q)
                {
                    mark_run(mark, colon + 1, q);
                    found++;
                }
            }
        }
    }
    return found;
}

/* Is the key=value keyword [KEY, KEY + N) one libpq knows? */
static bool
is_keyword(const PQconninfoOption *known, const char *key, size_t n)
{
    for (; known != NULL && known->keyword != NULL; known++)
        if (strlen(known->keyword) == n && strncmp(known->keyword, key, n) == 0)
            return true;
    return false;
}

/* An unquoted password of a key=value string goes on, for the user who wrote
 * it, past the white space libpq ends it at: "password=two words" is read as
 * "two" and a key "words", which libpq's error quotes. Mark each token after
 * an unquoted password value up to the next one that starts with a keyword
 * libpq knows. */
static void
mark_password_tail(const char *dsn, size_t len, unsigned char *mark)
{
    PQconninfoOption *known = PQconninfoParse("", NULL);
    size_t i = 0;
    bool tail = false;

    while (i < len)
    {
        size_t key, key_len, v, end;

        while (i < len && isspace((unsigned char) dsn[i]))
            i++;
        if (i >= len)
            break;
        key = i;
        while (i < len && dsn[i] != '=' && !isspace((unsigned char) dsn[i]))
            i++;
        key_len = i - key;
        if (tail && key_len > 0 && is_keyword(known, dsn + key, key_len))
            tail = false;
        v = i;
        while (v < len && isspace((unsigned char) dsn[v]))
            v++;
        if (v >= len || dsn[v] != '=')
        {
            /* a bare word: libpq stops at it ("missing "=" after ...") */
            if (tail)
                mark_run(mark, key, i);
            continue;
        }
        for (v++; v < len && isspace((unsigned char) dsn[v]); v++)
            ;
        end = value_end(dsn, len, v, false);
        if (tail)
            mark_run(mark, key, end);
        else if (key_len == 8 && strncmp(dsn + key, "password", 8) == 0)
            tail = v < len && dsn[v] != '\'';
        i = end;
    }
    PQconninfoFree(known);
}

/* Mark what stands of DSN's passwords (one connection string, not free
 * text): its password contexts; a URI's password, between the first ':' of
 * the user info and the '@' that ends it as libpq reads it (quotes and all);
 * and what follows an unquoted key=value password (mark_password_tail). */
static void
mark_dsn(const char *dsn, size_t len, unsigned char *mark)
{
    mark_contexts(dsn, len, mark);
    if (is_uri(dsn))
    {
        size_t p = (size_t) (strstr(dsn, "://") + 3 - dsn), at = p + strcspn(dsn + p, "@/"),
               colon = p + strcspn(dsn + p, ":@/");

        if (at < len && dsn[at] == '@' && dsn[colon] == ':' && colon + 1 < at)
            mark_run(mark, colon + 1, at);
    }
    else
        mark_password_tail(dsn, len, mark);
}

void
secret_blank_dsn(char *dsn)
{
    size_t len, i;
    unsigned char *mark;

    if (dsn == NULL)
        return;
    len = strlen(dsn);
    mark = calloc(len + 1, 1);
    if (mark == NULL)
    {
        /* no memory to look: blank it all rather than leave the password */
        memset(dsn, '*', len);
        return;
    }
    mark_dsn(dsn, len, mark);
    for (i = 0; i < len; i++)
        if (mark[i] != 0)
            dsn[i] = '*';
    free(mark);
}

/* The longest stretch of DSN that MSG quotes from AT on (it stands between
 * MSG's '"' before AT and a '"' after it; a password's own quotes may stand
 * inside): its length, 0 when none, and in *SECRET whether every stretch of
 * DSN of that length that fits holds a marked byte (one that does not reads
 * as that: a name, a keyword), at *FROM the first that does. */
static size_t
quoted_piece(const char *dsn, size_t dlen, const unsigned char *mark, const char *msg, size_t at,
             size_t mlen, bool *secret, size_t *from)
{
    size_t best = 0, a;

    *secret = false;
    for (a = 0; a < dlen; a++)
    {
        size_t n = 0, k;
        bool marked = false;

        while (a + n < dlen && at + n < mlen && dsn[a + n] == msg[at + n])
            n++;
        while (n > 0 && msg[at + n] != '"')
            n--;
        if (n == 0 || n < best)
            continue;
        for (k = a; k < a + n && !marked; k++)
            marked = mark[k] != 0;
        if (n > best)
        {
            best = n;
            *secret = marked;
            *from = a;
        }
        else if (!marked)
            *secret = false;
    }
    return best;
}

size_t
secret_mask_echo(const char *dsn, char *msg, size_t cap)
{
    size_t dlen, mlen = strlen(msg), i = 0;
    unsigned char *mark;
    char *copy;
    struct out o = {msg, 0, cap};

    if (dsn == NULL || cap == 0)
        return mlen;
    dlen = strlen(dsn);
    mark = calloc(dlen + 1, 1);
    copy = strdup(msg);
    if (mark == NULL || copy == NULL)
    {
        free(mark);
        free(copy);
        return secret_scrub(msg, cap);
    }
    mark_dsn(dsn, dlen, mark);
    msg[0] = '\0';
    while (i < mlen)
    {
        size_t n = 0, from = 0, k;
        bool secret = false;

        /* libpq quotes what it echoes: a piece of the string starts after '"' */
        if (i > 0 && copy[i - 1] == '"')
            n = quoted_piece(dsn, dlen, mark, copy, i, mlen, &secret, &from);
        if (!secret)
        {
            put(&o, copy + i, n > 0 ? n : 1);
            i += n > 0 ? n : 1;
            continue;
        }
        for (k = 0; k < n;)
        {
            size_t run = k;

            if (mark[from + k] == 0)
            {
                while (run < n && mark[from + run] == 0)
                    run++;
                put(&o, copy + i + k, run - k);
            }
            else
            {
                while (run < n && mark[from + run] != 0)
                    run++;
                put(&o, SECRET_MASK, strlen(SECRET_MASK));
            }
            k = run;
        }
        i += n;
    }
    free(mark);
    free(copy);
    return secret_scrub(msg, cap);
}

/* Does [AT, AT + N) of LINE lie wholly inside an occurrence of WORD? */
static bool
inside(const char *line, size_t len, size_t at, size_t n, const char *word)
{
    size_t wl = strlen(word), j;

    if (wl < n || at + n > len)
        return false;
    for (j = at + n >= wl ? at + n - wl : 0; j <= at; j++)
        if (j + wl <= len && memcmp(line + j, word, wl) == 0)
            return true;
    return false;
}

static bool
inside_public(const char *line, size_t len, size_t at, size_t n)
{
    size_t i;

    for (i = 0; i < npublics; i++)
        if (inside(line, len, at, n, publics[i]))
            return true;
    for (i = 0; i < sizeof(builtin_publics) / sizeof(builtin_publics[0]); i++)
        if (inside(line, len, at, n, builtin_publics[i]))
            return true;
    return false;
}

/* Mark each registered secret of LINE but where it reads as a public word
 * (secret.h, rule 2). */
static void
mark_secrets(const char *line, size_t len, unsigned char *mark)
{
    size_t i;

    for (i = 0; i < nsecrets; i++)
    {
        size_t slen = strlen(secrets[i]);
        const char *hit;

        if (slen < SECRET_MIN_SCRUB)
            continue;
        for (hit = strstr(line, secrets[i]); hit != NULL; hit = strstr(hit + 1, secrets[i]))
        {
            size_t at = (size_t) (hit - line);

            if (!inside_public(line, len, at, slen))
                mark_run(mark, at, at + slen);
        }
    }
}

size_t
secret_scrub(char *line, size_t cap)
{
    const size_t mlen = strlen(SECRET_MASK);
    size_t len = strlen(line), i, out = 0;
    char stack_copy[SCRUB_STACK];
    unsigned char stack_mark[SCRUB_STACK];
    char *copy = stack_copy;
    unsigned char *mark = stack_mark;
    bool any;

    if (cap == 0)
        return 0;
    if (len + 1 > SCRUB_STACK)
    {
        copy = malloc(len + 1);
        mark = malloc(len + 1);
        if (copy == NULL || mark == NULL)
        {
            /* no memory to look: show nothing of the line rather than risk it */
            free(copy);
            free(mark);
            len = cap - 1 < mlen ? cap - 1 : mlen;
            memcpy(line, SECRET_MASK, len);
            line[len] = '\0';
            return len;
        }
    }
    memset(mark, 0, len + 1);
    any = mark_contexts(line, len, mark) > 0;
    mark_secrets(line, len, mark);
    for (i = 0; !any && i < len; i++)
        any = mark[i] != 0;
    if (!any)
        goto done;
    memcpy(copy, line, len + 1);
    for (i = 0; i < len;)
    {
        size_t end;

        if (mark[i] == 0)
        {
            line[out++] = copy[i++];
            continue;
        }
        for (end = i + 1; end < len && mark[end] == 2; end++)
            ;
        /* the rest of the line after this mask must still fit */
        if (out + mlen + (len - end) > cap - 1)
        {
            size_t n = cap - 1 - out < mlen ? cap - 1 - out : mlen;

            memcpy(line + out, SECRET_MASK, n);
            out += n;
            break;
        }
        memcpy(line + out, SECRET_MASK, mlen);
        out += mlen;
        i = end;
    }
    line[out] = '\0';
    len = out;
done:
    if (copy != stack_copy)
    {
        free(copy);
        free(mark);
    }
    return len;
}
