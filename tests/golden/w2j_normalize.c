/*
 * w2j_normalize.c - make a captured wal2json stream comparable across runs.
 *
 * Reads newline-delimited wal2json format-version 2 messages on stdin and
 * writes them to stdout byte for byte, except for what differs from one run
 * to the next:
 *   - top-level "xid" numbers are renumbered 1, 2, ... in order of first
 *     appearance (null stays null);
 *   - top-level "lsn" and "nextlsn" values are renumbered "0/1", "0/2", ...
 *     in order of first appearance, so equal LSNs stay equal (the T records
 *     of one TRUNCATE, a B and its C);
 *   - top-level "timestamp" strings become "2000-01-01 00:00:00+00";
 *   - any string longer than 4096 bytes becomes "<long string: N bytes,
 *     fnv1a64 H>", so that a 1 MB value does not sit in the repository.
 * Only the bytes of those tokens change: the rest of the message, field order
 * and escapes included, is exactly what wal2json wrote. The tokenizer only
 * tracks strings and nesting; the decoder, not this tool, validates JSON.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LONG_STRING 4096

/* First-appearance numbering of tokens (xids or LSNs). */
struct numbering
{
    char **keys; /* owned */
    size_t n, cap;
};

static size_t
number_of(struct numbering *m, const char *s, size_t len)
{
    size_t i;

    for (i = 0; i < m->n; i++)
        if (strlen(m->keys[i]) == len && memcmp(m->keys[i], s, len) == 0)
            return i + 1;
    if (m->n == m->cap)
    {
        m->cap = m->cap ? m->cap * 2 : 64;
        m->keys = realloc(m->keys, m->cap * sizeof(char *));
        if (m->keys == NULL)
        {
            perror("w2j_normalize");
            exit(1);
        }
    }
    m->keys[m->n] = strndup(s, len);
    if (m->keys[m->n] == NULL)
    {
        perror("w2j_normalize");
        exit(1);
    }
    return ++m->n;
}

static void
free_numbering(struct numbering *m)
{
    size_t i;

    for (i = 0; i < m->n; i++)
        free(m->keys[i]);
    free(m->keys);
}

static uint64_t
fnv1a64(const char *s, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull;
    size_t i;

    for (i = 0; i < len; i++)
    {
        h ^= (unsigned char) s[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* End of the string token starting at S (its opening quote): one past the
 * closing quote, or END. */
static const char *
string_end(const char *s, const char *end)
{
    for (s++; s < end; s++)
    {
        if (*s == '\\')
            s++;
        else if (*s == '"')
            return s + 1;
    }
    return end;
}

static void
normalize_line(const char *s, size_t len, struct numbering *xids, struct numbering *lsns)
{
    const char *end = s + len;
    int depth = 0;
    /* the key just read at depth 1, when it is one we rewrite */
    enum { K_NONE, K_XID, K_LSN, K_TIME } pending = K_NONE;
    bool expect_key = false;

    while (s < end)
    {
        char ch = *s;

        if (ch == '"')
        {
            const char *e = string_end(s, end);
            size_t n = (size_t) (e - s);

            if (expect_key && depth == 1)
            {
                pending = K_NONE;
                if (n == 5 && memcmp(s, "\"xid\"", 5) == 0)
                    pending = K_XID;
                else if ((n == 5 && memcmp(s, "\"lsn\"", 5) == 0) ||
                         (n == 9 && memcmp(s, "\"nextlsn\"", 9) == 0))
                    pending = K_LSN;
                else if (n == 11 && memcmp(s, "\"timestamp\"", 11) == 0)
                    pending = K_TIME;
                fwrite(s, 1, n, stdout);
                expect_key = false;
            }
            else if (pending == K_LSN && n >= 2)
            {
                printf("\"0/%zX\"", number_of(lsns, s + 1, n - 2));
                pending = K_NONE;
            }
            else if (pending == K_TIME)
            {
                fputs("\"2000-01-01 00:00:00+00\"", stdout);
                pending = K_NONE;
            }
            else if (n - 2 > LONG_STRING)
            {
                printf("\"<long string: %zu bytes, fnv1a64 %016" PRIx64 ">\"", n - 2,
                       fnv1a64(s + 1, n - 2));
            }
            else
                fwrite(s, 1, n, stdout);
            s = e;
            continue;
        }
        if (pending == K_XID && ch >= '0' && ch <= '9')
        {
            const char *e = s;

            while (e < end && *e >= '0' && *e <= '9')
                e++;
            printf("%zu", number_of(xids, s, (size_t) (e - s)));
            s = e;
            pending = K_NONE;
            continue;
        }
        if (ch == '{' || ch == '[')
            depth++;
        else if (ch == '}' || ch == ']')
            depth--;
        if ((ch == '{' || ch == ',') && depth == 1)
            expect_key = true;
        if (ch == ',' || ch == '}')
            pending = K_NONE;
        putchar(ch);
        s++;
    }
    putchar('\n');
}

int
main(void)
{
    struct numbering xids = {0}, lsns = {0};
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;

    while ((n = getline(&line, &cap, stdin)) > 0)
    {
        if (line[n - 1] == '\n')
            n--;
        if (n == 0)
            continue;
        normalize_line(line, (size_t) n, &xids, &lsns);
    }
    free(line);
    free_numbering(&xids);
    free_numbering(&lsns);
    return ferror(stdout) ? 1 : 0;
}
