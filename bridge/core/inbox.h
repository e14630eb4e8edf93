/*
 * inbox.h: the durable inbox of received webhooks.
 *
 * A webhook is acknowledged only after inbox_store() committed it. Each item
 * is unique per (source, external_id): a redelivery is recognised and not
 * stored twice. Storing can also queue the job that will process the item,
 * in the same transaction, so an item is never stored without its job.
 */
#ifndef SB_CORE_INBOX_H
#define SB_CORE_INBOX_H

#include "err.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <stdint.h>

struct inbox_item {
	const char *source;      /* "okta", "sentry", "slack", "gitlab" */
	const char *external_id; /* the upstream's id for this item (event uuid, Request-ID) */
	const char *kind;        /* event type */
	const char *subject;     /* optional: who or what it is about (an Okta user id) */
	const char *occurred_at; /* optional: RFC 3339 time the upstream gives */
	const char *payload;     /* JSON text */
	const char *request_id;  /* our request id, for tracing */
	const char *status;        /* optional: NULL stores it pending; else done, skipped or dead */
	const char *status_reason; /* optional: last_error for such a status */
	const char *job_kind;      /* optional: queue this job with {"inbox_id": id} (pending items only) */
	int64_t job_delay_ms;
};

/* Store one item on conn, with its job, in one statement (inside the
 * caller's transaction if one is open; else committed when this returns).
 * *inserted is 1 when new, 0 when it was already there (then *id is the
 * existing row's id). 0 or -1 with e filled. */
int inbox_store(PGconn *conn, const struct inbox_item *it, int64_t *id, int *inserted, struct err *e);

/* Set an item's status (done, skipped, failed, dead) and error text;
 * attempts is incremented for failed and dead. 0 or -1. */
int inbox_mark(PGconn *conn, int64_t id, const char *status, const char *error, struct err *e);

/* Items of a source (NULL: all) with a status (NULL: all), newest first.
 * New JSON array or NULL with e filled. Payloads are included. */
json_t *inbox_list(PGconn *conn, const char *source, const char *status, int limit, struct err *e);

/* Put an item back to pending and queue job_kind for it again.
 * 1 replayed, 0 no such item, -1 error. */
int inbox_replay(PGconn *conn, int64_t id, const char *job_kind, struct err *e);

#endif
