/*
 * failpoint.c - MEMORI_BRIDGE_FAILPOINT.
 */
#include "bridge/base/failpoint.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/base/log.h"

void
failpoint(const char *name)
{
    const char *want = getenv("MEMORI_BRIDGE_FAILPOINT");

    if (want != NULL && strcmp(want, name) == 0)
    {
        log_warning("failpoint \"%s\": killing this process (MEMORI_BRIDGE_FAILPOINT)", name);
        raise(SIGKILL);
    }
}

bool
failpoint_fail(const char *name)
{
    const char *want = getenv("MEMORI_BRIDGE_FAILPOINT");

    if (want == NULL || strcmp(want, name) != 0)
        return false;
    log_error("failpoint \"%s\": failing here (MEMORI_BRIDGE_FAILPOINT)", name);
    return true;
}
