/*
 * test_linkproxy.c: the fault tests' proxy (linkproxy.c) does what each mode
 * says, in front of an echo server of this process: pass echoes; blackhole
 * keeps connections open and answers nothing (a client's read times out, a new
 * connection is accepted and then hears nothing) until pass lets the held
 * bytes through; reset resets open and new connections; slow delays; strand
 * leaves open connections hearing nothing for good while new ones pass.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char dir[] = "/tmp/linkproxy-test.XXXXXX";
static int echo_fd = -1, proxy_port;
static pid_t proxy_pid;

static void *
echo_conn(void *arg)
{
    int fd = (int) (intptr_t) arg;
    char buf[4096];
    ssize_t n;

    while ((n = read(fd, buf, sizeof(buf))) > 0)
        if (write(fd, buf, (size_t) n) != n)
            break;
    close(fd);
    return NULL;
}

static void *
echo_server(void *arg)
{
    pthread_t t;
    int fd;

    (void) arg;
    while ((fd = accept(echo_fd, NULL, NULL)) >= 0)
    {
        pthread_create(&t, NULL, echo_conn, (void *) (intptr_t) fd);
        pthread_detach(t);
    }
    return NULL;
}

static int
listen_loopback(int *port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    cr_assert(fd >= 0);
    cr_assert_eq(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
    cr_assert_eq(listen(fd, 16), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *) &sa, &len), 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

static int
connect_proxy(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t) proxy_port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    cr_assert(fd >= 0);
    cr_assert_eq(connect(fd, (struct sockaddr *) &sa, sizeof(sa)), 0, "connect: %s",
                 strerror(errno));
    return fd;
}

/* Read what comes within MS milliseconds: the byte count, 0 at end of
 * stream, -1 when nothing came (timeout), -2 on an error (errno kept). */
static ssize_t
read_within(int fd, char *buf, size_t len, int ms)
{
    struct pollfd p = {fd, POLLIN, 0};
    ssize_t n;

    if (poll(&p, 1, ms) == 0)
        return -1;
    n = read(fd, buf, len);
    return n < 0 ? -2 : n;
}

/* A connection through the proxy that has echoed a byte (the link passes). */
static int
echoing_connection(void)
{
    int fd = connect_proxy();
    char buf[16];

    cr_assert_eq(write(fd, "a", 1), 1);
    cr_assert_eq(read_within(fd, buf, sizeof(buf), 5000), 1, "pass: no echo");
    return fd;
}

static void
mode(const char *m, const char *delay)
{
    char cmd[512];

    snprintf(cmd, sizeof(cmd), "'%s' mode '%s' %s %s", LINKPROXY_BIN, dir, m, delay ? delay : "");
    cr_assert_eq(system(cmd), 0, "%s failed", cmd);
}

static void
start(void)
{
    pthread_t t;
    int echo_port, i;
    char port_file[600], port[16];

    signal(SIGPIPE, SIG_IGN);
    cr_assert_not_null(mkdtemp(dir));
    echo_fd = listen_loopback(&echo_port);
    pthread_create(&t, NULL, echo_server, NULL);
    pthread_detach(t);
    snprintf(port, sizeof(port), "%d", echo_port);
    proxy_pid = fork();
    cr_assert(proxy_pid >= 0);
    if (proxy_pid == 0)
    {
        execl(LINKPROXY_BIN, "linkproxy", "serve", dir, port, (char *) NULL);
        _exit(127);
    }
    snprintf(port_file, sizeof(port_file), "%s/port", dir);
    for (i = 0; i < 200 && proxy_port == 0; i++)
    {
        FILE *f = fopen(port_file, "r");

        if (f != NULL)
        {
            if (fscanf(f, "%d", &proxy_port) != 1)
                proxy_port = 0;
            fclose(f);
        }
        if (proxy_port == 0)
            usleep(10000);
    }
    cr_assert_neq(proxy_port, 0, "the proxy did not start");
}

