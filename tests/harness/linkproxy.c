/*
 * linkproxy.c - a TCP proxy whose link can be broken on demand, for the
 * memori-bridge fault tests.
 *
 *   linkproxy serve DIR UPSTREAM_PORT   listen on a free port of 127.0.0.1 and
 *                                       forward every connection to
 *                                       127.0.0.1:UPSTREAM_PORT
 *   linkproxy mode DIR MODE [DELAY_MS [BYTES_PER_S]]
 *                                       switch the proxy serving DIR to MODE and
 *                                       wait until it has switched (5 s at most)
 *
 * Modes:
 *   pass       forward both ways
 *   reset      reset (RST) every open connection, on both ends, and reset
 *              every new one right after accepting it
 *   blackhole  forward nothing either way and answer nothing, but keep every
 *              socket open: the kernel still accepts new connections and
 *              acknowledges what is sent, as a path that drops packets would
 *              look once the peer's TCP retransmits. What was sent meanwhile
 *              waits, and flows on (end of stream included) when the mode
 *              goes back to pass, as retransmissions would bring it; a
 *              connection accepted meanwhile reaches the server then
 *   slow       forward each chunk DELAY_MS (default 200) after it arrived, at
 *              most BYTES_PER_S (default 0: no limit) each way
 *   strand     the connections open now are blackholed for good, whatever the
 *              mode later (as a NAT or a firewall that forgot them: each end
 *              keeps its socket and hears nothing more); new ones pass
 *
 * DIR holds what the proxy shares: "port" (the port it listens on, written
 * once it listens), "pid", "log" (one line per event), "stats" (mode and
 * counts, rewritten at each switch), and the switch itself: `mode` writes
 * "GEN MODE DELAY RATE" into DIR/mode and sends SIGUSR1; the proxy applies it
 * and writes GEN into DIR/ack, which `mode` waits for. SIGTERM or SIGINT
 * stops it (every connection closed). One thread, one poll() loop; memory is
 * bounded by MAX_QUEUED bytes per direction of each connection (a full queue
 * stops reading that side).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS  256
#define CHUNK      16384
#define MAX_QUEUED (256 * 1024)

enum mode
{
    MODE_PASS = 0,
    MODE_RESET,
    MODE_BLACKHOLE,
    MODE_SLOW,
    MODE_STRAND,
};

#define NMODES 5
static const char *const mode_names[NMODES] = {"pass", "reset", "blackhole", "slow", "strand"};

/* Bytes read from one end, waiting to be written to the other. */
struct chunk
{
    struct chunk *next;
    int64_t release_us; /* not written before this (slow mode) */
    size_t off, len;
    char data[CHUNK];
};

/* One direction of a connection: from -> to. */
struct flow
{
    struct chunk *head, *tail; /* owned */
    size_t queued;             /* bytes in the queue */
    bool eof;                  /* the reading end said end of stream */
    bool shut;                 /* the writing end was shut for writing after it */
    int64_t window_start;      /* slow mode's rate window */
    size_t window_bytes;
};

struct conn
{
    bool used;
    int cfd, ufd;     /* client, upstream (-1 until connecting) */
    bool connecting;  /* the upstream connect is under way */
    bool stranded;    /* blackholed for good (strand) */
    struct flow up;   /* client -> upstream */
    struct flow down; /* upstream -> client */
};

static struct
{
    const char *dir;
    int upstream_port;
    int lfd, sfd;
    enum mode mode;
    long delay_ms, rate;
    struct conn conns[MAX_CONNS];
    unsigned long accepted, resets, closed;
    FILE *log;
} px;

static int64_t
now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
say(const char *fmt, ...)
{
    va_list ap;
    struct timespec ts;

    if (px.log == NULL)
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    fprintf(px.log, "%lld.%03ld ", (long long) ts.tv_sec, ts.tv_nsec / 1000000);
    va_start(ap, fmt);
    vfprintf(px.log, fmt, ap);
    va_end(ap);
    fputc('\n', px.log);
    fflush(px.log);
}

static void
path(char *buf, size_t len, const char *dir, const char *name)
{
    snprintf(buf, len, "%s/%s", dir, name);
}

