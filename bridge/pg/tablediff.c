/*
 * tablediff.c - the differences between two sides' table definitions, and
 * the statements that fix them (tablediff.h says which the bridge runs).
 *
 * Objects are matched by name: a table by schema and name, a column, a
 * constraint or an index by its name within the table. Definitions are
 * compared as the servers print them (search_path = '' on both, tabledef.h).
 */
#include "bridge/pg/tablediff.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/base/log.h"

#define QI_LEN 200 /* a quoted identifier: NAMEDATALEN (64) doubled, and quotes */

static const char data_none[] = "no data changes";
static const char data_drop_table[] = "its rows go, as they did on the side streamed from";
static const char data_drop_column[] = "its values go, as they did on the side streamed from";
static const char data_convert[] = "existing values are converted; a value that does not "
                                   "convert makes it fail, changing nothing";
static const char data_fill[] = "the rows get the values they have on the side streamed from";

static char *dupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *
dupf(const char *fmt, ...)
{
    va_list ap;
    int n;
    char *s;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || (s = malloc((size_t) n + 1)) == NULL)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t) n + 1, fmt, ap);
    va_end(ap);
    return s;
}

/* NAME quoted into BUF (QI_LEN bytes); "?" when it cannot be. */
static const char *
qi(const char *name, char *buf)
{
    if (!pgconn_quote_ident(name, buf, QI_LEN))
        snprintf(buf, QI_LEN, "\"?\"");
    return buf;
}

/* ---- types ------------------------------------------------------------- */

const char *
tablediff_type_norm(const char *type, char *buf, size_t len)
{
    const char *p, *start = type;
    bool quoted = false;

    for (p = type; *p != '\0'; p++)
    {
        if (*p == '"')
            quoted = !quoted;
        else if (!quoted && (*p == '(' || *p == '['))
            break;
        else if (!quoted && *p == '.')
            start = p + 1;
    }
    snprintf(buf, len, "%s", start);
    return buf;
}

/* The base name of TYPE (without modifiers and array brackets) into NAME,
 * its modifiers into MOD1 and MOD2 (-1 when absent), and its array
 * dimensions into *DIMS. */
static void
parse_type(const char *type, char *name, size_t len, long *mod1, long *mod2, int *dims)
{
    const char *p = type, *paren = strchr(type, '(');
    size_t n;

    *mod1 = *mod2 = -1;
    *dims = 0;
    for (p = type + strlen(type); p - type >= 2 && p[-1] == ']' && p[-2] == '['; p -= 2)
        (*dims)++;
    n = (size_t) (p - type);
    if (paren != NULL && paren < p)
    {
        char *end;

        *mod1 = strtol(paren + 1, &end, 10);
        if (*end == ',')
            *mod2 = strtol(end + 1, &end, 10);
        n = (size_t) (paren - type);
    }
    while (n > 0 && type[n - 1] == ' ')
        n--;
    snprintf(name, len, "%.*s", (int) n, type);
}

static int
int_rank(const char *name)
{
    if (strcmp(name, "smallint") == 0)
        return 1;
    if (strcmp(name, "integer") == 0)
        return 2;
    if (strcmp(name, "bigint") == 0)
        return 3;
    return 0;
}

bool
tablediff_type_fits(const char *narrow, const char *wide)
{
    char a[128], b[128], na[64], nb[64];
    long a1, a2, b1, b2;
    int ad, bd;

    tablediff_type_norm(narrow, a, sizeof(a));
    tablediff_type_norm(wide, b, sizeof(b));
    if (strcmp(a, b) == 0)
        return true;
    parse_type(a, na, sizeof(na), &a1, &a2, &ad);
    parse_type(b, nb, sizeof(nb), &b1, &b2, &bd);
    if (ad != bd)
        return false;
    if (strcmp(na, "character varying") == 0)
        return strcmp(nb, "text") == 0 ||
               (strcmp(nb, "character varying") == 0 && (b1 < 0 || (a1 >= 0 && b1 >= a1)));
    if (int_rank(na) > 0)
        return (int_rank(nb) > int_rank(na)) || (strcmp(nb, "numeric") == 0 && b1 < 0);
    if (strcmp(na, "numeric") == 0 && strcmp(nb, "numeric") == 0)
    {
        long as = a2 < 0 ? 0 : a2, bs = b2 < 0 ? 0 : b2;

        if (b1 < 0)
            return true; /* unconstrained takes any */
        return a1 >= 0 && bs >= as && b1 - bs >= a1 - as;
    }
    return strcmp(na, "real") == 0 && strcmp(nb, "double precision") == 0;
}

