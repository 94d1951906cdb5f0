/*
 * conf_file.c - the configuration file: read whole, checked line by line,
 * then handed to libinih one line at a time.
 *
 * libinih reads a line into INI_MAX_LINE bytes and takes what does not fit
 * for a line of its own, and goes on past an error: a long connection string
 * would come apart into "keys" made of its tail (a password's, say), and the
 * reason told could be a later line's. So a line longer than inih holds, or
 * one that is not text, is refused by its number before inih sees it; inih
 * reads through file_reader, which counts the lines; and the first line
 * refused is the one told.
 */
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bridge/base/conf.h"
#include "bridge/base/conf_int.h"
#include "bridge/base/log.h"

#define FILE_MAX_BYTES (1 << 20)
#define LINE_MAX_CHARS (INI_MAX_LINE - 1) /* what inih holds, the line's end aside */

/* State of one configuration file read: the text, and where inih is in it. */
struct file_state
{
    struct conf *conf;
    const char *path;
    const char *next; /* the next line to hand to inih */
    int line;         /* the number of the line inih has now */
    int bad_line;     /* the first line the handler refused, or 0 */
    char bad[256];    /* why it refused it */
};

/* inih's reader: one line of the text at a time (check_lines made sure each
 * fits NUM), so that the handler knows the line it is called for. */
static char *
file_reader(char *str, int num, void *user)
{
    struct file_state *st = user;
    size_t n;

    if (*st->next == '\0')
        return NULL;
    n = strcspn(st->next, "\n");
    if (n > (size_t) num - 1)
        n = (size_t) num - 1;
    memcpy(str, st->next, n);
    str[n] = '\0';
    st->next += n + (st->next[n] == '\n');
    st->line++;
    return str;
}

static int
file_handler(void *user, const char *section, const char *name, const char *value)
{
    struct file_state *st = user;
    char shown_name[64];

    if (st->bad_line != 0)
        return 0; /* inih goes on after an error: the first one is the one told */
    if (section[0] != '\0' && strcmp(section, "memori-bridge") != 0)
    {
        snprintf(st->bad, sizeof(st->bad), "unknown section %s; use [memori-bridge] or none",
                 conf_shown(section, "(a name not shown)", shown_name, sizeof(shown_name)));
        st->bad_line = st->line;
        return 0;
    }
    if (!conf_set_key(st->conf, name, value, st->bad, sizeof(st->bad)))
    {
        st->bad_line = st->line;
        return 0;
    }
    return 1;
}

/* Read the file at PATH (a regular file, or a pipe such as <(...)) into a
 * new string, or log why not (naming the path) and return NULL. */
static char *
read_file(const char *path)
{
    struct stat sb;
    char *buf = NULL;
    size_t len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0 || fstat(fd, &sb) != 0)
    {
        log_error("could not open configuration file \"%s\": %s", path, strerror(errno));
        goto fail;
    }
    if (!S_ISREG(sb.st_mode) && !S_ISFIFO(sb.st_mode))
    {
        log_error("configuration file \"%s\" is %s, not a file; give --config the path of a "
                  "file",
                  path, S_ISDIR(sb.st_mode) ? "a directory" : "a device or socket");
        goto fail;
    }
    buf = malloc(FILE_MAX_BYTES + 1);
    if (buf == NULL)
    {
        log_error("out of memory");
        goto fail;
    }
    for (;;)
    {
        ssize_t n = read(fd, buf + len, FILE_MAX_BYTES + 1 - len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
        {
            log_error("could not read configuration file \"%s\": %s", path, strerror(errno));
            goto fail;
        }
        if (n == 0)
            break;
        len += (size_t) n;
        if (len > FILE_MAX_BYTES)
        {
            log_error("configuration file \"%s\" is larger than %d MB: not a configuration "
                      "file; check --config",
                      path, FILE_MAX_BYTES >> 20);
            goto fail;
        }
    }
    close(fd);
    buf[len] = '\0';
    /* a NUL byte would end the text early without a word: say where it is */
    if (strlen(buf) != len)
    {
        int line = 1;

        for (size_t i = 0; buf[i] != '\0'; i++)
            line += buf[i] == '\n';
        log_error("%s:%d: not text (a NUL byte); is this a configuration file?", path, line);
        free(buf);
        return NULL;
    }
    return buf;
fail:
    if (fd >= 0)
        close(fd);
    free(buf);
    return NULL;
}

/* Each line of TEXT is text, and short enough for inih; else log the first
 * that is not, by its number alone (never its bytes), and return false. */
static bool
check_lines(const char *path, const char *text)
{
    const char *p = text;
    int line = 1;

    for (; *p != '\0'; line++)
    {
        size_t n = strcspn(p, "\n"), chars = n;

        if (chars > 0 && p[chars - 1] == '\r')
            chars--;
        if (!conf_is_text(p, chars))
        {
            log_error("%s:%d: not text (a control character or bytes that are not UTF-8); is "
                      "this a configuration file?",
                      path, line);
            return false;
        }
        if (n > LINE_MAX_CHARS)
        {
            log_error("%s:%d: the line is longer than %d bytes, the most a configuration file "
                      "line may hold; give a longer connection string in MEMORI_BRIDGE_SOURCE "
                      "or MEMORI_BRIDGE_TARGET",
                      path, line, LINE_MAX_CHARS);
            return false;
        }
        p += n + (p[n] == '\n');
    }
    return true;
}

bool
conf_load_file(struct conf *conf, const char *path)
{
    struct file_state st = {conf, path, NULL, 0, 0, ""};
    char *text = read_file(path);
    int line;

    if (text == NULL)
        return false;
    if (!check_lines(path, text))
    {
        free(text);
        return false;
    }
    st.next = text;
    line = ini_parse_stream(file_reader, &st, file_handler, &st);
    free(text);
    if (line != 0)
    {
        if (line < 0)
            log_error("could not read configuration file \"%s\"", path);
        else
            log_error("%s:%d: %s", path, line,
                      line == st.bad_line ? st.bad : "not a setting (write key = value)");
        return false;
    }
    conf->config_file = strdup(path);
    return true;
}

void
conf_print_comment(FILE *out, const char *text)
{
    const int width = 76; /* after "# " */

    while (*text != '\0')
    {
        int n = (int) strlen(text);

        if (n > width)
        {
            int cut = width;

            while (cut > 0 && text[cut] != ' ')
                cut--;
            if (cut == 0)
                while (text[cut] != '\0' && text[cut] != ' ')
                    cut++;
            n = cut;
        }
        fprintf(out, "# %.*s\n", n, text);
        text += n;
        while (*text == ' ')
            text++;
    }
}
