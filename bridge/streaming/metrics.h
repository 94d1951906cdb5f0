/*
 * metrics.h - the Prometheus endpoint of "run" (--metrics-addr HOST:PORT).
 *
 * libmicrohttpd serves GET /metrics from its own thread, in the Prometheus
 * text format (version 0.0.4). Everything it prints is read from the
 * run_state atomics and the ring, which the supervisor, the reader and the
 * applier keep up to date anyway: a scrape never touches a database
 * connection and never waits for the stream.
 *
 * What it exposes, all prefixed memori_bridge_: the applied, durable,
 * received and source LSNs (as byte positions), lag in bytes and seconds,
 * changes applied per table and action, transactions applied per table and
 * in all, ring occupancy, reconnects, log errors and warnings, the source
 * commit time of the last applied transaction, which direction streams, and
 * the standard process_* figures.
 */
#ifndef MB_METRICS_H
#define MB_METRICS_H

#include <stdbool.h>
#include <stddef.h>

#include "bridge/base/conf.h"
#include "bridge/streaming/ring.h"
#include "bridge/streaming/state.h"

struct metrics;

/* Split ADDR ("127.0.0.1:9187", "[::1]:9187", "localhost:9187") into HOST
 * and PORT (caller's buffers). Returns false when it is not HOST:PORT with a
 * port from 0 to 65535. */
bool metrics_parse_addr(const char *addr, char *host, size_t host_len, char *port,
                        size_t port_len);

/* Serve the metrics of ST and RING at CONF's metrics_addr. Port 0 takes a
 * free port; the log line names the one bound. ST, RING and CONF are
 * borrowed and must outlive the server. Returns the server (free with
 * metrics_stop), or NULL after logging why it cannot listen. */
struct metrics *metrics_start(const struct conf *conf, struct run_state *st, struct ring *ring);

/* Stop serving and free M (NULL is fine). */
void metrics_stop(struct metrics *m);

/* Render the metrics of ST and RING in the Prometheus text format into a
 * new string (caller frees), or NULL when out of memory. */
char *metrics_render(const struct conf *conf, struct run_state *st, struct ring *ring);

#endif
