/*
 * render.c - decoded records as stable text lines and normalized JSON.
 *
 * Output goes through stdio; "decode" is a debugging tool, not the hot path.
 */
#include "bridge/cmd/render.h"

#include <stdbool.h>
#include <string.h>

static bool
needs_e_string(const char *s, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++)
        if (s[i] == '\\' || (unsigned char) s[i] < 0x20 || s[i] == 0x7f)
            return true;
    return false;
}

void
render_literal(FILE *out, const char *s, size_t len)
{
    bool e = needs_e_string(s, len);
    size_t i;

    if (e)
        fputc('E', out);
    fputc('\'', out);
    for (i = 0; i < len; i++)
    {
        unsigned char ch = (unsigned char) s[i];

        if (ch == '\'')
            fputs("''", out);
        else if (!e)
            fputc(ch, out);
        else if (ch == '\\')
            fputs("\\\\", out);
        else if (ch == '\n')
            fputs("\\n", out);
        else if (ch == '\r')
            fputs("\\r", out);
        else if (ch == '\t')
            fputs("\\t", out);
        else if (ch < 0x20 || ch == 0x7f)
            fprintf(out, "\\x%02X", ch);
        else
            fputc(ch, out);
    }
    fputc('\'', out);
}

void
render_ident(FILE *out, const char *name, size_t len)
{
    bool simple = len > 0 && !(name[0] >= '0' && name[0] <= '9');
    size_t i;

    for (i = 0; i < len && simple; i++)
        if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
              name[i] == '_'))
            simple = false;
    if (simple)
    {
        fwrite(name, 1, len, out);
        return;
    }
    fputc('"', out);
    for (i = 0; i < len; i++)
    {
        if (name[i] == '"')
            fputc('"', out);
        fputc(name[i], out);
    }
    fputc('"', out);
}

static void
text_columns(FILE *out, const char *label, const struct w2j_column *cols, uint32_t n,
             unsigned flags)
{
    uint32_t i;

    fprintf(out, " %s(", label);
    for (i = 0; i < n; i++)
    {
        const struct w2j_column *col = &cols[i];

        if (i > 0)
            fputs(", ", out);
        render_ident(out, col->name, col->name_len);
        if ((flags & RENDER_TYPES) && col->type != NULL)
        {
            fputs("::", out);
            fwrite(col->type, 1, col->type_len, out);
        }
        fputc('=', out);
        if (col->value.text == NULL)
            fputs("NULL", out);
        else if (col->value.kind == W2J_KIND_NUMBER || col->value.kind == W2J_KIND_BOOL)
            fwrite(col->value.text, 1, col->value.len, out);
        else
            render_literal(out, col->value.text, col->value.len);
    }
    fputc(')', out);
}

static void
text_position(FILE *out, const struct w2j_record *r)
{
    if (r->present & W2J_HAS_XID)
        fprintf(out, " xid=%u", r->xid);
    if (r->present & W2J_HAS_LSN)
        fprintf(out, " lsn=" LSN_FMT, LSN_ARGS(r->lsn));
    if (r->present & W2J_HAS_NEXTLSN)
        fprintf(out, " nextlsn=" LSN_FMT, LSN_ARGS(r->nextlsn));
    if (r->timestamp != NULL && (r->action == W2J_BEGIN || r->action == W2J_COMMIT))
    {
        fputs(" time=", out);
        render_literal(out, r->timestamp, r->timestamp_len);
    }
}

static void
text_table(FILE *out, const struct w2j_record *r)
{
    fputc(' ', out);
    render_ident(out, r->schema, r->schema_len);
    fputc('.', out);
    render_ident(out, r->table, r->table_len);
}

