/*
 * harness_probe.c: Criterion tests that go wrong on purpose, each after starting a
 * cluster. teardown.sh runs them one at a time (--filter) and checks that none
 * leaves a cluster or a set directory behind. Not registered as a test itself: on
 * its own every test here fails.
 *
 * Each test writes "SET=<set dir>" and "PID=<pid of the test process>" to the file
 * named by $PGH_PROBE_OUT (written whole, then renamed into place, so a reader
 * never sees half of it) once its cluster runs.
 */
#include "pgh.h"

#include <criterion/criterion.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct pgh_set set;

static void
start_and_record(void)
{
    const char *out = getenv("PGH_PROBE_OUT");
    char tmp[4096];
    char err[512];
    FILE *f;

    cr_assert(out && *out, "PGH_PROBE_OUT is not set; run this probe from teardown.sh");
    cr_assert(pgh_start(&set, 1, err, sizeof(err)), "pgh_start failed: %s", err);
    snprintf(tmp, sizeof(tmp), "%s.tmp", out);
    f = fopen(tmp, "w");
    cr_assert_not_null(f, "could not write \"%s\"", tmp);
    fprintf(f, "SET=%s\nPID=%ld\n", set.dir, (long) getpid());
    cr_assert_eq(fclose(f), 0, "could not write \"%s\"", tmp);
    cr_assert_eq(rename(tmp, out), 0, "could not rename \"%s\" to \"%s\"", tmp, out);
}

/* No .fini and no pgh_stop(): the harness's own handlers must clean up. */
TestSuite(probe);

Test(probe, fails_after_start)
{
    start_and_record();
    cr_assert_fail("deliberate failure with a cluster running");
}

Test(probe, crashes_after_start)
{
    start_and_record();
    /* A real crash, not an exit: no atexit handler runs; the watchdog must act. */
    raise(SIGSEGV);
    cr_assert_fail("still alive after SIGSEGV");
}

Test(probe, waits_to_be_killed)
{
    start_and_record();
    /* Bounded, so that a lost signal fails the run instead of hanging it. */
    for (int i = 0; i < 1200; i++)
        usleep(100 * 1000);
    cr_assert_fail("not killed within 120 s");
}
