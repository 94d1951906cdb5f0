/*
 * jscan.c - the JSON lexer under the wal2json decoder.
 *
 * NOTES
 *
 * The hot loop is the string scan. With SSE2 it moves 16 bytes at a time,
 * storing them to the arena and stopping at the first quote, backslash,
 * control character or non-ASCII byte, which the scalar code then handles
 * (escapes, UTF-8 validation). The 16-byte stores stay inside the room
 * reserved for the input still unread, which jscan_string checks before it
 * starts (unescaped output is never longer than its input).
 *
 * In place (the arena is the message, w2j_parse_in_place), the output runs
 * behind the input: a store of 16 bytes that all belong to the string only
 * rewrites bytes already read, but the store at a stop would also rewrite
 * the bytes after the stop, still unread, unless they lie at least 16 bytes
 * ahead of the output. There only the bytes before the stop are moved. For
 * the same reason the copies of UTF-8 sequences and numbers are memmove.
 */
#include "decoder/jscan.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "decoder/hex.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

bool
jscan_fail(struct jscan *c, const unsigned char *at, const char *fmt, ...)
{
    va_list ap;

    c->err->offset = (size_t) (at - c->start);
    va_start(ap, fmt);
    vsnprintf(c->err->message, sizeof(c->err->message), fmt, ap);
    va_end(ap);
    return false;
}

/* What the next byte is, for messages: "end of input" or "'x'". */
static const char *
describe_byte(const struct jscan *c, char *buf, size_t len)
{
    if (c->p >= c->end)
        return "end of input";
    if (*c->p >= 0x20 && *c->p < 0x7f)
        snprintf(buf, len, "'%c'", *c->p);
    else
        snprintf(buf, len, "byte 0x%02X", *c->p);
    return buf;
}

bool
jscan_expected(struct jscan *c, const char *what)
{
    char b[16];

    return jscan_fail(c, c->p, "expected %s, found %s", what, describe_byte(c, b, sizeof(b)));
}

/* Length of the valid UTF-8 sequence at S (first byte >= 0x80), or 0. Rejects
 * overlong forms, surrogates and code points past U+10FFFF. */
static size_t
utf8_sequence(const unsigned char *s, const unsigned char *end)
{
    unsigned char c0 = s[0];
    size_t n, i;

    if (c0 < 0xC2)
        return 0;
    else if (c0 < 0xE0)
        n = 2;
    else if (c0 < 0xF0)
        n = 3;
    else if (c0 < 0xF5)
        n = 4;
    else
        return 0;
    if ((size_t) (end - s) < n)
        return 0;
    for (i = 1; i < n; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    if (c0 == 0xE0 && s[1] < 0xA0)
        return 0; /* overlong */
    if (c0 == 0xED && s[1] >= 0xA0)
        return 0; /* UTF-16 surrogate */
    if (c0 == 0xF0 && s[1] < 0x90)
        return 0; /* overlong */
    if (c0 == 0xF4 && s[1] >= 0x90)
        return 0; /* past U+10FFFF */
    return n;
}

static char *
utf8_encode(char *d, uint32_t cp)
{
    if (cp < 0x80)
        *d++ = (char) cp;
    else if (cp < 0x800)
    {
        *d++ = (char) (0xC0 | (cp >> 6));
        *d++ = (char) (0x80 | (cp & 0x3F));
    }
    else if (cp < 0x10000)
    {
        *d++ = (char) (0xE0 | (cp >> 12));
        *d++ = (char) (0x80 | ((cp >> 6) & 0x3F));
        *d++ = (char) (0x80 | (cp & 0x3F));
    }
    else
    {
        *d++ = (char) (0xF0 | (cp >> 18));
        *d++ = (char) (0x80 | ((cp >> 12) & 0x3F));
        *d++ = (char) (0x80 | ((cp >> 6) & 0x3F));
        *d++ = (char) (0x80 | (cp & 0x3F));
    }
    return d;
}

/* Four hex digits after "\u" at S (S points at the 'u'). */
static bool
read_u4(struct jscan *c, const unsigned char *s, uint32_t *cp)
{
    uint32_t v = 0;
    int i;

    if (c->end - s < 5)
        return jscan_fail(c, s - 1, "truncated \\u escape in string");
    for (i = 1; i <= 4; i++)
    {
        int h = hex_digit(s[i]);

        if (h < 0)
            return jscan_fail(c, s - 1, "invalid \\u escape in string: expected 4 hex digits");
        v = (v << 4) | (uint32_t) h;
    }
    *cp = v;
    return true;
}

/*
 * Scan a JSON string whose opening quote is at c->p. Without KEEP it is only
 * validated. With KEEP it is unescaped into the arena (after RESERVE spare
 * bytes) and NUL-terminated: *TEXT and *LEN describe it.
 */
bool
jscan_string(struct jscan *c, bool keep, size_t reserve, char **text, size_t *len)
{
    const unsigned char *s = c->p + 1;
    const unsigned char *end = c->end;
    char *d = c->out;
    char *d0;

    /* Output never outgrows input (see NOTES); check it anyway. */
    if ((size_t) (c->out_end - d) < (size_t) (end - s) + reserve + 1)
        return jscan_fail(c, c->p, "internal error: decoder arena too small");
    d += reserve;
    d0 = d;

    for (;;)
    {
        unsigned char ch;

#ifdef __SSE2__
        {
            const __m128i quote = _mm_set1_epi8('"');
            const __m128i bslash = _mm_set1_epi8('\\');
            const __m128i space = _mm_set1_epi8(0x20);

            while (end - s >= 16)
            {
                __m128i v = _mm_loadu_si128((const __m128i *) s);
                /* signed compare: catches both < 0x20 and >= 0x80 */
                __m128i m =
                    _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)),
                                 _mm_cmplt_epi8(v, space));
                int mask = _mm_movemask_epi8(m);

                if (mask != 0)
                {
                    int k = __builtin_ctz((unsigned) mask);

                    if (c->in_place && s - (const unsigned char *) d < 16)
                        memmove(d, s, (size_t) k); /* (see NOTES) */
                    else
                        _mm_storeu_si128((__m128i *) d, v);
                    s += k;
                    d += k;
                    break;
                }
                _mm_storeu_si128((__m128i *) d, v);
                s += 16;
                d += 16;
            }
        }
