/*
 * agent.h - the demo's agents: threads that keep writing memori the way an
 * agent-memory application does, through every switch.
 *
 * Each agent writes to the side memori lives on: new memories, uses of its
 * memories (UPDATE), forgotten ones (DELETE), entities with a relationship,
 * and messages appended to a conversation. A write refused by a fence
 * (SQLSTATE 25006: memori has moved) is rolled back by the server; the agent
 * connects to the other side and writes it again, as an application
 * following MEMORI_DATABASE_URL would. Each agent keeps its own model of its
 * memories (id and use count of every row it was told committed), so that
 * agents_check can prove that nothing acknowledged was lost or applied twice.
 */
#ifndef MB_AGENT_H
#define MB_AGENT_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

struct agents;

/* Figures of all agents so far. */
struct agent_stats
{
    uint64_t writes;       /* transactions committed (acknowledged) */
    uint64_t refused;      /* writes refused by a fence, then written on the other side */
    uint64_t moves;        /* times an agent followed memori to the other side */
    double max_wait_ms;    /* the longest one write took, refusals and moves included */
    int on_source, on_target; /* agents writing to each side now */
};

/* Start N agents writing to SOURCE_DSN (they follow fences to TARGET_DSN and
 * back), each about RATE transactions per second. With TARGET_DSN NULL they
 * write through SOURCE_DSN (a PgBouncer) alone, as plain applications: a
 * write refused by a fence is counted as refused and lost, never retried. Returns the pool (free
 * with agents_stop), or NULL after logging why. */
struct agents *agents_start(int n, const char *source_dsn, const char *target_dsn, int rate);

void agents_stats(struct agents *a, struct agent_stats *out);

/* Stop the agents and wait for them. Returns false when one failed (it
 * logged why). A is still readable by agents_check; free it with
 * agents_free. */
bool agents_stop(struct agents *a);

/* Compare every agent's model with its rows on CONN (the side named SIDE):
 * the same ids with the same use counts. Returns false after logging the
 * first differences. *ROWS gets the rows compared. */
bool agents_check(struct agents *a, PGconn *conn, const char *side, uint64_t *rows);

void agents_free(struct agents *a);

#endif
