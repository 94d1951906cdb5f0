/*
 * verify_report.c - verify's report: a table per object and a verdict, or
 * the same as one JSON object; and the exit status.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/base/log.h"
#include "bridge/cmd/verify_int.h"

/* "1000/t" against "990/t": is the target's sequence behind? */
static bool
seq_behind(const struct vseq *s)
{
    long long a, b;

    if (strcmp(s->dst, "missing") == 0)
        return true;
    a = strtoll(s->src, NULL, 10);
    b = strtoll(s->dst, NULL, 10);
    if (b != a)
        return b < a;
    return strstr(s->src, "/t") != NULL && strstr(s->dst, "/f") != NULL;
}

int
verify_report(struct verify *v)
{
    int i, differences = 0;

    for (i = 0; i < v->ntables; i++)
        differences += !v->tables[i].schema_equal || !v->tables[i].content_equal;
    for (i = 0; i < v->nseqs; i++)
        differences += !v->streaming && seq_behind(&v->seqs[i]);
    differences += v->schema.n;

    if (v->json)
    {
        char buf[4096];
        int n;

        bool rev = v->dir.reverse;

        /* source_* and target_* name the sides as the settings do, in
         * either direction; the point is a position on the side memori
         * lives on ("direction") */
        printf("{\"direction\":\"%s\",\"point\":\"%s\",\"bridge_paused\":%s,\"equal\":%s,"
               "\"tables\":[",
               direction_name(&v->dir), v->point, v->streaming ? "true" : "false",
               differences ? "false" : "true");
        for (i = 0; i < v->ntables; i++)
        {
            struct vtable *t = &v->tables[i];
            int c;

            n = log_json_string(buf, 0, sizeof(buf), t->label);
            printf("%s{\"table\":%s,\"schema_equal\":%s,\"source_rows\":%lld,\"target_rows\":%lld,"
                   "\"content_equal\":%s,\"differing_chunks\":%d,\"differing_ranges\":[",
                   i ? "," : "", buf, t->schema_equal ? "true" : "false",
                   rev ? t->dst_rows : t->src_rows, rev ? t->src_rows : t->dst_rows,
                   t->schema_equal && t->content_equal ? "true" : "false", t->nbad);
            for (c = 0; c < t->nbad && c < SHOW_CHUNKS && t->key; c++)
                printf("%s[%lld,%lld]", c ? "," : "", t->bad[c] * v->width,
                       (t->bad[c] + 1) * v->width);
            n = log_json_string(buf, 0, sizeof(buf), t->keys);
            printf("],\"keys\":%s,\"nan_or_infinity_rows\":%lld", buf, t->special_rows);
            if (!t->schema_equal)
            {
                const char *from = t->src_cols ? t->src_cols : "";
                const char *to = t->dst_cols ? t->dst_cols : "";

                printf(",\"source_columns\":");
                n = log_json_string(buf, 0, sizeof(buf), rev ? to : from);
                printf("%s,\"target_columns\":", buf);
                n = log_json_string(buf, 0, sizeof(buf), rev ? from : to);
                printf("%s", buf);
            }
            printf("}");
        }
        printf("],\"sequences\":[");
        for (i = 0; i < v->nseqs; i++)
        {
            n = log_json_string(buf, 0, sizeof(buf), v->seqs[i].name);
            printf("%s{\"sequence\":%s,\"source\":\"%s\",\"target\":\"%s\",\"behind\":%s}",
                   i ? "," : "", buf, rev ? v->seqs[i].dst : v->seqs[i].src,
                   rev ? v->seqs[i].src : v->seqs[i].dst,
                   seq_behind(&v->seqs[i]) ? "true" : "false");
        }
        printf("],\"schema_differences\":[");
        for (i = 0; i < v->schema.n; i++)
        {
            const struct td_diff *d = &v->schema.d[i];

            n = log_json_string(buf, 0, sizeof(buf), d->label);
            printf("%s{\"table\":%s,\"difference\":", i ? "," : "", buf);
            n = log_json_string(buf, 0, sizeof(buf), d->what);
            printf("%s,\"fix\":", buf);
            n = log_json_string(buf, 0, sizeof(buf), d->fix);
            printf("%s,\"data\":", buf);
            n = log_json_string(buf, 0, sizeof(buf), d->data);
            printf("%s,\"bridge_follows\":%s}", buf, d->automatic ? "true" : "false");
        }
        (void) n;
        printf("]}\n");
        return differences ? EXIT_DIFFERENT : 0;
    }

    if (v->dir.reverse)
        printf("memori lives on the target (cut over): the target is compared with the source, "
               "which the bridge streams it back to\n");
    printf("%-40s %14s %14s  %s\n", "object", v->dir.from_role, v->dir.to_role, "result");
    for (i = 0; i < v->ntables; i++)
    {
        struct vtable *t = &v->tables[i];
        char name[256];

        snprintf(name, sizeof(name), "%s (columns)", t->label);
        if (!t->schema_equal)
        {
            printf("%-40s %14s %14s  DIFFERS: %s (%s), %s (%s)\n", name, "", "", v->dir.from_role,
                   t->src_cols ? t->src_cols : "", v->dir.to_role,
                   t->dst_cols ? t->dst_cols : "no such table");
            continue;
        }
        printf("%-40s %14s %14s  equal\n", name, "", "");
        snprintf(name, sizeof(name), "%s (rows)", t->label);
        if (t->content_equal)
        {
            printf("%-40s %14lld %14lld  equal\n", name, t->src_rows, t->dst_rows);
            continue;
        }
        printf("%-40s %14lld %14lld  DIFFERS", name, t->src_rows, t->dst_rows);
        if (t->key != NULL)
        {
            int c;

            printf(" in %d chunk%s of keys:", t->nbad, t->nbad == 1 ? "" : "s");
            for (c = 0; c < t->nbad && c < SHOW_CHUNKS; c++)
                printf(" [%lld, %lld)", t->bad[c] * v->width, (t->bad[c] + 1) * v->width);
            if (t->nbad > SHOW_CHUNKS)
                printf(" ...");
        }
        else
            printf(" (no single integer key: the table is hashed whole)");
        putchar('\n');
        if (t->keys[0])
            printf("%-40s %14s %14s  keys: %s\n", "", "", "", t->keys);
        if (t->special_rows > 0)
            printf("%-40s %14s %14s  %lld %s row%s hold NaN or +-Infinity in a number column: "
                   "wal2json 2.5 sends those as NULL\n",
                   "", "", "", t->special_rows, v->dir.from_role, t->special_rows == 1 ? "" : "s");
    }
    for (i = 0; i < v->nseqs; i++)
    {
        const struct vseq *s = &v->seqs[i];
        char name[320];

        snprintf(name, sizeof(name), "sequence %s", s->name);
        printf("%-40s %14s %14s  %s\n", name, s->src, s->dst,
               !seq_behind(s) ? "equal or ahead"
               : v->streaming
                   ? (v->dir.reverse ? "behind (expected while streaming: rollback sets it)"
                                     : "behind (expected while streaming: cutover sets it)")
                   : "BEHIND");
    }
    for (i = 0; i < v->schema.n; i++)
    {
        const struct td_diff *d = &v->schema.d[i];

        printf("schema of %s DIFFERS: %s; fix, on the %s: %s (%s)%s\n", d->label, d->what,
               v->dir.to_role, d->fix, d->data,
               d->automatic ? "; a running bridge does this by itself" : "");
    }
    printf("verdict: %s at %s position %s\n", differences ? "DIFFERENT" : "equal", v->dir.from_role,
           v->point);
    return differences ? EXIT_DIFFERENT : 0;
}
