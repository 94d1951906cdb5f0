/*
 * w2j.c - a parser for wal2json format-version 2 messages.
 *
 * NOTES
 *
 * This is not a general JSON parser. It knows the shape of a v2 message (one
 * object of scalar fields, plus "columns" and "identity": arrays of column
 * objects) and fills a struct w2j_record in one pass, without building a
 * tree. Unknown fields are validated and skipped, so that a newer wal2json
 * that adds fields still decodes.
 *
 * Strings are unescaped into the parser's arena with a NUL after each. The
 * arena is sized before parsing to len + 64 bytes, which every message fits,
 * because output never gets ahead of input: a kept value takes its unescaped
 * bytes (never more than its escaped ones), a NUL and, for a column value,
 * two spare bytes for bytea's "\x", while it consumed its two quotes and the
 * ':' before it; a number takes its digits and a NUL after consuming its
 * digits and a ':'; field names are compared and their room given back. The
 * 16-byte stores of the string scan stay inside the room of the input still
 * unread. Each write still checks the room left, so a bug in that reasoning
 * is an error ("internal error"), never an overflow.
 *
 * In place (w2j_parse_in_place) the arena is the message itself. The same
 * bound holds there with nothing to spare: at each kept string or number the
 * output is at least one byte behind the input, and two more before a column
 * value (bytea's "\x"), since the field name and ':' before it were read and
 * given back. Unescaping never makes the output longer than what it read, so
 * the output only ever overwrites input already read. jscan.c keeps its
 * 16-byte stores within the same rule.
 *
 * The JSON lexing itself (strings, numbers, UTF-8) is in jscan.c.
 */
#include "decoder/w2j.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decoder/hex.h"
#include "decoder/jscan.h"

/* Field names the parser knows. */
enum field
{
    F_UNKNOWN = 0,
    F_ACTION,
    F_XID,
    F_TIMESTAMP,
    F_LSN,
    F_NEXTLSN,
    F_SCHEMA,
    F_TABLE,
    F_COLUMNS,
    F_IDENTITY,
    F_TRANSACTIONAL,
    F_PREFIX,
    F_CONTENT,
    F_NFIELDS
};

static const char *const field_names[F_NFIELDS] = {
    "?",     "action",  "xid",      "timestamp",     "lsn",    "nextlsn", "schema",
    "table", "columns", "identity", "transactional", "prefix", "content",
};

/* Fields each action requires, and those it allows besides them. */
#define BIT(f) (1u << (f))
#define COMMON (BIT(F_ACTION) | BIT(F_XID) | BIT(F_TIMESTAMP) | BIT(F_LSN))

struct action_rule
{
    char action;
    uint32_t required;
    uint32_t allowed;
};

static const struct action_rule action_rules[] = {
    {'B', BIT(F_ACTION), COMMON | BIT(F_NEXTLSN)},
    {'C', BIT(F_ACTION), COMMON | BIT(F_NEXTLSN)},
    {'I', BIT(F_ACTION) | BIT(F_SCHEMA) | BIT(F_TABLE) | BIT(F_COLUMNS),
     COMMON | BIT(F_SCHEMA) | BIT(F_TABLE) | BIT(F_COLUMNS)},
    {'U', BIT(F_ACTION) | BIT(F_SCHEMA) | BIT(F_TABLE) | BIT(F_COLUMNS) | BIT(F_IDENTITY),
     COMMON | BIT(F_SCHEMA) | BIT(F_TABLE) | BIT(F_COLUMNS) | BIT(F_IDENTITY)},
    {'D', BIT(F_ACTION) | BIT(F_SCHEMA) | BIT(F_TABLE) | BIT(F_IDENTITY),
     COMMON | BIT(F_SCHEMA) | BIT(F_TABLE) | BIT(F_IDENTITY)},
    {'T', BIT(F_ACTION) | BIT(F_SCHEMA) | BIT(F_TABLE), COMMON | BIT(F_SCHEMA) | BIT(F_TABLE)},
    {'M', BIT(F_ACTION) | BIT(F_TRANSACTIONAL) | BIT(F_PREFIX) | BIT(F_CONTENT),
     COMMON | BIT(F_TRANSACTIONAL) | BIT(F_PREFIX) | BIT(F_CONTENT)},
};

#define BYTEAOID 17

