/*
 * address.c - where memori lives, as the fences and the application are told:
 * host, port and database of a connection string, MEMORI_DATABASE_URL, and
 * the env file that holds it.
 *
 * The env file is replaced whole (base/atomicfile.h): it keeps its mode,
 * owner and group, and a file made anew is 0600, since it holds a password.
 */
#include "bridge/cmd/address.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "bridge/base/atomicfile.h"
#include "bridge/base/log.h"
#include "bridge/base/secret.h"

/* The parts of a connection string that say where it connects. */
struct parts
{
    const char *host, *port, *db, *user, *password; /* borrowed from the parsed options */
};

/* Parse DSN into *P (defaults as libpq's); the caller frees the result with
 * PQconninfoFree. */
static PQconninfoOption *
parse(const char *dsn, struct parts *p)
{
    PQconninfoOption *opts = PQconninfoParse(dsn, NULL), *o;

    *p = (struct parts){"localhost", "5432", "", "", NULL};
    for (o = opts; o != NULL && o->keyword != NULL; o++)
    {
        if (o->val == NULL)
            continue;
        if (strcmp(o->keyword, "host") == 0 ||
            (strcmp(o->keyword, "hostaddr") == 0 && strcmp(p->host, "localhost") == 0))
            p->host = o->val;
        else if (strcmp(o->keyword, "port") == 0)
            p->port = o->val;
        else if (strcmp(o->keyword, "dbname") == 0)
            p->db = o->val;
        else if (strcmp(o->keyword, "user") == 0)
            p->user = o->val;
        else if (strcmp(o->keyword, "password") == 0)
            p->password = o->val;
    }
    return opts;
}

char *
address_describe(const char *dsn, char *buf, size_t len)
{
    struct parts p;
    PQconninfoOption *opts = parse(dsn, &p);

    snprintf(buf, len, "host=%s port=%s dbname=%s", p.host, p.port, *p.db ? p.db : p.user);
    PQconninfoFree(opts);
    return buf;
}

void
address_url(const char *dsn, const char *keep, char *display, size_t dlen, char *full,
            size_t flen)
{
    struct parts p;
    PQconninfoOption *opts = parse(dsn, &p);
    const char *password = p.password ? p.password : getenv("PGPASSWORD");
    const char *db = *p.db ? p.db : p.user;

    snprintf(display, dlen, "postgresql://%s%s%s@%s:%s/%s%s", p.user, password ? ":" : "",
             password ? SECRET_MASK : "", p.host, p.port, db, keep ? keep : "");
    snprintf(full, flen, "postgresql://%s%s%s@%s:%s/%s%s", p.user, password ? ":" : "",
             password ? password : "", p.host, p.port, db, keep ? keep : "");
    PQconninfoFree(opts);
}

bool
address_write_env_file(const char *file, const char *dsn, char *display, size_t dlen)
{
    char full[2048], keep[1024] = "";
    char *old = atomicfile_read(file, "env file", true), *content = NULL, *line, *next;
    size_t len = 0;
    bool replaced = false, ok;
    FILE *out;

    if (old == NULL)
        return false;
    /* keep the query string of the old URL (options, sslmode, ...) */
    for (line = old; *line != '\0'; line = next)
    {
        size_t n = strcspn(line, "\n");

        next = line + n + (line[n] == '\n');
        if (strncmp(line, "MEMORI_DATABASE_URL=", 20) == 0 && memchr(line, '?', n) != NULL)
        {
            const char *q = memchr(line, '?', n);

            snprintf(keep, sizeof(keep), "%.*s", (int) (line + n - q), q);
            keep[strcspn(keep, "\"'")] = '\0';
        }
    }
    address_url(dsn, keep, display, dlen, full, sizeof(full));
    out = open_memstream(&content, &len);
    if (out == NULL)
    {
        free(old);
        log_error("out of memory");
        return false;
    }
    for (line = old; *line != '\0'; line = next)
    {
        size_t n = strcspn(line, "\n");

        next = line + n + (line[n] == '\n');
        if (strncmp(line, "MEMORI_DATABASE_URL=", 20) == 0)
        {
            fprintf(out, "MEMORI_DATABASE_URL=\"%s\"\n", full);
            replaced = true;
        }
        else
            fprintf(out, "%.*s\n", (int) n, line);
    }
    if (!replaced)
        fprintf(out, "MEMORI_DATABASE_URL=\"%s\"\n", full);
    free(old);
    if (fclose(out) != 0)
    {
        free(content);
        log_error("out of memory");
        return false;
    }
    ok = atomicfile_replace(file, "env file", content, len);
    free(content);
    return ok;
}
