/*
 * okta_hooks.h: Okta event hooks and System Log catch-up (issue 4).
 *
 *   GET  /hooks/okta   the one-time verification challenge
 *   POST /hooks/okta   a delivery: authenticated, every event stored in the
 *                      inbox (unique per uuid) in one transaction, then 200
 *
 * One replica at a time (a PostgreSQL advisory lock held on a dedicated
 * connection) drains the Okta inbox in `published` order: each event
 * updates the Okta mirror (a stale or ambiguous one makes the bridge read
 * that user from Okta instead), and the users it touched are reconciled by
 * the same policy and apply code as the full sync (sync_users()), bounded
 * by the guards over a sliding window. Woken by NOTIFY; polls every second
 * otherwise. Passing failures retry with backoff; after jobs.max_attempts
 * an item is dead (GET /api/v1/inbox?status=dead, replayable).
 *
 * Optional System Log polling (okta.system_log_poll) feeds the same inbox.
 */
#ifndef SB_OKTA_HOOKS_H
#define SB_OKTA_HOOKS_H

#include "app.h"
#include "err.h"

#include <libpq-fe.h>

struct okta_hooks;
struct jobs;
struct sched;
struct router;

/* The module for a's config; conninfo is copied. NULL on allocation failure. */
struct okta_hooks *okta_hooks_new(struct app *a, const char *conninfo);
void okta_hooks_free(struct okta_hooks *h);

/* Routes (/hooks/okta), job kinds ("inbox.okta", "okta.syslog.poll") and
 * the scheduled System Log poll. 0 or -1. */
int okta_hooks_register(struct okta_hooks *h, struct router *r, struct jobs *q, struct sched *s);

/* Start and stop the drainer thread (only when Okta and Sentry are set up). */
int okta_hooks_start(struct okta_hooks *h, struct err *e);
void okta_hooks_stop(struct okta_hooks *h);

/* Drain what is due now on conn (holding the drain lock is the caller's
 * business; the reconcile lock is taken per batch). Returns the number of
 * inbox items processed, 0 when none was due or a full reconcile holds the
 * lock, -1 on a database error. For the drainer thread and tests. */
long okta_hooks_drain_once(struct okta_hooks *h, PGconn *conn, struct err *e);

#endif