/* The state of one parse: the JSON cursor, and where the columns go. */
struct cursor
{
    struct jscan j;            /* the scan; first, so &c->j is c */
    struct w2j_parser *parser; /* borrowed */
    uint32_t ncols;            /* entries used in parser->cols */
};

/* Fail with "field F must be WANT, found <what is there>". */
static bool
wrong_type(struct cursor *c, const char *field, const char *want)
{
    return jscan_fail(&c->j, c->j.p, "field \"%s\" must be %s, found %s", field, want,
                      jscan_type_at(&c->j));
}

/* Read a field name at c->j.p and the ':' after it. Names are short ASCII;
 * anything else cannot be a known field. */
static bool
read_field_name(struct cursor *c, const char **name, size_t *len)
{
    char *saved = c->j.out;
    char *text;

    jscan_skip_ws(&c->j);
    if (c->j.p >= c->j.end || *c->j.p != '"')
        return jscan_expected(&c->j, "a field name");
    if (!jscan_string(&c->j, true, 0, &text, len))
        return false;
    c->j.out = saved; /* the name is compared at once, then its room reused */
    *name = text;
    return jscan_eat(&c->j, ':', "':' after the field name");
}

static enum field
lookup_field(const char *s, size_t n)
{
    int f;

    for (f = 1; f < F_NFIELDS; f++)
        if (strlen(field_names[f]) == n && memcmp(field_names[f], s, n) == 0)
            return (enum field) f;
    return F_UNKNOWN;
}

/* A JSON string field into *TEXT (NULL allowed when NULLABLE and null). */
static bool
string_field(struct cursor *c, enum field f, bool nullable, const char **text, size_t *len)
{
    char *t;

    jscan_skip_ws(&c->j);
    if (c->j.p < c->j.end && *c->j.p == '"')
    {
        if (!jscan_string(&c->j, true, 0, &t, len))
            return false;
        *text = t;
        return true;
    }
    if (nullable && c->j.p < c->j.end && *c->j.p == 'n')
    {
        *text = NULL;
        *len = 0;
        return jscan_literal(&c->j, "null");
    }
    return wrong_type(c, field_names[f], nullable ? "a string or null" : "a string");
}

/* An unsigned 32-bit JSON integer (xid, typeoid). */
static bool
uint32_field(struct cursor *c, const char *name, uint32_t *out)
{
    uint64_t v = 0;
    const unsigned char *s;

    jscan_skip_ws(&c->j);
    s = c->j.p;
    if (s >= c->j.end || *s < '0' || *s > '9')
        return wrong_type(c, name, "an unsigned integer");
    while (s < c->j.end && *s >= '0' && *s <= '9')
    {
        v = v * 10 + (uint64_t) (*s - '0');
        if (v > UINT32_MAX)
            return jscan_fail(&c->j, c->j.p,
                              "field \"%s\" is out of range for a 32-bit unsigned integer", name);
        s++;
    }
    if (s < c->j.end && (*s == '.' || *s == 'e' || *s == 'E'))
        return wrong_type(c, name, "an unsigned integer");
    if (*c->j.p == '0' && s - c->j.p > 1)
        return jscan_fail(&c->j, c->j.p, "invalid number: leading zero in field \"%s\"", name);
    c->j.p = s;
    *out = (uint32_t) v;
    return true;
}

static bool
lsn_field(struct cursor *c, enum field f, lsn_t *out)
{
    const unsigned char *at;
    const char *text;
    size_t len;

    jscan_skip_ws(&c->j);
    at = c->j.p;
    if (!string_field(c, f, false, &text, &len))
        return false;
    if (!lsn_parse(text, len, out))
    {
        char shown[24];

        return jscan_fail(&c->j, at, "field \"%s\" is not an LSN (X/X): \"%s\"", field_names[f],
                          jscan_printable(shown, sizeof(shown), text, len));
    }
    return true;
}

static bool
grow_columns(struct cursor *c)
{
    struct w2j_parser *p = c->parser;
    uint32_t cap = p->cols_cap ? p->cols_cap * 2 : 32;
    struct w2j_column *cols;

    cols = p->alloc.realloc_fn(p->alloc.ctx, p->cols, (size_t) cap * sizeof(*cols));
    if (cols == NULL)
        return jscan_fail(&c->j, c->j.p, "out of memory for %u columns", cap);
    p->cols = cols;
    p->cols_cap = cap;
    return true;
}

