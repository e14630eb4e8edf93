/*
 * sim_server.h: the libmicrohttpd adapter of the upstream simulator. It
 * turns MHD requests into struct sim_request, dispatches them by path
 * prefix to the upstreams listed in sim_upstreams.h, applies the global
 * latency and injected faults without blocking worker threads
 * (suspend/resume driven by one timer thread), and sends the response.
 */
#ifndef SIM_SERVER_H
#define SIM_SERVER_H

#include "sim.h"

struct sim_server;

/*
 * Start listening on ctx->opts.listen_host:listen_port with an internal
 * epoll thread pool. *port receives the bound port. Returns 0, or -1 with
 * *err set (caller frees).
 */
int sim_server_start(struct sim_ctx *ctx, struct sim_server **out, int *port, char **err);

/* Resume delayed connections, stop the daemon and free. NULL-safe. */
void sim_server_stop(struct sim_server *srv);

#endif