/* ---- statements -------------------------------------------------------- */

bool
tablediff_column_clause(const struct td_column *c, const char *name, const char *default_override,
                        char *buf, size_t len)
{
    char q[QI_LEN];
    const char *def = default_override ? default_override : c->def;
    int n;

    n = snprintf(buf, len, "%s %s%s%s", qi(name, q), c->type, c->collation ? " COLLATE " : "",
                 c->collation ? c->collation : "");
    if (c->generated == 's' && c->genexpr != NULL)
        n += snprintf(buf + n, n < (int) len ? len - (size_t) n : 0,
                      " GENERATED ALWAYS AS (%s) STORED", c->genexpr);
    else if (def != NULL)
        n += snprintf(buf + n, n < (int) len ? len - (size_t) n : 0, " DEFAULT %s", def);
    if (c->identity == 'a' || c->identity == 'd')
        n += snprintf(buf + n, n < (int) len ? len - (size_t) n : 0, " GENERATED %s AS IDENTITY",
                      c->identity == 'a' ? "ALWAYS" : "BY DEFAULT");
    if (c->notnull)
        n += snprintf(buf + n, n < (int) len ? len - (size_t) n : 0, " NOT NULL");
    return n >= 0 && (size_t) n < len;
}

/* ---- the comparison ---------------------------------------------------- */

struct builder
{
    struct td_diffs *out;
    int cap;
    const char *from_role, *to_role;
    bool oom;
};

static struct td_diff *
add(struct builder *b, enum td_kind kind, bool automatic, const struct td_table *from,
    const struct td_table *to, const char *object)
{
    const struct td_table *t = from ? from : to;
    struct td_diff *d;

    if (b->out->n == b->cap)
    {
        int cap = b->cap ? b->cap * 2 : 8;
        struct td_diff *grown = realloc(b->out->d, (size_t) cap * sizeof(*grown));

        if (grown == NULL)
        {
            b->oom = true;
            return NULL;
        }
        b->out->d = grown;
        b->cap = cap;
    }
    d = &b->out->d[b->out->n++];
    memset(d, 0, sizeof(*d));
    d->kind = kind;
    d->automatic = automatic;
    d->from = from;
    d->to = to;
    d->data = data_none;
    snprintf(d->label, sizeof(d->label), "%s.%s", t->schema, t->name);
    snprintf(d->key, sizeof(d->key), "%d %s.%s %s", (int) kind, t->schema, t->name,
             object ? object : "");
    return d;
}

static void
set_text(struct builder *b, struct td_diff *d, char *what, char *fix)
{
    if (d == NULL)
    {
        free(what);
        free(fix);
        return;
    }
    d->what = what;
    d->fix = fix;
    if (what == NULL || fix == NULL)
        b->oom = true;
}

/* The one column of FROM missing on TO with the type of C (a rename candidate). */
static const struct td_column *
renamed_to(const struct td_table *from, const struct td_table *to, const struct td_column *c)
{
    const struct td_column *found = NULL;
    int i;

    for (i = 0; i < from->ncols; i++)
        if (td_column_named(to, from->cols[i].name) == NULL &&
            strcmp(from->cols[i].type, c->type) == 0)
        {
            if (found != NULL)
                return NULL;
            found = &from->cols[i];
        }
    return found;
}