/*
 * wal2json writes bytea as bare hex: bytea's output with its leading "\x"
 * dropped. Put the "\x" back (into the two spare bytes before the text), so
 * that the text is bytea input again. Text that already starts with "\x" (a
 * stream normalized by "decode --json") is kept. Anything else that is not an
 * even number of hex digits came from a session with bytea_output = escape,
 * whose text wal2json mangles: refuse it rather than apply it.
 */
static bool
fix_bytea(struct cursor *c, struct w2j_column *col, const unsigned char *obj)
{
    const char *v = col->value.text;
    size_t i, start = 0;
    bool hex = true;
    char *t;

    if (col->value.len >= 2 && v[0] == '\\' && v[1] == 'x')
        start = 2;
    if ((col->value.len - start) % 2 != 0)
        hex = false;
    for (i = start; i < col->value.len && hex; i++)
        hex = hex_digit((unsigned char) v[i]) >= 0;
    if (!hex)
    {
        char shown[64];

        return jscan_fail(&c->j, obj,
                          "bytea column \"%s\" is not hex: the stream needs bytea_output = hex",
                          jscan_printable(shown, sizeof(shown), col->name, col->name_len));
    }
    if (start == 2)
        return true;
    t = (char *) v - 2;
    t[0] = '\\';
    t[1] = 'x';
    col->value.text = t;
    col->value.len += 2;
    return true;
}

/* One column object: name, type, typeoid, position, value (and unknown
 * fields). */
static bool
parse_column(struct cursor *c, struct w2j_column *col)
{
    const unsigned char *obj = c->j.p;
    bool seen_name = false, seen_type = false, seen_oid = false, seen_value = false;
    bool seen_pos = false;
    bool first = true;

    memset(col, 0, sizeof(*col));
    if (!jscan_eat(&c->j, '{', "'{' to open a column"))
        return false;
    for (;;)
    {
        const char *name;
        size_t nlen;
        const unsigned char *at;

        jscan_skip_ws(&c->j);
        if (c->j.p < c->j.end && *c->j.p == '}')
        {
            c->j.p++;
            break;
        }
        if (!first && !jscan_eat(&c->j, ',', "',' or '}' in a column"))
            return false;
        first = false;
        jscan_skip_ws(&c->j);
        at = c->j.p;
        if (!read_field_name(c, &name, &nlen))
            return false;
        jscan_skip_ws(&c->j);
        if (nlen == 5 && memcmp(name, "value", 5) == 0)
        {
            char *t = NULL;
            size_t l = 0;

            if (seen_value)
                return jscan_fail(&c->j, at, "duplicate field \"value\" in a column");
            seen_value = true;
            if (c->j.p >= c->j.end)
                return jscan_expected(&c->j, "a value");
            switch (*c->j.p)
            {
                case '"':
                    /* two spare bytes in front, for bytea's "\x" */
                    if (!jscan_string(&c->j, true, 2, &t, &l))
                        return false;
                    col->value.kind = W2J_KIND_STRING;
                    break;
                case 't':
                    if (!jscan_literal(&c->j, "true"))
                        return false;
                    t = (char *) "true";
                    l = 4;
                    col->value.kind = W2J_KIND_BOOL;
                    break;
                case 'f':
                    if (!jscan_literal(&c->j, "false"))
                        return false;
                    t = (char *) "false";
                    l = 5;
                    col->value.kind = W2J_KIND_BOOL;
                    break;
                case 'n':
                    if (!jscan_literal(&c->j, "null"))
                        return false;
                    col->value.kind = W2J_KIND_NULL;
                    break;
                default:
                    if (*c->j.p == '-' || (*c->j.p >= '0' && *c->j.p <= '9'))
                    {
                        if (!jscan_number(&c->j, true, &t, &l))
                            return false;
                        col->value.kind = W2J_KIND_NUMBER;
                        break;
                    }
                    return jscan_fail(&c->j, c->j.p,
                                      "field \"value\" must be a string, number, boolean "
                                      "or null, found %s",
                                      jscan_type_at(&c->j));
            }
            col->value.text = t;
            col->value.len = l;
        }
        else if (nlen == 4 && memcmp(name, "name", 4) == 0)
        {
            char *t;

            if (seen_name)
                return jscan_fail(&c->j, at, "duplicate field \"name\" in a column");
            seen_name = true;
            if (c->j.p >= c->j.end || *c->j.p != '"')
                return wrong_type(c, "name", "a string");
            if (!jscan_string(&c->j, true, 0, &t, &col->name_len))
                return false;
            col->name = t;
        }
        else if (nlen == 4 && memcmp(name, "type", 4) == 0)
        {
            char *t;

            if (seen_type)
                return jscan_fail(&c->j, at, "duplicate field \"type\" in a column");
            seen_type = true;
            if (c->j.p >= c->j.end || *c->j.p != '"')
                return wrong_type(c, "type", "a string");
            if (!jscan_string(&c->j, true, 0, &t, &col->type_len))
                return false;
            col->type = t;
        }
        else if (nlen == 7 && memcmp(name, "typeoid", 7) == 0)
        {
            if (seen_oid)
                return jscan_fail(&c->j, at, "duplicate field \"typeoid\" in a column");
            seen_oid = true;
            if (!uint32_field(c, "typeoid", &col->typeoid))
                return false;
        }
        else if (nlen == 8 && memcmp(name, "position", 8) == 0)
        {
            uint32_t pos;

            if (seen_pos)
                return jscan_fail(&c->j, at, "duplicate field \"position\" in a column");
            seen_pos = true;
            if (!uint32_field(c, "position", &pos))
                return false;
            if (pos == 0 || pos > 32767)
                return jscan_fail(&c->j, at, "field \"position\" is %u, not an attribute number",
                                  pos);
            col->position = (uint16_t) pos;
        }
        else if (!jscan_skip_value(&c->j, c->j.max_depth))
            return false;
    }
    if (!seen_name)
        return jscan_fail(&c->j, obj, "column without a \"name\"");
    if (!seen_value)
    {
        char shown[64];

        return jscan_fail(&c->j, obj, "column \"%s\" without a \"value\"",
                          jscan_printable(shown, sizeof(shown), col->name, col->name_len));
    }

    if (col->value.kind == W2J_KIND_STRING &&
        (col->typeoid == BYTEAOID ||
         (col->typeoid == 0 && col->type_len == 5 && memcmp(col->type, "bytea", 5) == 0)))
        return fix_bytea(c, col, obj);
    return true;
}