#endif
        while (s < end)
        {
            ch = *s;
            if (ch == '"' || ch == '\\' || ch < 0x20 || ch >= 0x80)
                break;
            *d++ = (char) ch;
            s++;
        }
        if (s >= end)
            return jscan_fail(c, s, "unterminated string");

        ch = *s;
        if (ch == '"')
        {
            *d = '\0';
            c->p = s + 1;
            if (keep)
            {
                *text = d0;
                *len = (size_t) (d - d0);
                c->out = d + 1;
            }
            return true;
        }
        if (ch == '\\')
        {
            if (end - s < 2)
                return jscan_fail(c, s, "unterminated string");
            switch (s[1])
            {
                case '"':
                    *d++ = '"';
                    break;
                case '\\':
                    *d++ = '\\';
                    break;
                case '/':
                    *d++ = '/';
                    break;
                case 'b':
                    *d++ = '\b';
                    break;
                case 'f':
                    *d++ = '\f';
                    break;
                case 'n':
                    *d++ = '\n';
                    break;
                case 'r':
                    *d++ = '\r';
                    break;
                case 't':
                    *d++ = '\t';
                    break;
                case 'u':
                {
                    uint32_t cp, lo;

                    if (!read_u4(c, s + 1, &cp))
                        return false;
                    if (cp == 0)
                        return jscan_fail(c, s,
                                          "\\u0000 in string: PostgreSQL text cannot hold NUL");
                    if (cp >= 0xDC00 && cp <= 0xDFFF)
                        return jscan_fail(c, s, "lone low surrogate \\u%04X in string",
                                          (unsigned) cp);
                    if (cp >= 0xD800 && cp <= 0xDBFF)
                    {
                        if (end - s < 12 || s[6] != '\\' || s[7] != 'u')
                            return jscan_fail(c, s, "lone high surrogate \\u%04X in string",
                                              (unsigned) cp);
                        if (!read_u4(c, s + 7, &lo))
                            return false;
                        if (lo < 0xDC00 || lo > 0xDFFF)
                            return jscan_fail(c, s,
                                              "high surrogate \\u%04X not followed by a low one",
                                              (unsigned) cp);
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                        s += 6;
                    }
                    d = utf8_encode(d, cp);
                    s += 6;
                    continue;
                }
                default:
                {
                    char b[16];

                    c->p = s + 1;
                    return jscan_fail(c, s, "invalid escape in string: \\ followed by %s",
                                      describe_byte(c, b, sizeof(b)));
                }
            }
            s += 2;
            continue;
        }
        if (ch < 0x20)
            return jscan_fail(c, s, "unescaped control character 0x%02X in string", ch);
        /* ch >= 0x80: one whole UTF-8 sequence */
        {
            size_t n = utf8_sequence(s, end);

            if (n == 0)
                return jscan_fail(c, s, "invalid UTF-8 byte 0x%02X in string", ch);
            memmove(d, s, n);
            d += n;
            s += n;
        }
    }
}

