/*
 * decode_bench.c - decoding a real wal2json stream, by one decoder.
 *
 *   decode_bench_{w2j,jansson,jsonc} STREAM.jsonl [RUNS]
 *
 * Built three times, once per decoder (BENCH_W2J, BENCH_JANSSON, BENCH_JSONC):
 * jansson and json-c both define json_object_get(), so they cannot share a
 * process. bench/decode.sh runs the three on the same stream and prints the
 * comparison.
 *
 * STREAM is newline-delimited wal2json format-version 2 (bench/capture.sh
 * writes one). Every message is loaded into its own exactly-sized buffer
 * first; then the decoder takes every message RUNS times (default 5), on one
 * thread. Each decoder does the same work: it parses the message and reads the
 * action and, for every column of "columns" and "identity", the name and the
 * value's text. For jansson and json-c that is a parse into their document
 * tree and a walk of it; for w2j_parse the record it fills.
 *
 * Output, one line: name, median seconds, bytes, messages, row changes,
 * columns read, then every run's seconds.
 */
#if defined(BENCH_JANSSON)
#include <jansson.h>
#elif defined(BENCH_JSONC)
#include <json-c/json.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "decoder/w2j.h"

/* The loaded stream. */
struct stream
{
    char **msg;            /* owned: one exactly-sized buffer per message */
    size_t *len;           /* owned */
    size_t n;              /* messages */
    size_t bytes;          /* total */
    unsigned long changes; /* row changes (I, U, D, T) */
};

/* What each decoder reads, summed, so that nothing is optimised away and the
 * three can be checked to agree. */
struct seen
{
    unsigned long columns;
    unsigned long value_bytes;
};

static double
now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static bool
load(const char *path, struct stream *s)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0, alloc = 0;
    ssize_t n;

    if (f == NULL)
    {
        fprintf(stderr, "decode_bench: could not open \"%s\"\n", path);
        return false;
    }
    memset(s, 0, sizeof(*s));
    while ((n = getline(&line, &cap, f)) > 0)
    {
        if (line[n - 1] == '\n')
            n--;
        if (n == 0)
            continue;
        if (s->n == alloc)
        {
            alloc = alloc ? alloc * 2 : 1024;
            s->msg = realloc(s->msg, alloc * sizeof(char *));
            s->len = realloc(s->len, alloc * sizeof(size_t));
            if (s->msg == NULL || s->len == NULL)
                return false;
        }
        s->msg[s->n] = malloc((size_t) n);
        if (s->msg[s->n] == NULL)
            return false;
        memcpy(s->msg[s->n], line, (size_t) n);
        s->len[s->n] = (size_t) n;
        s->bytes += (size_t) n;
        if (n > 12 && memcmp(line, "{\"action\":\"", 11) == 0 && strchr("IUDT", line[11]) != NULL)
            s->changes++;
        s->n++;
    }
    free(line);
    fclose(f);
    return s->n > 0;
}

#if defined(BENCH_W2J)
#define BENCH_NAME "memori-bridge-w2j"
#define BENCH_RUN  run_w2j

/* memori-bridge's decoder. */
static bool
run_w2j(const struct stream *s, struct seen *seen)
{
    struct w2j_parser p;
    size_t i;
    uint32_t c;

    w2j_parser_init(&p, NULL, NULL);
    for (i = 0; i < s->n; i++)
    {
        struct w2j_record r;
        struct w2j_error err;

        if (!w2j_parse(&p, s->msg[i], s->len[i], &r, &err))
        {
            fprintf(stderr, "w2j: message %zu: byte %zu: %s\n", i + 1, err.offset, err.message);
            return false;
        }
        for (c = 0; c < r.ncolumns; c++)
        {
            seen->columns++;
            seen->value_bytes += r.columns[c].value.len + r.columns[c].name_len;
        }
        for (c = 0; c < r.nidentity; c++)
        {
            seen->columns++;
            seen->value_bytes += r.identity[c].value.len + r.identity[c].name_len;
        }
    }
    w2j_parser_free(&p);
    return true;
}

#elif defined(BENCH_JANSSON)
#define BENCH_NAME "jansson-" JANSSON_VERSION
#define BENCH_RUN  run_jansson