/* "columns" or "identity": an array of column objects, appended to the
 * parser's column array. *FIRST is the index of the first one. */
static bool
parse_columns(struct cursor *c, enum field f, uint32_t *first_index, uint32_t *count)
{
    uint32_t n = 0;

    jscan_skip_ws(&c->j);
    if (c->j.p >= c->j.end || *c->j.p != '[')
        return wrong_type(c, field_names[f], "an array");
    c->j.p++;
    *first_index = c->ncols;
    jscan_skip_ws(&c->j);
    if (c->j.p < c->j.end && *c->j.p == ']')
    {
        c->j.p++;
        *count = 0;
        return true;
    }
    for (;;)
    {
        if (n == c->parser->limits.max_columns)
            return jscan_fail(&c->j, c->j.p, "more than %u entries in \"%s\"",
                              c->parser->limits.max_columns, field_names[f]);
        if (c->ncols == c->parser->cols_cap && !grow_columns(c))
            return false;
        if (!parse_column(c, &c->parser->cols[c->ncols]))
            return false;
        c->ncols++;
        n++;
        jscan_skip_ws(&c->j);
        if (c->j.p < c->j.end && *c->j.p == ']')
        {
            c->j.p++;
            break;
        }
        if (!jscan_eat(&c->j, ',', "',' or ']' in a column list"))
            return false;
    }
    *count = n;
    return true;
}

/* Make room for a message of LEN bytes (see NOTES for the bound). */
static bool
reserve_arena(struct w2j_parser *p, size_t len, struct w2j_error *err)
{
    size_t need = len + 64;
    char *a;

    if (p->arena_cap >= need)
        return true;
    a = p->alloc.realloc_fn(p->alloc.ctx, p->arena, need);
    if (a == NULL)
    {
        err->offset = 0;
        snprintf(err->message, sizeof(err->message),
                 "out of memory for a decoder arena of %zu bytes", need);
        return false;
    }
    p->arena = a;
    p->arena_cap = need;
    return true;
}

static void *
default_realloc(void *ctx, void *ptr, size_t size)
{
    (void) ctx;
    return realloc(ptr, size);
}

static void
default_free(void *ctx, void *ptr)
{
    (void) ctx;
    free(ptr);
}