static void
compare_columns(struct builder *b, const struct td_table *f, const struct td_table *t)
{
    char q[QI_LEN], q2[QI_LEN], clause[2048];
    int i;

    for (i = 0; i < f->ncols; i++)
    {
        const struct td_column *fc = &f->cols[i], *tc = td_column_named(t, fc->name);
        struct td_diff *d;

        qi(fc->name, q);
        if (tc == NULL)
        {
            d = add(b, TD_COLUMN_MISSING, true, f, t, fc->name);
            if (d != NULL)
            {
                d->col = fc;
                d->data = data_fill;
            }
            tablediff_column_clause(fc, fc->name, NULL, clause, sizeof(clause));
            set_text(
                b, d,
                dupf("column %s of %s.%s is on the %s only", q, f->schema, f->name, b->from_role),
                dupf("ALTER TABLE %s ADD COLUMN %s", t->qualified, clause));
            continue;
        }
        if (strcmp(fc->type, tc->type) != 0)
        {
            bool widened = tablediff_type_fits(tc->type, fc->type);

            d = add(b, TD_COLUMN_TYPE, widened, f, t, fc->name);
            if (d != NULL)
            {
                d->col = fc;
                d->data = widened ? data_none : data_convert;
            }
            set_text(b, d,
                     dupf("column %s of %s.%s is %s on the %s, %s on the %s", q, f->schema, f->name,
                          fc->type, b->from_role, tc->type, b->to_role),
                     widened
                         ? dupf("ALTER TABLE %s ALTER COLUMN %s TYPE %s", t->qualified, q, fc->type)
                         : dupf("ALTER TABLE %s ALTER COLUMN %s TYPE %s USING %s::%s", t->qualified,
                                q, fc->type, q, fc->type));
        }
        if ((fc->def == NULL) != (tc->def == NULL) ||
            (fc->def != NULL && strcmp(fc->def, tc->def) != 0))
        {
            d = add(b, TD_COLUMN_DEFAULT, true, f, t, fc->name);
            if (d != NULL)
                d->col = fc;
            set_text(b, d,
                     dupf("column %s of %s.%s has default %s on the %s, %s on the %s", q, f->schema,
                          f->name, fc->def ? fc->def : "none", b->from_role,
                          tc->def ? tc->def : "none", b->to_role),
                     fc->def
                         ? dupf("ALTER TABLE %s ALTER COLUMN %s SET DEFAULT %s", t->qualified, q,
                                fc->def)
                         : dupf("ALTER TABLE %s ALTER COLUMN %s DROP DEFAULT", t->qualified, q));
        }
        if (fc->notnull != tc->notnull)
        {
            d = add(b, TD_COLUMN_NOTNULL, true, f, t, fc->name);
            if (d != NULL)
                d->col = fc;
            set_text(b, d,
                     dupf("column %s of %s.%s is %s on the %s, %s on the %s", q, f->schema, f->name,
                          fc->notnull ? "NOT NULL" : "nullable", b->from_role,
                          tc->notnull ? "NOT NULL" : "nullable", b->to_role),
                     dupf("ALTER TABLE %s ALTER COLUMN %s %s NOT NULL", t->qualified, q,
                          fc->notnull ? "SET" : "DROP"));
        }
        if ((fc->collation == NULL) != (tc->collation == NULL) ||
            (fc->collation && strcmp(fc->collation, tc->collation) != 0) ||
            fc->generated != tc->generated || fc->identity != tc->identity ||
            (fc->genexpr && tc->genexpr && strcmp(fc->genexpr, tc->genexpr) != 0))
        {
            d = add(b, TD_COLUMN_OTHER, false, f, t, fc->name);
            if (d != NULL)
                d->col = fc;
            tablediff_column_clause(fc, fc->name, NULL, clause, sizeof(clause));
            set_text(b, d,
                     dupf("column %s of %s.%s differs in its collation, generation or identity: "
                          "%s on the %s",
                          q, f->schema, f->name, clause, b->from_role),
                     dupf("ALTER TABLE %s DROP COLUMN %s, ADD COLUMN %s", t->qualified, q, clause));
            if (d != NULL)
                d->data = data_drop_column;
        }
    }
    for (i = 0; i < t->ncols; i++)
    {
        const struct td_column *tc = &t->cols[i], *ren;
        struct td_diff *d;

        if (td_column_named(f, tc->name) != NULL)
            continue;
        ren = renamed_to(f, t, tc);
        qi(tc->name, q);
        if (ren != NULL)
            qi(ren->name, q2);
        d = add(b, TD_COLUMN_EXTRA, false, f, t, tc->name);
        if (d != NULL)
        {
            d->col = tc;
            d->data = data_drop_column;
        }
        if (ren != NULL)
            set_text(b, d,
                     dupf("column %s of %s.%s is on the %s only (dropped on the %s, or renamed "
                          "to %s)",
                          q, t->schema, t->name, b->to_role, b->from_role, q2),
                     dupf("ALTER TABLE %s DROP COLUMN %s (if it was dropped; its values go), or "
                          "ALTER TABLE %s RENAME COLUMN %s TO %s (if it was renamed; the values "
                          "stay)",
                          t->qualified, q, t->qualified, q, q2));
        else
            set_text(b, d,
                     dupf("column %s of %s.%s is on the %s only (dropped on the %s)", q, t->schema,
                          t->name, b->to_role, b->from_role),
                     dupf("ALTER TABLE %s DROP COLUMN %s", t->qualified, q));
    }
}

