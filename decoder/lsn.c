/*
 * lsn.c - parse and format PostgreSQL LSNs ("%X/%X").
 */
#include "decoder/lsn.h"

#include <stdio.h>

#include "decoder/hex.h"

/* One half: 1 to 8 hex digits from *POS up to END or STOP. */
static bool
parse_half(const char **pos, const char *end, char stop, uint32_t *out)
{
    const char *s = *pos;
    uint32_t v = 0;
    int digits = 0;

    while (s < end && *s != stop)
    {
        int h = hex_digit((unsigned char) *s);

        if (h < 0 || digits == 8)
            return false;
        v = (v << 4) | (uint32_t) h;
        digits++;
        s++;
    }
    if (digits == 0)
        return false;
    *pos = s;
    *out = v;
    return true;
}

bool
lsn_parse(const char *s, size_t len, lsn_t *out)
{
    const char *end = s + len;
    uint32_t hi, lo;

    if (!parse_half(&s, end, '/', &hi) || s == end || *s != '/')
        return false;
    s++;
    if (!parse_half(&s, end, '\0', &lo) || s != end)
        return false;
    *out = ((lsn_t) hi << 32) | lo;
    return true;
}

char *
lsn_format(lsn_t lsn, char buf[LSN_BUFSZ])
{
    snprintf(buf, LSN_BUFSZ, LSN_FMT, LSN_ARGS(lsn));
    return buf;
}