/* Write TEXT to DIR/NAME atomically (a temporary file, renamed). */
static bool
write_file(const char *dir, const char *name, const char *text)
{
    char tmp[4096], final[4096];
    FILE *f;

    snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name);
    path(final, sizeof(final), dir, name);
    f = fopen(tmp, "w");
    if (f == NULL)
        return false;
    fputs(text, f);
    if (fclose(f) != 0)
        return false;
    return rename(tmp, final) == 0;
}

static void
flow_free(struct flow *f)
{
    while (f->head != NULL)
    {
        struct chunk *c = f->head;

        f->head = c->next;
        free(c);
    }
    memset(f, 0, sizeof(*f));
}

/* Close FD with a reset (RST) rather than an orderly end. */
static void
close_reset(int fd)
{
    struct linger lg = {1, 0};

    if (fd < 0)
        return;
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    close(fd);
}

static void
conn_close(struct conn *c, bool reset)
{
    if (reset)
    {
        close_reset(c->cfd);
        close_reset(c->ufd);
        px.resets++;
    }
    else
    {
        if (c->cfd >= 0)
            close(c->cfd);
        if (c->ufd >= 0)
            close(c->ufd);
        px.closed++;
    }
    flow_free(&c->up);
    flow_free(&c->down);
    memset(c, 0, sizeof(*c));
}

static int
open_count(void)
{
    int i, n = 0;

    for (i = 0; i < MAX_CONNS; i++)
        n += px.conns[i].used;
    return n;
}

/* Start connecting C to the upstream (non-blocking). */
static void
connect_upstream(struct conn *c)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t) px.upstream_port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int one = 1;

    c->ufd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->ufd < 0)
    {
        say("socket: %s", strerror(errno));
        conn_close(c, true);
        return;
    }
    setsockopt(c->ufd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(c->ufd, (struct sockaddr *) &sa, sizeof(sa)) == 0)
        c->connecting = false;
    else if (errno == EINPROGRESS)
        c->connecting = true;
    else
    {
        say("connect to port %d: %s", px.upstream_port, strerror(errno));
        conn_close(c, true);
    }
}