void
w2j_parser_init(struct w2j_parser *p, const struct w2j_limits *limits,
                const struct w2j_allocator *alloc)
{
    memset(p, 0, sizeof(*p));
    if (limits != NULL)
        p->limits = *limits;
    else
    {
        p->limits.max_message = W2J_DEFAULT_MAX_MESSAGE;
        p->limits.max_columns = W2J_DEFAULT_MAX_COLUMNS;
        p->limits.max_depth = W2J_DEFAULT_MAX_DEPTH;
    }
    if (alloc != NULL)
        p->alloc = *alloc;
    else
    {
        p->alloc.realloc_fn = default_realloc;
        p->alloc.free_fn = default_free;
    }
}

void
w2j_parser_free(struct w2j_parser *p)
{
    if (p->alloc.free_fn != NULL)
    {
        p->alloc.free_fn(p->alloc.ctx, p->arena);
        p->alloc.free_fn(p->alloc.ctx, p->cols);
    }
    p->arena = NULL;
    p->cols = NULL;
    p->arena_cap = 0;
    p->cols_cap = 0;
}

static const struct action_rule *
find_rule(char action)
{
    size_t i;

    for (i = 0; i < sizeof(action_rules) / sizeof(action_rules[0]); i++)
        if (action_rules[i].action == action)
            return &action_rules[i];
    return NULL;
}

/* The top-level object's fields, one at a time. */
static bool
parse_field(struct cursor *c, enum field f, const unsigned char *at, struct w2j_record *out,
            uint32_t *cols_first, uint32_t *ident_first)
{
    const char *t;
    size_t l;

    jscan_skip_ws(&c->j);
    switch (f)
    {
        case F_ACTION:
            if (!string_field(c, f, false, &t, &l))
                return false;
            if (l != 1 || find_rule(t[0]) == NULL)
            {
                char shown[20];

                return jscan_fail(&c->j, at,
                                  "unknown action \"%s\": expected one of B, C, I, U, D, T, M",
                                  jscan_printable(shown, sizeof(shown), t, l));
            }
            out->action = (enum w2j_action) t[0];
            return true;
        case F_XID:
            if (c->j.p < c->j.end && *c->j.p == 'n')
                return jscan_literal(&c->j, "null");
            if (!uint32_field(c, "xid", &out->xid))
                return false;
            out->present |= W2J_HAS_XID;
            return true;
        case F_TIMESTAMP:
            if (!string_field(c, f, true, &out->timestamp, &out->timestamp_len))
                return false;
            if (out->timestamp != NULL)
                out->present |= W2J_HAS_TIMESTAMP;
            return true;
        case F_LSN:
            out->present |= W2J_HAS_LSN;
            return lsn_field(c, f, &out->lsn);
        case F_NEXTLSN:
            out->present |= W2J_HAS_NEXTLSN;
            return lsn_field(c, f, &out->nextlsn);
        case F_SCHEMA:
            return string_field(c, f, false, &out->schema, &out->schema_len);
        case F_TABLE:
            return string_field(c, f, false, &out->table, &out->table_len);
        case F_COLUMNS:
            out->present |= W2J_HAS_COLUMNS;
            return parse_columns(c, f, cols_first, &out->ncolumns);
        case F_IDENTITY:
            out->present |= W2J_HAS_IDENTITY;
            return parse_columns(c, f, ident_first, &out->nidentity);
        case F_TRANSACTIONAL:
            if (c->j.p < c->j.end && *c->j.p == 't')
            {
                out->transactional = true;
                return jscan_literal(&c->j, "true");
            }
            if (c->j.p < c->j.end && *c->j.p == 'f')
                return jscan_literal(&c->j, "false");
            return wrong_type(c, "transactional", "a boolean");
        case F_PREFIX:
            return string_field(c, f, false, &out->prefix, &out->prefix_len);
        case F_CONTENT:
            return string_field(c, f, false, &out->content, &out->content_len);
        default:
            return jscan_skip_value(&c->j, c->j.max_depth);
    }
}

/* The LEN bytes at BUF into *OUT, unescaped into P's arena, or into PLACE
 * (which is BUF) when it is not NULL. */
static bool
parse(struct w2j_parser *p, const char *buf, char *place, size_t len, struct w2j_record *out,
      struct w2j_error *err)
{
    struct cursor c;
    const struct action_rule *rule;
    const unsigned char *obj_end;
    uint32_t seen = 0;
    uint32_t cols_first = 0, ident_first = 0;
    bool first = true;
    int f;

