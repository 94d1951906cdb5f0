/*
 * address.c - where memori lives, as the fences and the application are told:
 * host, port and database of a connection string, MEMORI_DATABASE_URL, and
 * the env file that holds it.
 *
 * The new env file keeps the old one's mode, owner and group (mkstemp makes
 * it 0600 and the caller's): an application that reads it as another user
 * still can. A file made anew stays 0600, since it holds a password.
 */
#include "bridge/cmd/address.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libpq-fe.h>

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

/* Give the file open as TO the mode, owner and group of the one open as FROM
 * (FILE, for the message). Changing the owner needs root: it is asked for
 * only when it differs. */
static bool
keep_attributes(int from, int to, const char *file)
{
    struct stat st;

    if (fstat(from, &st) != 0)
    {
        log_error("could not read the mode and owner of %s: %s", file, strerror(errno));
        return false;
    }
    if (((st.st_uid != geteuid() || st.st_gid != getegid()) &&
         fchown(to, st.st_uid, st.st_gid) != 0) ||
        fchmod(to, st.st_mode & 07777) != 0)
    {
        log_error("could not give the new %s the old one's owner (uid %d, gid %d) and mode %04o: "
                  "%s; run as its owner or as root, or set MEMORI_DATABASE_URL there by hand",
                  file, (int) st.st_uid, (int) st.st_gid, (unsigned) (st.st_mode & 07777),
                  strerror(errno));
        return false;
    }
    return true;
}

bool
address_write_env_file(const char *file, const char *dsn, char *display, size_t dlen)
{
    char tmp[4096], line[8192], full[2048], keep[1024] = "";
    FILE *in = fopen(file, "r"), *out;
    bool replaced = false;
    int fd;

    /* keep the query string of the old URL (options, sslmode, ...) */
    if (in != NULL)
    {
        while (fgets(line, sizeof(line), in) != NULL)
            if (strncmp(line, "MEMORI_DATABASE_URL=", 20) == 0)
            {
                char *q = strchr(line, '?');

                if (q != NULL)
                {
                    snprintf(keep, sizeof(keep), "%s", q);
                    keep[strcspn(keep, "\"'\n")] = '\0';
                }
            }
        rewind(in);
    }
    address_url(dsn, keep, display, dlen, full, sizeof(full));
    snprintf(tmp, sizeof(tmp), "%s.memori-bridge.XXXXXX", file);
    fd = mkstemp(tmp);
    if (fd < 0 || (out = fdopen(fd, "w")) == NULL)
    {
        log_error("could not write %s: %s", tmp, strerror(errno));
        if (fd >= 0)
        {
            close(fd);
            unlink(tmp);
        }
        if (in != NULL)
            fclose(in);
        return false;
    }
    if (in != NULL && !keep_attributes(fileno(in), fd, file))
    {
        fclose(out);
        fclose(in);
        unlink(tmp);
        return false;
    }
    while (in != NULL && fgets(line, sizeof(line), in) != NULL)
        if (strncmp(line, "MEMORI_DATABASE_URL=", 20) == 0)
        {
            fprintf(out, "MEMORI_DATABASE_URL=\"%s\"\n", full);
            replaced = true;
        }
        else
            fputs(line, out);
    if (!replaced)
        fprintf(out, "MEMORI_DATABASE_URL=\"%s\"\n", full);
    if (in != NULL)
        fclose(in);
    if (fflush(out) != 0 || fsync(fileno(out)) != 0 || fclose(out) != 0 || rename(tmp, file) != 0)
    {
        log_error("could not write %s: %s", file, strerror(errno));
        unlink(tmp);
        return false;
    }
    return true;
}