static void
accept_one(void)
{
    int fd = accept4(px.lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), i, one = 1;
    struct conn *c = NULL;

    if (fd < 0)
        return;
    px.accepted++;
    if (px.mode == MODE_RESET)
    {
        close_reset(fd);
        px.resets++;
        return;
    }
    for (i = 0; i < MAX_CONNS && c == NULL; i++)
        if (!px.conns[i].used)
            c = &px.conns[i];
    if (c == NULL)
    {
        say("too many connections: resetting a new one");
        close_reset(fd);
        return;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->used = true;
    c->cfd = fd;
    c->ufd = -1;
    if (px.mode != MODE_BLACKHOLE)
        connect_upstream(c);
}

/* Read what FD has into F, as one chunk. Returns false when the connection
 * must be reset (a read error). */
static bool
flow_read(struct flow *f, int fd)
{
    struct chunk *c = malloc(sizeof(*c));
    ssize_t n;

    if (c == NULL)
        return false;
    n = read(fd, c->data, CHUNK);
    if (n < 0)
    {
        free(c);
        return errno == EAGAIN || errno == EINTR;
    }
    if (n == 0)
    {
        free(c);
        f->eof = true;
        return true;
    }
    c->next = NULL;
    c->off = 0;
    c->len = (size_t) n;
    c->release_us = now_us() + (px.mode == MODE_SLOW ? px.delay_ms * 1000 : 0);
    if (f->tail != NULL)
        f->tail->next = c;
    else
        f->head = c;
    f->tail = c;
    f->queued += (size_t) n;
    return true;
}

/* How many bytes F may write now (slow mode's rate); sets *WAKE_US to when it
 * has something to write if it has to wait. */
static size_t
flow_allowance(struct flow *f, int64_t now, int64_t *wake_us)
{
    size_t allow = SIZE_MAX;

    if (f->head == NULL)
        return 0;
    if (f->head->release_us > now)
    {
        if (*wake_us == 0 || f->head->release_us < *wake_us)
            *wake_us = f->head->release_us;
        return 0;
    }
    if (px.mode == MODE_SLOW && px.rate > 0)
    {
        size_t per_window = (size_t) px.rate / 10 + 1; /* windows of 100 ms */

        if (now - f->window_start >= 100000)
        {
            f->window_start = now;
            f->window_bytes = 0;
        }
        if (f->window_bytes >= per_window)
        {
            int64_t next = f->window_start + 100000;

            if (*wake_us == 0 || next < *wake_us)
                *wake_us = next;
            return 0;
        }
        allow = per_window - f->window_bytes;
    }
    return allow;
}

/* Write what F may write now to FD. Returns false when the connection must
 * be reset. */
static bool
flow_write(struct flow *f, int fd, int64_t *wake_us)
{
    int64_t now = now_us();

    while (f->head != NULL)
    {
        struct chunk *c = f->head;
        size_t allow = flow_allowance(f, now, wake_us), want = c->len - c->off;
        ssize_t n;

        if (allow == 0)
            return true;
        if (want > allow)
            want = allow;
        n = write(fd, c->data + c->off, want);
        if (n < 0)
            return errno == EAGAIN || errno == EINTR;
        c->off += (size_t) n;
        f->queued -= (size_t) n;
        f->window_bytes += (size_t) n;
        if (c->off < c->len)
            return true;
        f->head = c->next;
        if (f->head == NULL)
            f->tail = NULL;
        free(c);
    }
    if (f->eof && !f->shut)
    {
        shutdown(fd, SHUT_WR);
        f->shut = true;
    }
    return true;
}

static void
apply_mode(enum mode m, long delay_ms, long rate)
{
    int i;

    px.mode = m;
    px.delay_ms = delay_ms;
    px.rate = rate;
    for (i = 0; i < MAX_CONNS; i++)
    {
        struct conn *c = &px.conns[i];

        if (!c->used)
            continue;
        if (m == MODE_RESET)
            conn_close(c, true);
        else if (m == MODE_STRAND)
            c->stranded = true;
        else if (m != MODE_BLACKHOLE && c->ufd < 0)
            connect_upstream(c); /* accepted while blackholed: it gets through now */
    }
}

static void
write_stats(void)
{
    char text[512];

    snprintf(text, sizeof(text),
             "mode=%s delay_ms=%ld rate=%ld open=%d accepted=%lu resets=%lu closed=%lu\n",
             mode_names[px.mode], px.delay_ms, px.rate, open_count(), px.accepted, px.resets,
             px.closed);
    write_file(px.dir, "stats", text);
}

/* SIGUSR1: read DIR/mode, apply it, acknowledge it. */
static void
control(void)
{
    char file[4096], name[32] = "", ack[64];
    unsigned long gen = 0;
    long delay = 200, rate = 0;
    FILE *f;
    int i;

    path(file, sizeof(file), px.dir, "mode");
    f = fopen(file, "r");
    if (f == NULL || fscanf(f, "%lu %31s %ld %ld", &gen, name, &delay, &rate) < 2)
    {
        say("unreadable mode file \"%s\"", file);
        if (f != NULL)
            fclose(f);
        return;
    }
    fclose(f);
    for (i = 0; i < NMODES; i++)
        if (strcmp(name, mode_names[i]) == 0)
            break;
    if (i == NMODES)
    {
        say("unknown mode \"%s\"", name);
        return;
    }
    apply_mode((enum mode) i, delay, rate);
    say("mode %s (delay %ld ms, rate %ld B/s): %d connections open", mode_names[i], delay, rate,
        open_count());
    write_stats();
    snprintf(ack, sizeof(ack), "%lu\n", gen);
    write_file(px.dir, "ack", ack);
}

/* The poll entries of C, in FDS from *N; OWNER maps each back to C. A
 * direction asks to write only when its first chunk may go now (slow mode
 * holds chunks back); *WAKE_US gets the earliest time one may. */
static void
conn_events(struct conn *c, struct pollfd *fds, struct conn **owner, int *n, int64_t now,
            int64_t *wake_us)
{
    short cev = 0, uev = 0;

    if (px.mode == MODE_BLACKHOLE || px.mode == MODE_RESET || c->stranded)
        return; /* nothing moves; the sockets stay open */
    if (c->ufd < 0)
        return;
    if (c->connecting)
        uev = POLLOUT;
    else
    {
        if (!c->up.eof && c->up.queued < MAX_QUEUED)
            cev |= POLLIN;
        if (!c->down.eof && c->down.queued < MAX_QUEUED)
            uev |= POLLIN;
        if (flow_allowance(&c->down, now, wake_us) > 0)
            cev |= POLLOUT;
        if (flow_allowance(&c->up, now, wake_us) > 0)
            uev |= POLLOUT;
    }
    fds[*n] = (struct pollfd){c->cfd, cev, 0};
    owner[(*n)++] = c;
    fds[*n] = (struct pollfd){c->ufd, uev, 0};
    owner[(*n)++] = c;
}

static void
serve_loop(void)
{
    static struct pollfd fds[2 + 2 * MAX_CONNS];
    static struct conn *owner[2 + 2 * MAX_CONNS];

    for (;;)
    {
        int n = 0, i, timeout = -1;
        int64_t wake = 0, now;

        fds[n] = (struct pollfd){px.sfd, POLLIN, 0};
        owner[n++] = NULL;
        fds[n] = (struct pollfd){px.lfd, POLLIN, 0};
        owner[n++] = NULL;
        now = now_us();
        for (i = 0; i < MAX_CONNS; i++)
        {
            struct conn *c = &px.conns[i];

            if (!c->used)
                continue;
            conn_events(c, fds, owner, &n, now, &wake);
        }
        if (wake != 0)
            timeout = wake > now ? (int) ((wake - now) / 1000) + 1 : 0;
        if (poll(fds, (nfds_t) n, timeout) < 0)
        {
            if (errno == EINTR)
                continue;
            say("poll: %s", strerror(errno));
            return;
        }
        if (fds[0].revents & POLLIN)
        {
            struct signalfd_siginfo si;

            while (read(px.sfd, &si, sizeof(si)) == (ssize_t) sizeof(si))
            {
                if (si.ssi_signo == SIGUSR1)
                    control();
                else
                {
                    say("stopping (signal %u)", si.ssi_signo);
                    return;
                }
            }
        }
        if (fds[1].revents & POLLIN)
            accept_one();
        for (i = 2; i < n; i += 2)
        {
            struct conn *c = owner[i];
            struct pollfd *cf = &fds[i], *uf = &fds[i + 1];
            bool ok = true;
            int64_t ignore = 0;

            if (!c->used)
                continue;
            if (c->connecting)
            {
                int err = 0;
                socklen_t len = sizeof(err);

                if (!(uf->revents & (POLLOUT | POLLERR | POLLHUP)))
                    continue;
                getsockopt(c->ufd, SOL_SOCKET, SO_ERROR, &err, &len);
                if (err != 0)
                {
                    say("connect to port %d: %s", px.upstream_port, strerror(err));
                    conn_close(c, true);
                    continue;
                }
                c->connecting = false;
                continue;
            }
            if (cf->revents & POLLIN)
                ok = flow_read(&c->up, c->cfd);
            if (ok && (uf->revents & POLLIN))
                ok = flow_read(&c->down, c->ufd);
            if (ok && ((cf->revents | uf->revents) & POLLERR))
                ok = false;
            if (ok)
                ok = flow_write(&c->up, c->ufd, &ignore) && flow_write(&c->down, c->cfd, &ignore);
            if (!ok)
                conn_close(c, true); /* one end failed: the other learns it at once */
            else if (c->up.shut && c->down.shut)
                conn_close(c, false); /* both ends said all they had */
        }
    }
}

static int
serve(const char *dir, const char *port_arg)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t salen = sizeof(sa);
    char file[4096], text[64];
    sigset_t sigs;
    char *end;
    int one = 1, i;

    px.dir = dir;
    px.upstream_port = (int) strtol(port_arg, &end, 10);
    if (*end != '\0' || px.upstream_port <= 0 || px.upstream_port > 65535)
    {
        fprintf(stderr, "linkproxy: \"%s\" is not a port\n", port_arg);
        return 2;
    }
    path(file, sizeof(file), dir, "log");
    px.log = fopen(file, "a");
    if (px.log == NULL)
    {
        fprintf(stderr, "linkproxy: could not open \"%s\": %s\n", file, strerror(errno));
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGUSR1);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    sigprocmask(SIG_BLOCK, &sigs, NULL);
    px.sfd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC);
    px.lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (px.sfd < 0 || px.lfd < 0)
    {
        fprintf(stderr, "linkproxy: %s\n", strerror(errno));
        return 1;
    }
    setsockopt(px.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(px.lfd, (struct sockaddr *) &sa, sizeof(sa)) != 0 || listen(px.lfd, 64) != 0 ||
        getsockname(px.lfd, (struct sockaddr *) &sa, &salen) != 0)
    {
        fprintf(stderr, "linkproxy: could not listen on 127.0.0.1: %s\n", strerror(errno));
        return 1;
    }
    snprintf(text, sizeof(text), "%d\n", (int) getpid());
    write_file(dir, "pid", text);
    write_stats();
    snprintf(text, sizeof(text), "%d\n", ntohs(sa.sin_port));
    write_file(dir, "port", text);
    say("listening on 127.0.0.1:%d, forwarding to 127.0.0.1:%d", ntohs(sa.sin_port),
        px.upstream_port);
    serve_loop();
    for (i = 0; i < MAX_CONNS; i++)
        if (px.conns[i].used)
            conn_close(&px.conns[i], false);
    close(px.lfd);
    path(file, sizeof(file), dir, "pid");
    unlink(file);
    fclose(px.log);
    return 0;
}