static void
compare_keys(struct builder *b, const struct td_table *f, const struct td_table *t)
{
    const struct td_constraint *fp = td_primary_key(f), *tp = td_primary_key(t);
    char q[QI_LEN], q2[QI_LEN];
    struct td_diff *d;
    int i;

    if (fp != NULL)
        qi(fp->name, q);
    if (tp != NULL)
        qi(tp->name, q2);
    if ((fp == NULL) != (tp == NULL) ||
        (fp != NULL && (strcmp(fp->def, tp->def) != 0 || strcmp(fp->name, tp->name) != 0)))
    {
        d = add(b, TD_PRIMARY_KEY, false, f, t, "primary key");
        if (fp != NULL && tp != NULL)
            set_text(b, d,
                     dupf("the primary key of %s.%s is %s %s on the %s, %s %s on the %s", f->schema,
                          f->name, q, fp->def, b->from_role, q2, tp->def, b->to_role),
                     dupf("ALTER TABLE %s DROP CONSTRAINT %s, ADD CONSTRAINT %s %s", t->qualified,
                          q2, q, fp->def));
        else if (fp != NULL)
            set_text(b, d,
                     dupf("%s.%s has primary key %s %s on the %s, none on the %s", f->schema,
                          f->name, q, fp->def, b->from_role, b->to_role),
                     dupf("ALTER TABLE %s ADD CONSTRAINT %s %s", t->qualified, q, fp->def));
        else
            set_text(b, d,
                     dupf("%s.%s has no primary key on the %s, %s %s on the %s", f->schema, f->name,
                          b->from_role, q, tp->def, b->to_role),
                     dupf("ALTER TABLE %s DROP CONSTRAINT %s", t->qualified, q));
    }
    for (i = 0; i < f->ncons; i++)
    {
        const struct td_constraint *fc = &f->cons[i], *tc = td_constraint_named(t, fc->name);

        if (fc->type == 'p')
            continue;
        qi(fc->name, q);
        if (tc == NULL)
        {
            d = add(b, TD_CONSTRAINT_MISSING, true, f, t, fc->name);
            set_text(b, d,
                     dupf("constraint %s of %s.%s is on the %s only", q, f->schema, f->name,
                          b->from_role),
                     dupf("ALTER TABLE %s ADD CONSTRAINT %s %s", t->qualified, q, fc->def));
        }
        else if (strcmp(fc->def, tc->def) != 0)
        {
            d = add(b, TD_CONSTRAINT_DIFFERS, false, f, t, fc->name);
            set_text(b, d,
                     dupf("constraint %s of %s.%s is %s on the %s, %s on the %s", q, f->schema,
                          f->name, fc->def, b->from_role, tc->def, b->to_role),
                     dupf("ALTER TABLE %s DROP CONSTRAINT %s, ADD CONSTRAINT %s %s", t->qualified,
                          q, q, fc->def));
        }
    }
    for (i = 0; i < t->ncons; i++)
        if (t->cons[i].type != 'p' && td_constraint_named(f, t->cons[i].name) == NULL)
        {
            qi(t->cons[i].name, q);
            d = add(b, TD_CONSTRAINT_EXTRA, false, f, t, t->cons[i].name);
            set_text(
                b, d,
                dupf("constraint %s of %s.%s is on the %s only", q, t->schema, t->name, b->to_role),
                dupf("ALTER TABLE %s DROP CONSTRAINT %s", t->qualified, q));
        }
}

static void
compare_indexes(struct builder *b, const struct td_table *f, const struct td_table *t)
{
    char q[QI_LEN], s[QI_LEN];
    struct td_diff *d;
    int i;

    for (i = 0; i < f->nidx; i++)
    {
        const struct td_index *fi = &f->idx[i], *ti = td_index_named(t, fi->name);

        qi(fi->name, q);
        qi(t->schema, s);
        if (ti == NULL)
        {
            d = add(b, TD_INDEX_MISSING, true, f, t, fi->name);
            set_text(
                b, d,
                dupf("index %s of %s.%s is on the %s only", q, f->schema, f->name, b->from_role),
                dupf("%s", fi->def));
        }
        else if (strcmp(fi->def, ti->def) != 0)
        {
            d = add(b, TD_INDEX_DIFFERS, false, f, t, fi->name);
            set_text(b, d,
                     dupf("index %s of %s.%s is %s on the %s, %s on the %s", q, f->schema, f->name,
                          fi->def, b->from_role, ti->def, b->to_role),
                     dupf("DROP INDEX %s.%s; %s", s, q, fi->def));
        }
    }
    for (i = 0; i < t->nidx; i++)
        if (td_index_named(f, t->idx[i].name) == NULL)
        {
            qi(t->idx[i].name, q);
            qi(t->schema, s);
            d = add(b, TD_INDEX_EXTRA, false, f, t, t->idx[i].name);
            set_text(b, d,
                     dupf("index %s of %s.%s is on the %s only", q, t->schema, t->name, b->to_role),
                     dupf("DROP INDEX %s.%s", s, q));
        }
}

