/*
 * sim_oktalog.h: the simulated Okta's System Log (a bounded ring of
 * LogEvents), its event hooks (one-time verification, asynchronous batched
 * deliveries on a dedicated thread, Okta's retry rules) and the /_sim
 * control endpoints that drive them, plus a built-in hook receiver
 * (/_sim/echo/{name}) that records what it gets, for self tests.
 *
 * Locking: the log has its own mutex, independent of ctx->lock, so events
 * can be appended by Okta handlers (which hold ctx->lock for writing), by
 * control calls and by the delivery thread. No network I/O happens with
 * any lock held.
 */
#ifndef SIM_OKTALOG_H
#define SIM_OKTALOG_H

#include "sim.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Events kept in the ring (older ones are overwritten). */
#define OKTA_LOG_CAP 100000

/* One stored event as the readers see it (borrowed; valid while the log is locked). */
struct okta_log_view {
	uint64_t seq;          /* append order, from 1 */
	int64_t published;     /* ms, from the event's "published" */
	int64_t persisted;     /* ms, wall clock at append */
	const char *type;      /* eventType */
	const char *text;      /* the compact LogEvent JSON */
};

/* New, empty log with its delivery thread running; NULL on failure. */
struct okta_log *okta_log_new(void);

/* Stop the delivery thread (aborting any request in flight) and free. NULL-safe. */
void okta_log_free(struct okta_log *lg);

/*
 * Append a LogEvent (reference stolen). "uuid" and "published" are filled
 * in when absent. Returns the event's seq (> 0), or 0 on failure. When
 * text_out is non-NULL it receives a copy of the stored JSON (caller frees).
 */
uint64_t okta_log_append(struct okta_log *lg, json_t *ev, char **text_out);

/* Forget every event, hook and receiver (POST /_sim/reset). */
void okta_log_reset(struct okta_log *lg);

/* Lock / unlock the ring for a consistent scan with okta_log_get. */
void okta_log_lock(struct okta_log *lg);
void okta_log_unlock(struct okta_log *lg);

/* Seq range held: [*first, *next) (lock held). */
void okta_log_range(const struct okta_log *lg, uint64_t *first, uint64_t *next);

/* The event with this seq, if still held (lock held). */
bool okta_log_get(const struct okta_log *lg, uint64_t seq, struct okta_log_view *v);

/* A new random version-4 UUID string into out (37 bytes). */
void okta_uuid(char out[37]);

/*
 * The control endpoints under /_sim: okta/event-hooks, okta/events,
 * echo/{name}, echoes[/{name}]. Returns 1 when the path is one of them (resp
 * filled or -1 for an internal error through *rc), 0 when it is not.
 */
int okta_log_ctl(struct sim_ctx *ctx, const struct sim_request *req, struct sim_response *resp,
		 int *rc);

/*
 * Build a synthetic LogEvent for POST /_sim/okta/events (implemented in
 * sim_okta.c, which knows how Okta renders users and groups). Takes the
 * state lock for reading itself. Returns the event, or NULL with a message
 * in err (errsz bytes).
 */
json_t *sim_okta_synthetic_event(struct sim_ctx *ctx, const struct sim_request *req,
				 const json_t *body, char *err, size_t errsz);

/*
 * Append the events that turn state `from` into state `to` (memberships,
 * user lifecycle and profile changes, group deletes and creates), as
 * SystemPrincipal events (sim_okta.c). Used when POST /_sim/state replaces
 * the state. Both states are only read.
 */
void sim_okta_diff_events(struct sim_ctx *ctx, const struct sim_state *from,
			  const struct sim_state *to);

/*
 * POST /_sim/okta/memberships (sim_okta.c): {"add": [{"user", "group"}...],
 * "remove": [...]}; applies all or nothing, logs one event per change.
 * Takes the state lock itself. Returns 0 (resp filled) or -1.
 */
int sim_okta_memberships(struct sim_ctx *ctx, const struct sim_request *req, const json_t *body,
			 struct sim_response *resp);

#endif
