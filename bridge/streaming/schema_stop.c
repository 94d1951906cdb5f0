/*
 * schema_stop.c - the stop in force, behind its mutex (schema_stop.h).
 */
#include "bridge/streaming/schema_stop.h"

#include <string.h>

void
schema_stop_set(struct schema_stop_shared *sh, const struct schema_stop *s)
{
    pthread_mutex_lock(&sh->lock);
    if (s != NULL)
        sh->s = *s;
    else
        memset(&sh->s, 0, sizeof(sh->s));
    if (sh->active || s != NULL)
        sh->version++;
    sh->active = s != NULL;
    pthread_mutex_unlock(&sh->lock);
}

bool
schema_stop_get(struct schema_stop_shared *sh, struct schema_stop *out, uint64_t *version)
{
    bool active;

    pthread_mutex_lock(&sh->lock);
    active = sh->active;
    if (out != NULL)
        *out = sh->s;
    if (version != NULL)
        *version = sh->version;
    pthread_mutex_unlock(&sh->lock);
    return active;
}