static void
compare_replident(struct builder *b, const struct td_table *f, const struct td_table *t)
{
    char q[QI_LEN];
    struct td_diff *d;

    if (f->replident == t->replident &&
        (f->replident != 'i' ||
         (f->replindex && t->replindex && strcmp(f->replindex, t->replindex) == 0)))
        return;
    if (f->replindex != NULL)
        qi(f->replindex, q);
    d = add(b, TD_REPLIDENT, true, f, t, "replica identity");
    set_text(b, d,
             dupf("the replica identity of %s.%s differs (%c on the %s, %c on the %s)", f->schema,
                  f->name, f->replident, b->from_role, t->replident, b->to_role),
             f->replident == 'i' && f->replindex
                 ? dupf("ALTER TABLE %s REPLICA IDENTITY USING INDEX %s", t->qualified, q)
                 : dupf("ALTER TABLE %s REPLICA IDENTITY %s", t->qualified,
                        f->replident == 'f'   ? "FULL"
                        : f->replident == 'n' ? "NOTHING"
                                              : "DEFAULT"));
}

/* The one table of FROM that TO lacks, or NULL (none, or several). */
static const struct td_table *
new_table(const struct tabledefs *from, const struct tabledefs *to)
{
    const struct td_table *found = NULL;
    int i;

    for (i = 0; i < from->ntables; i++)
        if (tabledefs_find(to, from->tables[i].schema, from->tables[i].name) == NULL)
        {
            if (found != NULL)
                return NULL;
            found = &from->tables[i];
        }
    return found;
}

bool
tablediff(const struct tabledefs *from, const struct tabledefs *to, const char *from_role,
          const char *to_role, struct td_diffs *out)
{
    struct builder b = {out, 0, from_role, to_role, false};
    char q[QI_LEN];
    int i;

    memset(out, 0, sizeof(*out));
    for (i = 0; i < from->ntables && !b.oom; i++)
    {
        const struct td_table *f = &from->tables[i], *t = tabledefs_find(to, f->schema, f->name);
        struct td_diff *d;

        if (t == NULL)
        {
            d = add(&b, TD_TABLE_MISSING, true, f, NULL, NULL);
            set_text(&b, d, dupf("table %s.%s is on the %s only", f->schema, f->name, from_role),
                     dupf("CREATE TABLE %s (...), as on the %s", f->qualified, from_role));
            continue;
        }
        compare_columns(&b, f, t);
        compare_keys(&b, f, t);
        compare_indexes(&b, f, t);
        compare_replident(&b, f, t);
    }
    for (i = 0; i < to->ntables && !b.oom; i++)
    {
        const struct td_table *t = &to->tables[i], *ren;
        struct td_diff *d;

        if (tabledefs_find(from, t->schema, t->name) != NULL)
            continue;
        d = add(&b, TD_TABLE_EXTRA, false, NULL, t, NULL);
        if (d != NULL)
            d->data = data_drop_table;
        ren = new_table(from, to);
        if (ren != NULL)
            qi(ren->name, q);
        if (ren != NULL && strcmp(ren->schema, t->schema) == 0)
            set_text(&b, d,
                     dupf("table %s.%s is on the %s only (dropped on the %s, or renamed to %s)",
                          t->schema, t->name, to_role, from_role, ren->name),
                     dupf("DROP TABLE %s (if it was dropped; its rows go), or ALTER TABLE %s "
                          "RENAME TO %s (if it was renamed; the rows stay)",
                          t->qualified, t->qualified, q));
        else
            set_text(&b, d,
                     dupf("table %s.%s is on the %s only (dropped on the %s)", t->schema, t->name,
                          to_role, from_role),
                     dupf("DROP TABLE %s", t->qualified));
    }
    if (b.oom)
    {
        log_error("out of memory comparing the table definitions");
        tablediff_free(out);
        return false;
    }
    return true;
}

void
tablediff_free(struct td_diffs *diffs)
{
    int i;

    for (i = 0; i < diffs->n; i++)
    {
        free(diffs->d[i].what);
        free(diffs->d[i].fix);
    }
    free(diffs->d);
    memset(diffs, 0, sizeof(*diffs));
}