static void
stop(void)
{
    char cmd[600];

    if (proxy_pid > 0)
    {
        kill(proxy_pid, SIGTERM);
        waitpid(proxy_pid, NULL, 0);
    }
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

TestSuite(linkproxy, .init = start, .fini = stop, .timeout = 60);

Test(linkproxy, passes_bytes_both_ways)
{
    int fd = connect_proxy();
    char buf[16] = "";

    cr_assert_eq(write(fd, "hello", 5), 5);
    cr_assert_eq(read_within(fd, buf, sizeof(buf), 5000), 5);
    cr_assert_str_eq(buf, "hello");
    close(fd);
}

Test(linkproxy, blackhole_answers_nothing_until_pass)
{
    int old = echoing_connection(), fresh;
    char buf[16] = "";

    mode("blackhole", NULL);
    /* an open connection: what it sends is taken, and nothing comes back */
    cr_assert_eq(write(old, "held", 4), 4);
    cr_assert_eq(read_within(old, buf, sizeof(buf), 1500), -1, "blackhole: a read did not time out");
    /* a new connection is accepted, and hears nothing either */
    fresh = connect_proxy();
    cr_assert_eq(write(fresh, "new", 3), 3);
    cr_assert_eq(read_within(fresh, buf, sizeof(buf), 1500), -1,
                 "blackhole: a new connection got an answer");
    /* back to pass: what waited goes through, on both */
    mode("pass", NULL);
    memset(buf, 0, sizeof(buf));
    cr_assert_eq(read_within(old, buf, sizeof(buf), 5000), 4);
    cr_assert_str_eq(buf, "held");
    memset(buf, 0, sizeof(buf));
    cr_assert_eq(read_within(fresh, buf, sizeof(buf), 5000), 3);
    cr_assert_str_eq(buf, "new");
    close(old);
    close(fresh);
}

Test(linkproxy, reset_resets_open_and_new_connections)
{
    int old = echoing_connection(), fresh;
    char buf[16];
    ssize_t n;

    mode("reset", NULL);
    n = read_within(old, buf, sizeof(buf), 5000);
    cr_assert(n == -2 && errno == ECONNRESET, "an open connection was not reset (%zd, %s)", n,
              strerror(errno));
    fresh = connect_proxy();
    n = read_within(fresh, buf, sizeof(buf), 5000);
    cr_assert(n == 0 || (n == -2 && errno == ECONNRESET),
              "a new connection was not reset (%zd, %s)", n, strerror(errno));
    close(old);
    close(fresh);
    mode("pass", NULL);
    fresh = connect_proxy();
    cr_assert_eq(write(fresh, "b", 1), 1);
    cr_assert_eq(read_within(fresh, buf, sizeof(buf), 5000), 1, "pass again: no echo");
    close(fresh);
}

Test(linkproxy, slow_delays_each_way)
{
    int fd = connect_proxy();
    struct timespec a, b;
    char buf[16];
    double ms;

    mode("slow", "300");
    clock_gettime(CLOCK_MONOTONIC, &a);
    cr_assert_eq(write(fd, "x", 1), 1);
    cr_assert_eq(read_within(fd, buf, sizeof(buf), 10000), 1);
    clock_gettime(CLOCK_MONOTONIC, &b);
    ms = (double) (b.tv_sec - a.tv_sec) * 1000 + (double) (b.tv_nsec - a.tv_nsec) / 1e6;
    /* the proxy holds each chunk 300 ms by its own clock, each way: a lower
     * bound that cannot flake */
    cr_assert_geq(ms, 600, "the round trip took %.0f ms, expected at least 600", ms);
    close(fd);
}

Test(linkproxy, strand_forgets_open_connections_for_good)
{
    int old = echoing_connection(), fresh;
    char buf[16] = "";

    mode("strand", NULL);
    /* a new connection passes */
    fresh = connect_proxy();
    cr_assert_eq(write(fresh, "new", 3), 3);
    cr_assert_eq(read_within(fresh, buf, sizeof(buf), 5000), 3,
                 "strand: a new connection got no echo");
    /* the open one hears nothing, not even after pass */
    cr_assert_eq(write(old, "lost", 4), 4);
    cr_assert_eq(read_within(old, buf, sizeof(buf), 1500), -1,
                 "strand: an open connection got an answer");
    mode("pass", NULL);
    cr_assert_eq(read_within(old, buf, sizeof(buf), 1500), -1,
                 "strand, then pass: a stranded connection got an answer");
    close(old);
    close(fresh);
}
