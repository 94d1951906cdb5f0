/*
 * jscan.h - the JSON lexer under the wal2json decoder (internal to decoder/).
 *
 * A cursor over one message that validates and, on request, unescapes JSON
 * tokens into a caller-supplied arena. It never reads past the end of the
 * message and never writes past the end of the arena: each write checks the
 * room left. Errors are recorded once, in the struct w2j_error the caller
 * supplied, with the byte offset.
 */
#ifndef MB_JSCAN_H
#define MB_JSCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decoder/w2j.h"

/* A cursor over one message. */
struct jscan
{
    const unsigned char *start; /* borrowed: the message */
    const unsigned char *p;     /* next byte to read */
    const unsigned char *end;   /* one past the message */
    char *out;                  /* next free arena byte (borrowed arena) */
    char *out_end;              /* one past the arena */
    bool in_place;              /* the arena is the message itself: output
                                 * overwrites input already read, never input
                                 * still unread (w2j_parse_in_place) */
    uint32_t max_depth;         /* nesting allowed in jscan_skip_value */
    struct w2j_error *err;      /* borrowed: where a failure is written */
};

/* Record a failure at AT (a position inside the message) and return false. */
bool jscan_fail(struct jscan *c, const unsigned char *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Record "expected WHAT, found <the next byte>" and return false. */
bool jscan_expected(struct jscan *c, const char *what);

static inline void
jscan_skip_ws(struct jscan *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\n' || *c->p == '\r' || *c->p == '\t'))
        c->p++;
}

/* Skip whitespace and consume CH, or fail with "expected WHAT". */
static inline bool
jscan_eat(struct jscan *c, unsigned char ch, const char *what)
{
    jscan_skip_ws(c);
    if (c->p < c->end && *c->p == ch)
    {
        c->p++;
        return true;
    }
    return jscan_expected(c, what);
}

/*
 * The JSON string whose opening quote is at c->p. Without KEEP it is only
 * validated (the arena is used as scratch and given back). With KEEP it is
 * unescaped into the arena after RESERVE spare bytes and NUL-terminated;
 * *TEXT (inside the arena) and *LEN describe it. Escapes, including \uXXXX
 * surrogate pairs, become UTF-8; raw bytes must be valid UTF-8. A lone
 * surrogate, \u0000, a raw control character or a bad escape is an error.
 * In place, the room check asks for the output to start at least RESERVE + 1
 * bytes behind the input, so that it can never catch up with it.
 */
bool jscan_string(struct jscan *c, bool keep, size_t reserve, char **text, size_t *len);

/* The JSON number at c->p, validated against JSON's grammar. With KEEP its
 * exact text is copied to the arena, NUL-terminated. */
bool jscan_number(struct jscan *c, bool keep, char **text, size_t *len);

/* The literal WORD ("true", "false" or "null") at c->p. */
bool jscan_literal(struct jscan *c, const char *word);

/* What the value at c->p looks like ("a string", "an object", ...), for
 * wrong-type messages. */
const char *jscan_type_at(const struct jscan *c);

/* Copy at most N - 1 bytes of S (LEN bytes) into DST for quoting in an error
 * message, with anything but printable ASCII (and '"', '\\') shown as '?',
 * so that the message stays one line. Returns DST. */
char *jscan_printable(char *dst, size_t n, const char *s, size_t len);

/* Validate and skip any JSON value, nested at most DEPTH levels. */
bool jscan_skip_value(struct jscan *c, uint32_t depth);

#endif