    memset(out, 0, sizeof(*out));
    c.j.start = (const unsigned char *) buf;
    c.j.p = c.j.start;
    c.j.end = c.j.start + len;
    c.parser = p;
    c.j.err = err;
    c.j.max_depth = p->limits.max_depth;
    c.ncols = 0;

    if (len > p->limits.max_message)
        return jscan_fail(&c.j, c.j.start, "message of %zu bytes exceeds the limit of %zu bytes",
                          len, p->limits.max_message);
    c.j.in_place = place != NULL;
    if (c.j.in_place)
    {
        c.j.out = place;
        c.j.out_end = place + len;
    }
    else
    {
        if (!reserve_arena(p, len, err))
            return false;
        c.j.out = p->arena;
        c.j.out_end = p->arena + p->arena_cap;
    }

    if (!jscan_eat(&c.j, '{', "'{' to open a message"))
        return false;
    for (;;)
    {
        const char *name;
        size_t nlen;
        enum field fid;
        const unsigned char *at;

        jscan_skip_ws(&c.j);
        if (c.j.p < c.j.end && *c.j.p == '}')
        {
            c.j.p++;
            break;
        }
        if (!first && !jscan_eat(&c.j, ',', "',' or '}'"))
            return false;
        first = false;
        jscan_skip_ws(&c.j);
        at = c.j.p;
        if (!read_field_name(&c, &name, &nlen))
            return false;
        fid = lookup_field(name, nlen);
        if (fid != F_UNKNOWN)
        {
            if (seen & BIT(fid))
                return jscan_fail(&c.j, at, "duplicate field \"%s\"", field_names[fid]);
            seen |= BIT(fid);
        }
        if (!parse_field(&c, fid, at, out, &cols_first, &ident_first))
            return false;
    }
    obj_end = c.j.p;
    jscan_skip_ws(&c.j);
    if (c.j.p != c.j.end)
        return jscan_fail(&c.j, c.j.p, "trailing bytes after the message");

    if (!(seen & BIT(F_ACTION)))
        return jscan_fail(&c.j, obj_end - 1, "missing required field \"action\"");
    rule = find_rule((char) out->action);
    for (f = 1; f < F_NFIELDS; f++)
    {
        if ((rule->required & BIT(f)) && !(seen & BIT(f)))
            return jscan_fail(&c.j, obj_end - 1, "missing required field \"%s\" for action %c",
                              field_names[f], rule->action);
        if ((seen & BIT(f)) && !(rule->allowed & BIT(f)))
            return jscan_fail(&c.j, obj_end - 1, "field \"%s\" does not belong in action %c",
                              field_names[f], rule->action);
    }
    /* Only a non-transactional message stands outside a transaction, with
     * null xid and timestamp. */
    if (out->action == W2J_MESSAGE && !out->transactional)
    {
        if (out->present & W2J_HAS_XID)
            return jscan_fail(&c.j, obj_end - 1, "non-transactional message with an xid");
    }
    else
    {
        if ((seen & BIT(F_XID)) && !(out->present & W2J_HAS_XID))
            return jscan_fail(&c.j, obj_end - 1, "field \"xid\" is null in action %c",
                              rule->action);
        if ((seen & BIT(F_TIMESTAMP)) && !(out->present & W2J_HAS_TIMESTAMP))
            return jscan_fail(&c.j, obj_end - 1, "field \"timestamp\" is null in action %c",
                              rule->action);
    }

    /* The column array may have moved while growing: point into it now. */
    if (out->present & W2J_HAS_COLUMNS)
        out->columns = p->cols + cols_first;
    if (out->present & W2J_HAS_IDENTITY)
        out->identity = p->cols + ident_first;
    return true;
}

bool
w2j_parse(struct w2j_parser *p, const char *buf, size_t len, struct w2j_record *out,
          struct w2j_error *err)
{
    return parse(p, buf, NULL, len, out, err);
}

bool
w2j_parse_in_place(struct w2j_parser *p, char *buf, size_t len, struct w2j_record *out,
                   struct w2j_error *err)
{
    return parse(p, buf, buf, len, out, err);
}

const char *
w2j_action_name(enum w2j_action action)
{
    switch (action)
    {
        case W2J_BEGIN:
            return "begin";
        case W2J_COMMIT:
            return "commit";
        case W2J_INSERT:
            return "insert";
        case W2J_UPDATE:
            return "update";
        case W2J_DELETE:
            return "delete";
        case W2J_TRUNCATE:
            return "truncate";
        case W2J_MESSAGE:
            return "message";
    }
    return "unknown";
}
