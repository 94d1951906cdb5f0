/*
 * atomicfile.c - write next to it, flush, keep the attributes, rename, flush
 * the folder.
 */
#include "bridge/base/atomicfile.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bridge/base/log.h"

/* Give the file open as TO the mode, owner and group of OLD. Changing the
 * owner needs root: it is asked for only when it differs. */
static bool
keep_attributes(const struct stat *old, int to, const char *file, const char *what)
{
    if (((old->st_uid != geteuid() || old->st_gid != getegid()) &&
         fchown(to, old->st_uid, old->st_gid) != 0) ||
        fchmod(to, old->st_mode & 07777) != 0)
    {
        log_error("could not give the new %s %s the old one's owner (uid %d, gid %d) and mode "
                  "%04o: %s; run as its owner or as root",
                  what, file, (int) old->st_uid, (int) old->st_gid,
                  (unsigned) (old->st_mode & 07777), strerror(errno));
        return false;
    }
    return true;
}

/* fsync the folder that holds FILE, so that a rename in it is durable. */
static void
sync_folder(const char *file)
{
    char copy[4096];
    int fd;

    snprintf(copy, sizeof(copy), "%s", file);
    fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0)
    {
        (void) fsync(fd);
        close(fd);
    }
}

bool
atomicfile_replace(const char *file, const char *what, const char *content, size_t len)
{
    char tmp[4096];
    struct stat old;
    bool exists = stat(file, &old) == 0;
    size_t done = 0;
    int fd;

    if (!exists && errno != ENOENT)
    {
        log_error("could not read the mode and owner of %s %s: %s", what, file, strerror(errno));
        return false;
    }
    snprintf(tmp, sizeof(tmp), "%s.memori-bridge.XXXXXX", file);
    fd = mkstemp(tmp);
    if (fd < 0)
    {
        log_error("could not write %s next to %s: %s; the bridge needs to write in its folder",
                  what, file, strerror(errno));
        return false;
    }
    if (exists && !keep_attributes(&old, fd, file, what))
        goto failed_quietly;
    while (done < len)
    {
        ssize_t n = write(fd, content + done, len - done);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            goto failed;
        done += (size_t) n;
    }
    if (fsync(fd) != 0 || close(fd) != 0)
    {
        fd = -1;
        goto failed;
    }
    fd = -1;
    if (rename(tmp, file) != 0)
        goto failed;
    sync_folder(file);
    return true;
failed:
    log_error("could not write %s %s: %s", what, file, strerror(errno));
failed_quietly:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return false;
}

char *
atomicfile_read(const char *file, const char *what, bool missing_ok)
{
    FILE *f = fopen(file, "r");
    char *buf = NULL;
    size_t len = 0, n;
    char chunk[4096];
    FILE *out;

    if (f == NULL)
    {
        if (errno == ENOENT && missing_ok)
            return strdup("");
        log_error("could not read %s %s: %s", what, file, strerror(errno));
        return NULL;
    }
    out = open_memstream(&buf, &len);
    if (out == NULL)
    {
        fclose(f);
        log_error("out of memory");
        return NULL;
    }
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        fwrite(chunk, 1, n, out);
    if (ferror(f))
    {
        log_error("could not read %s %s: %s", what, file, strerror(errno));
        fclose(f);
        fclose(out);
        free(buf);
        return NULL;
    }
    fclose(f);
    if (fclose(out) != 0)
    {
        free(buf);
        log_error("out of memory");
        return NULL;
    }
    return buf;
}
