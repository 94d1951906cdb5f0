/*
 * decode.c - "memori-bridge decode": a wal2json stream, change by change.
 *
 * Users reach for this when they debug a slot: pipe pg_recvlogical (or a
 * saved capture) through it. Lines are read in chunks into one growing
 * buffer, so a message may be as long as the decoder's limit, and each line
 * is parsed in place.
 */
#include "bridge/cmd/decode.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bridge/base/log.h"
#include "bridge/cmd/render.h"
#include "decoder/w2j.h"

#define NACTIONS 7
static const char actions[NACTIONS] = {'B', 'C', 'I', 'U', 'D', 'T', 'M'};

static int
action_index(enum w2j_action a)
{
    const char *p = memchr(actions, (int) a, NACTIONS);

    return p ? (int) (p - actions) : 0;
}

/* Counts for one table. */
struct table_count
{
    char *name;                /* owned: "schema.table" as rendered */
    unsigned long n[NACTIONS]; /* per action, in actions[] order */
};

/* Counts for the whole stream. */
struct summary
{
    unsigned long n[NACTIONS];  /* per action */
    unsigned long messages;     /* lines decoded */
    struct table_count *tables; /* owned */
    size_t ntables;             /* used entries */
    size_t cap;                 /* allocated entries */
};

static bool
count_table(struct summary *s, const struct w2j_record *r)
{
    char *name = NULL;
    size_t len = 0, i;
    FILE *f = open_memstream(&name, &len);

    if (f == NULL)
        return false;
    render_ident(f, r->schema, r->schema_len);
    fputc('.', f);
    render_ident(f, r->table, r->table_len);
    if (fclose(f) != 0)
        return false;
    for (i = 0; i < s->ntables; i++)
        if (strcmp(s->tables[i].name, name) == 0)
        {
            s->tables[i].n[action_index(r->action)]++;
            free(name);
            return true;
        }
    if (s->ntables == s->cap)
    {
        size_t cap = s->cap ? s->cap * 2 : 16;
        struct table_count *t = realloc(s->tables, cap * sizeof(*t));

        if (t == NULL)
        {
            free(name);
            return false;
        }
        s->tables = t;
        s->cap = cap;
    }
    memset(&s->tables[s->ntables], 0, sizeof(s->tables[0]));
    s->tables[s->ntables].name = name;
    s->tables[s->ntables].n[action_index(r->action)] = 1;
    s->ntables++;
    return true;
}

static int
compare_tables(const void *a, const void *b)
{
    return strcmp(((const struct table_count *) a)->name, ((const struct table_count *) b)->name);
}

static void
print_counts(FILE *out, const unsigned long *n)
{
    bool first = true;
    int i;

    for (i = 0; i < NACTIONS; i++)
    {
        if (n[i] == 0)
            continue;
        fprintf(out, "%s%lu %s", first ? "" : ", ", n[i],
                w2j_action_name((enum w2j_action) actions[i]));
        first = false;
    }
    if (first)
        fputs("nothing", out);
}

static void
print_summary(struct summary *s)
{
    size_t i;

    if (s->ntables > 0)
        qsort(s->tables, s->ntables, sizeof(s->tables[0]), compare_tables);
    fprintf(stderr, "decoded %lu message%s: ", s->messages, s->messages == 1 ? "" : "s");
    print_counts(stderr, s->n);
    fputc('\n', stderr);
    for (i = 0; i < s->ntables; i++)
    {
        fprintf(stderr, "  %s: ", s->tables[i].name);
        print_counts(stderr, s->tables[i].n);
        fputc('\n', stderr);
    }
}

static void
free_summary(struct summary *s)
{
    size_t i;

    for (i = 0; i < s->ntables; i++)
        free(s->tables[i].name);
    free(s->tables);
}

static void
decode_usage(FILE *out)
{
    fputs("usage: memori-bridge decode [--json] [--types] [FILE]\n"
          "\n"
          "Print a wal2json format-version 2 stream (one message per line, as\n"
          "pg_recvlogical writes it) change by change. Reads FILE, or stdin when\n"
          "FILE is - or missing. A summary of counts per action and table goes to\n"
          "stderr.\n"
          "\n"
          "  --json    one normalized JSON object per line instead of text\n"
          "  --types   show each column's type in the text form (id::integer=1)\n"
          "  --help    show this help\n",
          out);
}

/* The stream being read: one growing buffer of whole and partial lines. */
struct reader
{
    int fd;
    const char *name; /* borrowed: for messages */
    char *buf;        /* owned */
    size_t cap;       /* bytes at buf */
    size_t start;     /* first unread byte */
    size_t end;       /* one past the last byte read */
    bool eof;
    size_t max_line; /* longest line accepted */
};