/* `mode`: write the switch, signal the proxy, wait for its acknowledgement. */
static int
set_mode(const char *dir, int argc, char **argv)
{
    char file[4096], text[128];
    unsigned long gen = (unsigned long) time(NULL) * 1000 + (unsigned long) (now_us() / 1000 % 1000);
    long pid = 0, delay = 200, rate = 0;
    FILE *f;
    int i;

    for (i = 0; i < NMODES; i++)
        if (strcmp(argv[0], mode_names[i]) == 0)
            break;
    if (i == NMODES)
    {
        fprintf(stderr,
                "linkproxy: unknown mode \"%s\"; use pass, reset, blackhole, slow or strand\n",
                argv[0]);
        return 2;
    }
    if (argc > 1)
        delay = strtol(argv[1], NULL, 10);
    if (argc > 2)
        rate = strtol(argv[2], NULL, 10);
    path(file, sizeof(file), dir, "pid");
    f = fopen(file, "r");
    if (f == NULL || fscanf(f, "%ld", &pid) != 1 || pid <= 0)
    {
        fprintf(stderr, "linkproxy: no proxy serves \"%s\" (no pid file)\n", dir);
        if (f != NULL)
            fclose(f);
        return 1;
    }
    fclose(f);
    snprintf(text, sizeof(text), "%lu %s %ld %ld\n", gen, argv[0], delay, rate);
    if (!write_file(dir, "mode", text) || kill((pid_t) pid, SIGUSR1) != 0)
    {
        fprintf(stderr, "linkproxy: could not switch the proxy of \"%s\": %s\n", dir,
                strerror(errno));
        return 1;
    }
    path(file, sizeof(file), dir, "ack");
    for (i = 0; i < 500; i++)
    {
        unsigned long got = 0;

        f = fopen(file, "r");
        if (f != NULL)
        {
            if (fscanf(f, "%lu", &got) != 1)
                got = 0;
            fclose(f);
        }
        if (got == gen)
            return 0;
        usleep(10000);
    }
    fprintf(stderr, "linkproxy: the proxy of \"%s\" did not switch to %s within 5 s\n", dir,
            argv[0]);
    return 1;
}

int
main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "serve") == 0)
        return serve(argv[2], argv[3]);
    if (argc >= 4 && argc <= 6 && strcmp(argv[1], "mode") == 0)
        return set_mode(argv[2], argc - 3, argv + 3);
    fprintf(stderr, "usage: linkproxy serve DIR UPSTREAM_PORT\n"
                    "       linkproxy mode DIR pass|reset|blackhole|slow|strand [DELAY_MS "
                    "[BYTES_PER_S]]\n");
    return 2;
}
