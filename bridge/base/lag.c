/*
 * lag.c - lag figures: the commit timestamp parser and the line's two forms.
 */
#include "bridge/base/lag.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* N digits at *P into *V; advances *P. */
static bool
digits(const char **p, int n, int *v)
{
    int i;

    *v = 0;
    for (i = 0; i < n; i++)
    {
        if ((*p)[i] < '0' || (*p)[i] > '9')
            return false;
        *v = *v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    return true;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil), so that no time zone setting is involved. */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

bool
lag_parse_timestamp(const char *s, int64_t *unix_us)
{
    const char *p = s;
    int y, mo, d, h, mi, sec, oh = 0, om = 0, os = 0, sign = 1;
    int64_t us = 0, scale = 100000;

    if (s == NULL || !digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' ||
        !digits(&p, 2, &d) || (*p != ' ' && *p != 'T'))
        return false;
    p++;
    if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi) || *p++ != ':' ||
        !digits(&p, 2, &sec))
        return false;
    if (*p == '.')
    {
        p++;
        if (*p < '0' || *p > '9')
            return false;
        for (; *p >= '0' && *p <= '9'; p++)
        {
            us += (*p - '0') * scale;
            scale /= 10;
        }
    }
    if (*p == '+' || *p == '-')
    {
        sign = *p++ == '-' ? -1 : 1;
        if (!digits(&p, 2, &oh))
            return false;
        if (*p == ':')
        {
            p++;
            if (!digits(&p, 2, &om))
                return false;
            if (*p == ':')
            {
                p++;
                if (!digits(&p, 2, &os))
                    return false;
            }
        }
    }
    if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 24 || mi > 59 || sec > 60)
        return false;
    *unix_us = ((days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) -
                sign * (int64_t) (oh * 3600 + om * 60 + os)) *
                   INT64_C(1000000) +
               us;
    return true;
}

char *
lag_format_text(const struct lag_sample *s, char *buf, size_t len)
{
    char applied[LSN_BUFSZ], source[LSN_BUFSZ], bytes[32], seconds[32];

    lsn_format(s->applied, applied);
    if (s->source != LSN_INVALID)
        lsn_format(s->source, source);
    else
        snprintf(source, sizeof(source), "unknown");
    if (s->lag_bytes >= 0)
        snprintf(bytes, sizeof(bytes), "%lld", (long long) s->lag_bytes);
    else
        snprintf(bytes, sizeof(bytes), "unknown");
    if (s->lag_seconds >= 0)
        snprintf(seconds, sizeof(seconds), "%.3f", s->lag_seconds);
    else
        snprintf(seconds, sizeof(seconds), "unknown");
    snprintf(buf, len,
             "lag applied=%s source=%s bytes=%s seconds=%s changes/s=%.1f xacts/s=%.1f "
             "ring=%u/%u%s%s%s%s",
             applied, source, bytes, seconds, s->changes_per_s, s->xacts_per_s, s->ring_fill,
             s->ring_size, s->caught_up ? " caught-up" : "", s->link_down ? " " : "",
             s->link_down ? s->link_down : "", s->link_down ? "-link-down" : "");
    return buf;
}

char *
lag_format_json(const struct lag_sample *s, char *buf, size_t len)
{
    char applied[LSN_BUFSZ], durable[LSN_BUFSZ], source[LSN_BUFSZ + 2], bytes[32], seconds[32],
        down[48] = "";

    lsn_format(s->applied, applied);
    lsn_format(s->durable, durable);
    if (s->source != LSN_INVALID)
    {
        char l[LSN_BUFSZ];

        snprintf(source, sizeof(source), "\"%s\"", lsn_format(s->source, l));
    }
    else
        snprintf(source, sizeof(source), "null");
    if (s->lag_bytes >= 0)
        snprintf(bytes, sizeof(bytes), "%lld", (long long) s->lag_bytes);
    else
        snprintf(bytes, sizeof(bytes), "null");
    if (s->lag_seconds >= 0)
        snprintf(seconds, sizeof(seconds), "%.3f", s->lag_seconds);
    else
        snprintf(seconds, sizeof(seconds), "null");
    if (s->link_down != NULL)
        snprintf(down, sizeof(down), "\"link_down\":\"%s\",", s->link_down);
    snprintf(buf, len,
             "\"applied_lsn\":\"%s\",\"durable_lsn\":\"%s\",\"source_lsn\":%s,"
             "\"lag_bytes\":%s,\"lag_seconds\":%s,\"changes_per_s\":%.1f,"
             "\"xacts_per_s\":%.1f,\"ring_fill\":%u,\"ring_size\":%u,%s\"caught_up\":%s",
             applied, durable, source, bytes, seconds, s->changes_per_s, s->xacts_per_s,
             s->ring_fill, s->ring_size, down, s->caught_up ? "true" : "false");
    return buf;
}
