/*
 * ctx.h: the explicit context passed as the first parameter through the
 * daemon: logger, immutable config snapshot, metrics, database pool and the
 * id of the request or run being served. Long-lived parts are owned by the
 * wiring (bridge/app.c); a ctx is a cheap struct copied per request.
 */
#ifndef SB_CORE_CTX_H
#define SB_CORE_CTX_H

struct logger;
struct config;
struct metrics;
struct db_pool;

struct ctx {
	struct logger *log;
	const struct config *cfg;
	struct metrics *metrics;
	struct db_pool *db;
	const char *request_id; /* request or run id; may be NULL */
	void *app;              /* the wiring's state (struct app *), opaque to core */
};

#endif