/* A JSON number at c->p: validated; with KEEP copied to the arena. */
bool
jscan_number(struct jscan *c, bool keep, char **text, size_t *len)
{
    const unsigned char *s = c->p;
    const unsigned char *end = c->end;
    const unsigned char *n0 = s;
    size_t n;

    if (s < end && *s == '-')
        s++;
    if (s >= end || *s < '0' || *s > '9')
        return jscan_fail(c, s, "invalid number: expected a digit");
    if (*s == '0')
        s++;
    else
        while (s < end && *s >= '0' && *s <= '9')
            s++;
    if (s < end && *s == '.')
    {
        s++;
        if (s >= end || *s < '0' || *s > '9')
            return jscan_fail(c, s, "invalid number: expected a digit after '.'");
        while (s < end && *s >= '0' && *s <= '9')
            s++;
    }
    if (s < end && (*s == 'e' || *s == 'E'))
    {
        s++;
        if (s < end && (*s == '+' || *s == '-'))
            s++;
        if (s >= end || *s < '0' || *s > '9')
            return jscan_fail(c, s, "invalid number: expected a digit in the exponent");
        while (s < end && *s >= '0' && *s <= '9')
            s++;
    }
    c->p = s;
    if (!keep)
        return true;
    n = (size_t) (s - n0);
    /* as for strings: room for the input from here on and a NUL, which in
     * place keeps the copy behind the input */
    if ((size_t) (c->out_end - c->out) < (size_t) (end - n0) + 1)
        return jscan_fail(c, n0, "internal error: decoder arena too small");
    memmove(c->out, n0, n);
    c->out[n] = '\0';
    *text = c->out;
    *len = n;
    c->out += n + 1;
    return true;
}

/* The literal WORD (true, false, null) at c->p. */
bool
jscan_literal(struct jscan *c, const char *word)
{
    size_t n = strlen(word);

    if ((size_t) (c->end - c->p) < n || memcmp(c->p, word, n) != 0)
        return jscan_fail(c, c->p, "invalid literal: expected %s", word);
    c->p += n;
    return true;
}

/* What the value at c->p is, for "wrong type" messages. */
const char *
jscan_type_at(const struct jscan *c)
{
    if (c->p >= c->end)
        return "end of input";
    switch (*c->p)
    {
        case '"':
            return "a string";
        case '{':
            return "an object";
        case '[':
            return "an array";
        case 't':
        case 'f':
            return "a boolean";
        case 'n':
            return "null";
        default:
            return (*c->p == '-' || (*c->p >= '0' && *c->p <= '9')) ? "a number"
                                                                    : "an invalid value";
    }
}

/* Validate and skip any JSON value (an unknown field), at most DEPTH deep. */
bool
jscan_skip_value(struct jscan *c, uint32_t depth)
{
    char *saved = c->out;
    char *text;
    size_t len;
    bool first = true;
    unsigned char close;

    jscan_skip_ws(c);
    if (c->p >= c->end)
        return jscan_expected(c, "a value");
    switch (*c->p)
    {
        case '"':
            /* unescape into the arena to validate it, then give the room back */
            if (!jscan_string(c, true, 0, &text, &len))
                return false;
            c->out = saved;
            return true;
        case 't':
            return jscan_literal(c, "true");
        case 'f':
            return jscan_literal(c, "false");
        case 'n':
            return jscan_literal(c, "null");
        case '{':
        case '[':
            break;
        default:
            if (*c->p == '-' || (*c->p >= '0' && *c->p <= '9'))
                return jscan_number(c, false, NULL, NULL);
            return jscan_expected(c, "a value");
    }
    if (depth == 0)
        return jscan_fail(c, c->p, "nesting deeper than %u levels", c->max_depth);
    close = (*c->p == '{') ? '}' : ']';
    c->p++;
    for (;;)
    {
        jscan_skip_ws(c);
        if (c->p < c->end && *c->p == close)
        {
            c->p++;
            return true;
        }
        if (!first && !jscan_eat(c, ',', close == '}' ? "',' or '}'" : "',' or ']'"))
            return false;
        first = false;
        if (close == '}')
        {
            jscan_skip_ws(c);
            if (c->p >= c->end || *c->p != '"')
                return jscan_expected(c, "a field name");
            if (!jscan_string(c, true, 0, &text, &len))
                return false;
            c->out = saved;
            if (!jscan_eat(c, ':', "':'"))
                return false;
        }
        if (!jscan_skip_value(c, depth - 1))
            return false;
    }
}

char *
jscan_printable(char *dst, size_t n, const char *s, size_t len)
{
    size_t i;

    if (n == 0)
        return dst;
    for (i = 0; i < len && i + 1 < n; i++)
    {
        unsigned char ch = (unsigned char) s[i];

        dst[i] = (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\') ? (char) ch : '?';
    }
    dst[i] = '\0';
    return dst;
}