void
render_text(FILE *out, const struct w2j_record *r, unsigned flags)
{
    switch (r->action)
    {
        case W2J_BEGIN:
        case W2J_COMMIT:
            fputs(r->action == W2J_BEGIN ? "BEGIN" : "COMMIT", out);
            text_position(out, r);
            break;
        case W2J_INSERT:
        case W2J_UPDATE:
        case W2J_DELETE:
        case W2J_TRUNCATE:
            fputs(r->action == W2J_INSERT   ? "INSERT"
                  : r->action == W2J_UPDATE ? "UPDATE"
                  : r->action == W2J_DELETE ? "DELETE"
                                            : "TRUNCATE",
                  out);
            text_table(out, r);
            text_position(out, r);
            if (r->present & W2J_HAS_IDENTITY)
                text_columns(out, "key", r->identity, r->nidentity, flags);
            if (r->present & W2J_HAS_COLUMNS)
                text_columns(out, "new", r->columns, r->ncolumns, flags);
            break;
        case W2J_MESSAGE:
            fputs(r->transactional ? "MESSAGE transactional prefix="
                                   : "MESSAGE non-transactional prefix=",
                  out);
            render_literal(out, r->prefix, r->prefix_len);
            fputs(" content=", out);
            render_literal(out, r->content, r->content_len);
            text_position(out, r);
            break;
    }
    fputc('\n', out);
}

/* S as a JSON string: escapes for '"', '\\' and control characters; other
 * bytes (valid UTF-8, the decoder checked) as they are. */
static void
json_string(FILE *out, const char *s, size_t len)
{
    size_t i;

    fputc('"', out);
    for (i = 0; i < len; i++)
    {
        unsigned char ch = (unsigned char) s[i];

        switch (ch)
        {
            case '"':
                fputs("\\\"", out);
                break;
            case '\\':
                fputs("\\\\", out);
                break;
            case '\n':
                fputs("\\n", out);
                break;
            case '\r':
                fputs("\\r", out);
                break;
            case '\t':
                fputs("\\t", out);
                break;
            default:
                if (ch < 0x20)
                    fprintf(out, "\\u%04x", ch);
                else
                    fputc(ch, out);
        }
    }
    fputc('"', out);
}

static void
json_opt_string(FILE *out, const char *key, const char *s, size_t len)
{
    fprintf(out, ",\"%s\":", key);
    if (s == NULL)
        fputs("null", out);
    else
        json_string(out, s, len);
}

static void
json_columns(FILE *out, const char *key, const struct w2j_column *cols, uint32_t n)
{
    uint32_t i;

    fprintf(out, ",\"%s\":[", key);
    for (i = 0; i < n; i++)
    {
        const struct w2j_column *col = &cols[i];

        fputs(i > 0 ? ",{\"name\":" : "{\"name\":", out);
        json_string(out, col->name, col->name_len);
        if (col->type != NULL)
            json_opt_string(out, "type", col->type, col->type_len);
        if (col->typeoid != 0)
            fprintf(out, ",\"typeoid\":%u", col->typeoid);
        json_opt_string(out, "value", col->value.text, col->value.len);
        fputc('}', out);
    }
    fputc(']', out);
}

void
render_json(FILE *out, const struct w2j_record *r)
{
    char action[2] = {(char) r->action, '\0'};

    fputs("{\"action\":", out);
    json_string(out, action, 1);
    if (r->action == W2J_MESSAGE && !r->transactional)
        fputs(",\"xid\":null", out);
    else if (r->present & W2J_HAS_XID)
        fprintf(out, ",\"xid\":%u", r->xid);
    if (r->present & W2J_HAS_LSN)
        fprintf(out, ",\"lsn\":\"" LSN_FMT "\"", LSN_ARGS(r->lsn));
    if (r->present & W2J_HAS_NEXTLSN)
        fprintf(out, ",\"nextlsn\":\"" LSN_FMT "\"", LSN_ARGS(r->nextlsn));
    if (r->timestamp != NULL || (r->action == W2J_MESSAGE && !r->transactional))
        json_opt_string(out, "timestamp", r->timestamp, r->timestamp_len);
    if (r->schema != NULL)
        json_opt_string(out, "schema", r->schema, r->schema_len);
    if (r->table != NULL)
        json_opt_string(out, "table", r->table, r->table_len);
    if (r->present & W2J_HAS_COLUMNS)
        json_columns(out, "columns", r->columns, r->ncolumns);
    if (r->present & W2J_HAS_IDENTITY)
        json_columns(out, "identity", r->identity, r->nidentity);
    if (r->action == W2J_MESSAGE)
    {
        fprintf(out, ",\"transactional\":%s", r->transactional ? "true" : "false");
        json_opt_string(out, "prefix", r->prefix, r->prefix_len);
        json_opt_string(out, "content", r->content, r->content_len);
    }
    fputs("}\n", out);
}