static void
jansson_columns(json_t *arr, struct seen *seen)
{
    size_t i;
    json_t *col;

    json_array_foreach(arr, i, col)
    {
        json_t *name = json_object_get(col, "name");
        json_t *value = json_object_get(col, "value");

        seen->columns++;
        seen->value_bytes += json_string_length(name);
        if (json_is_string(value))
            seen->value_bytes += json_string_length(value);
        else if (json_is_number(value) || json_is_boolean(value))
            seen->value_bytes += 1; /* jansson keeps no text for numbers */
    }
}

static bool
run_jansson(const struct stream *s, struct seen *seen)
{
    size_t i;

    for (i = 0; i < s->n; i++)
    {
        json_error_t err;
        json_t *root = json_loadb(s->msg[i], s->len[i], 0, &err);

        if (root == NULL)
        {
            fprintf(stderr, "jansson: message %zu: %s\n", i + 1, err.text);
            return false;
        }
        (void) json_string_value(json_object_get(root, "action"));
        jansson_columns(json_object_get(root, "columns"), seen);
        jansson_columns(json_object_get(root, "identity"), seen);
        json_decref(root);
    }
    return true;
}

#elif defined(BENCH_JSONC)
#define BENCH_NAME "json-c-" JSON_C_VERSION
#define BENCH_RUN  run_jsonc

static void
jsonc_columns(struct json_object *arr, struct seen *seen)
{
    size_t i, n;

    if (arr == NULL)
        return;
    n = json_object_array_length(arr);
    for (i = 0; i < n; i++)
    {
        struct json_object *col = json_object_array_get_idx(arr, i);
        struct json_object *name, *value;

        seen->columns++;
        if (json_object_object_get_ex(col, "name", &name))
            seen->value_bytes += (unsigned long) json_object_get_string_len(name);
        if (json_object_object_get_ex(col, "value", &value) && value != NULL)
        {
            if (json_object_is_type(value, json_type_string))
                seen->value_bytes += (unsigned long) json_object_get_string_len(value);
            else
                seen->value_bytes += 1;
        }
    }
}

static bool
run_jsonc(const struct stream *s, struct seen *seen)
{
    struct json_tokener *tok = json_tokener_new_ex(64);
    size_t i;

    for (i = 0; i < s->n; i++)
    {
        struct json_object *root, *v;

        json_tokener_reset(tok);
        root = json_tokener_parse_ex(tok, s->msg[i], (int) s->len[i]);
        if (root == NULL)
        {
            fprintf(stderr, "json-c: message %zu: %s\n", i + 1,
                    json_tokener_error_desc(json_tokener_get_error(tok)));
            json_tokener_free(tok);
            return false;
        }
        if (json_object_object_get_ex(root, "action", &v))
            (void) json_object_get_string(v);
        if (json_object_object_get_ex(root, "columns", &v))
            jsonc_columns(v, seen);
        if (json_object_object_get_ex(root, "identity", &v))
            jsonc_columns(v, seen);
        json_object_put(root);
    }
    json_tokener_free(tok);
    return true;
}

#endif

static int
compare_double(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;

    return (x > y) - (x < y);
}

int
main(int argc, char **argv)
{
    struct stream s;
    struct seen seen = {0, 0};
    double t[100], sorted[100];
    int runs = argc > 2 ? (int) strtol(argv[2], NULL, 10) : 5;
    int r;
    size_t i;

    if (argc < 2 || runs < 1 || runs > 100)
    {
        fprintf(stderr, "usage: %s STREAM.jsonl [RUNS (1-100)]\n", argv[0]);
        return 2;
    }
    if (!load(argv[1], &s))
    {
        fprintf(stderr, "%s: could not load \"%s\"\n", argv[0], argv[1]);
        return 1;
    }
    for (r = 0; r < runs; r++)
    {
        double t0 = now();

        seen.columns = 0;
        seen.value_bytes = 0;
        if (!BENCH_RUN(&s, &seen))
            return 1;
        t[r] = now() - t0;
    }
    memcpy(sorted, t, sizeof(double) * (size_t) runs);
    qsort(sorted, (size_t) runs, sizeof(double), compare_double);
    printf("%s %.6f %zu %zu %lu %lu", BENCH_NAME, sorted[runs / 2], s.bytes, s.n, s.changes,
           seen.columns);
    for (r = 0; r < runs; r++)
        printf(" %.6f", t[r]);
    printf("\n");
    for (i = 0; i < s.n; i++)
        free(s.msg[i]);
    free(s.msg);
    free(s.len);
    return 0;
}