/* The next line (without its newline) in *LINE, *LEN. Returns 1 for a line,
 * 0 at the end, -1 on a failure (logged). */
static int
next_line(struct reader *rd, unsigned long lineno, char **line, size_t *len)
{
    for (;;)
    {
        char *nl =
            rd->end > rd->start ? memchr(rd->buf + rd->start, '\n', rd->end - rd->start) : NULL;
        ssize_t got;

        if (nl != NULL || (rd->eof && rd->end > rd->start))
        {
            size_t stop = nl ? (size_t) (nl - rd->buf) : rd->end;

            *line = rd->buf + rd->start;
            *len = stop - rd->start;
            rd->start = nl ? stop + 1 : stop;
            return 1;
        }
        if (rd->eof)
            return 0;
        if (rd->end - rd->start > rd->max_line)
        {
            log_error("decode: %s: line %lu is longer than the limit of %zu bytes", rd->name,
                      lineno, rd->max_line);
            return -1;
        }
        /* make room: move the partial line to the front, then grow */
        if (rd->start > 0)
        {
            memmove(rd->buf, rd->buf + rd->start, rd->end - rd->start);
            rd->end -= rd->start;
            rd->start = 0;
        }
        if (rd->cap - rd->end < 65536)
        {
            size_t cap = rd->cap ? rd->cap * 2 : 1 << 20;
            char *b = realloc(rd->buf, cap);

            if (b == NULL)
            {
                log_error("decode: out of memory reading line %lu of %s", lineno, rd->name);
                return -1;
            }
            rd->buf = b;
            rd->cap = cap;
        }
        got = read(rd->fd, rd->buf + rd->end, rd->cap - rd->end);
        if (got < 0)
        {
            if (errno == EINTR)
                continue;
            log_error("decode: could not read %s: %s", rd->name, strerror(errno));
            return -1;
        }
        if (got == 0)
            rd->eof = true;
        rd->end += (size_t) got;
    }
}

int
cmd_decode(int argc, char **argv)
{
    const char *path = NULL;
    bool json = false;
    unsigned flags = 0;
    struct reader rd = {0};
    struct summary sum = {0};
    struct w2j_parser parser;
    unsigned long lineno = 0;
    int status = 0;
    int i, got;

    for (i = 1; i < argc; i++)
    {
        if (strcmp(argv[i], "--json") == 0)
            json = true;
        else if (strcmp(argv[i], "--types") == 0)
            flags |= RENDER_TYPES;
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
        {
            decode_usage(stdout);
            return 0;
        }
        else if (argv[i][0] == '-' && argv[i][1] != '\0')
        {
            log_error("decode: unknown option \"%s\"", argv[i]);
            decode_usage(stderr);
            return 2;
        }
        else if (path != NULL)
        {
            log_error("decode: more than one file given (\"%s\" and \"%s\")", path, argv[i]);
            decode_usage(stderr);
            return 2;
        }
        else
            path = argv[i];
    }

    if (path == NULL || strcmp(path, "-") == 0)
    {
        rd.fd = STDIN_FILENO;
        rd.name = "stdin";
    }
    else
    {
        rd.fd = open(path, O_RDONLY | O_CLOEXEC);
        rd.name = path;
        if (rd.fd < 0)
        {
            log_error("decode: could not open \"%s\": %s", path, strerror(errno));
            return 1;
        }
    }
    w2j_parser_init(&parser, NULL, NULL);
    rd.max_line = parser.limits.max_message;

    for (;;)
    {
        struct w2j_record rec;
        struct w2j_error err;
        char *line;
        size_t len;

        got = next_line(&rd, lineno + 1, &line, &len);
        if (got < 0)
        {
            status = 1;
            break;
        }
        if (got == 0)
            break;
        lineno++;
        if (len == 0 || (len == 1 && line[0] == '\r'))
            continue;
        if (!w2j_parse(&parser, line, len, &rec, &err))
        {
            fflush(stdout);
            log_error("decode: %s: line %lu, byte %zu: %s", rd.name, lineno, err.offset + 1,
                      err.message);
            status = 1;
            break;
        }
        if (json)
            render_json(stdout, &rec);
        else
            render_text(stdout, &rec, flags);
        sum.messages++;
        sum.n[action_index(rec.action)]++;
        if (rec.table != NULL && !count_table(&sum, &rec))
        {
            log_error("decode: out of memory counting tables");
            status = 1;
            break;
        }
    }
    if (fflush(stdout) != 0 || ferror(stdout))
    {
        log_error("decode: could not write the output: %s", strerror(errno));
        status = 1;
    }
    print_summary(&sum);
    free_summary(&sum);
    w2j_parser_free(&parser);
    free(rd.buf);
    if (rd.fd != STDIN_FILENO)
        close(rd.fd);
    return status;
}
