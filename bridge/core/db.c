/*
 * db.c: libpq connection pool and statement helpers (see db.h).
 */
#include "db.h"

#include "buf.h"
#include "clock.h"

#include <errno.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct db_pool {
	char *conninfo;
	int size;
	int64_t connect_timeout_ms;
	struct logger *lg;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	PGconn **idle;   /* stack of idle connections (may hold NULL slots = not yet opened) */
	int nidle;
	_Atomic int healthy;
};

static _Thread_local char last_state[6];

/* The commit hook, and the transactions of this thread that wait for it. */
static const struct db_commit_hook *_Atomic commit_hook;
#define DB_PENDING_MAX 4
static _Thread_local struct {
	PGconn *c;
	unsigned mask;
} pending[DB_PENDING_MAX];

void db_set_commit_hook(const struct db_commit_hook *h)
{
	atomic_store(&commit_hook, h);
}

static void run_hook(unsigned mask)
{
	const struct db_commit_hook *h = atomic_load(&commit_hook);
	if (h && h->fn)
		h->fn(h->arg, mask);
}

/* Forget c's wait; 1 with *mask when it was waiting. */
static int unpend(PGconn *c, unsigned *mask)
{
	for (int i = 0; i < DB_PENDING_MAX; i++)
		if (pending[i].c == c) {
			pending[i].c = NULL;
			if (mask)
				*mask = pending[i].mask;
			return 1;
		}
	return 0;
}

int db_on_commit(PGconn *c, unsigned mask)
{
	if (!atomic_load(&commit_hook) || !c)
		return 0;
	if (PQtransactionStatus(c) == PQTRANS_IDLE) {
		run_hook(mask);
		return 1;
	}
	int free_slot = -1;
	for (int i = 0; i < DB_PENDING_MAX; i++) {
		if (pending[i].c == c) {
			pending[i].mask |= mask;
			return 1;
		}
		if (!pending[i].c && free_slot < 0)
			free_slot = i;
	}
	if (free_slot < 0)
		return 0;
	pending[free_slot].c = c;
	pending[free_slot].mask = mask;
	return 1;
}

const char *db_last_sqlstate(void)
{
	return last_state;
}

struct db_pool *db_pool_new(const char *conninfo, int size, int64_t connect_timeout_ms, struct logger *lg)
{
	struct db_pool *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	if (size < 1)
		size = 1;
	p->conninfo = strdup(conninfo);
	p->idle = calloc((size_t)size, sizeof *p->idle);
	if (!p->conninfo || !p->idle) {
		free(p->conninfo);
		free(p->idle);
		free(p);
		return NULL;
	}
	p->size = size;
	p->nidle = size; /* all slots free, none opened */
	p->connect_timeout_ms = connect_timeout_ms;
	p->lg = lg;
	p->healthy = 1;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	return p;
}

void db_pool_free(struct db_pool *p)
{
	if (!p)
		return;
	for (int i = 0; i < p->nidle; i++)
		if (p->idle[i])
			PQfinish(p->idle[i]);
	free(p->idle);
	free(p->conninfo);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p);
}

PGconn *db_connect(const char *conninfo, int64_t connect_timeout_ms, struct err *e)
{
	/* connect_timeout is in whole seconds; at least 1 (0 means forever). */
	char tmo[32];
	snprintf(tmo, sizeof tmo, "%lld", (long long)(connect_timeout_ms < 1000 ? 1 : connect_timeout_ms / 1000));
	const char *keys[] = {"dbname", "connect_timeout", "application_name", NULL};
	const char *vals[] = {conninfo, tmo, "sentry-bridge", NULL};
	PGconn *c = PQconnectdbParams(keys, vals, 1);
	if (!c) {
		err_set(e, -1, "out of memory connecting to PostgreSQL");
		return NULL;
	}
	if (PQstatus(c) != CONNECTION_OK) {
		/* libpq's message names host and socket, never the password. */
		char *msg = strdup(PQerrorMessage(c));
		if (msg) {
			size_t n = strlen(msg);
			while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
				msg[--n] = '\0';
		}
		err_set(e, -1, "cannot connect to PostgreSQL: %s", msg ? msg : "unknown error");
		free(msg);
		PQfinish(c);
		return NULL;
	}
	PGresult *r = PQexec(c, "SET TIME ZONE 'UTC'; SET client_min_messages = warning");
	PQclear(r);
	return c;
}

PGconn *db_acquire(struct db_pool *p, int64_t wait_ms, struct err *e)
{
	pthread_mutex_lock(&p->mu);
	if (p->nidle == 0 && wait_ms > 0) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		int64_t ns = ts.tv_nsec + (wait_ms % 1000) * 1000000;
		ts.tv_sec += (time_t)(wait_ms / 1000 + ns / 1000000000);
		ts.tv_nsec = (long)(ns % 1000000000);
		while (p->nidle == 0)
			if (pthread_cond_timedwait(&p->cv, &p->mu, &ts) == ETIMEDOUT)
				break;
	}
	if (p->nidle == 0) {
		pthread_mutex_unlock(&p->mu);
		err_set(e, -1, "all %d database connections are busy", p->size);
		return NULL;
	}
	PGconn *c = p->idle[--p->nidle];
	pthread_mutex_unlock(&p->mu);

	if (c && PQstatus(c) != CONNECTION_OK) {
		PQreset(c);
		if (PQstatus(c) != CONNECTION_OK) {
			PQfinish(c);
			c = NULL;
		}
	}
	if (!c) {
		c = db_connect(p->conninfo, p->connect_timeout_ms, e);
		if (!c) {
			pthread_mutex_lock(&p->mu);
			if (p->nidle < p->size)
				p->idle[p->nidle++] = NULL; /* give the slot back */
			p->healthy = 0;
			pthread_cond_signal(&p->cv);
			pthread_mutex_unlock(&p->mu);
			return NULL;
		}
	}
	p->healthy = 1;
	return c;
}

/* Put a connection (or NULL: a slot to open later) back on the idle stack. */
static void give_back(struct db_pool *p, PGconn *c)
{
	pthread_mutex_lock(&p->mu);
	if (p->nidle < p->size)
		p->idle[p->nidle++] = c;
	else if (c)
		PQfinish(c);
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

int db_pool_warm(struct db_pool *p, struct err *e)
{
	int opened = 0;
	for (;;) {
		/* Take a slot that holds no connection yet, if any is idle. */
		pthread_mutex_lock(&p->mu);
		int i = 0;
		while (i < p->nidle && p->idle[i])
			i++;
		if (i == p->nidle) {
			pthread_mutex_unlock(&p->mu);
			return opened;
		}
		p->idle[i] = p->idle[--p->nidle];
		pthread_mutex_unlock(&p->mu);
		PGconn *c = db_connect(p->conninfo, p->connect_timeout_ms, e);
		give_back(p, c);
		if (!c)
			return -1;
		opened++;
	}
}

void db_release(struct db_pool *p, PGconn *c)
{
	/* NULL is what a failed db_acquire() returned: that call already gave
	 * its slot back, so releasing it again would hand out a slot twice. */
	if (!p || !c)
		return;
	unpend(c, NULL); /* a transaction still open here is rolled back below */
	{
		if (PQstatus(c) != CONNECTION_OK) {
			PQfinish(c);
			c = NULL;
			p->healthy = 0;
		} else if (PQtransactionStatus(c) != PQTRANS_IDLE) {
			PGresult *r = PQexec(c, "ROLLBACK");
			PQclear(r);
			if (PQtransactionStatus(c) != PQTRANS_IDLE) {
				PQfinish(c);
				c = NULL;
			}
		}
	}
	give_back(p, c);
}

PGresult *db_exec(PGconn *c, const char *sql, int nparams, const char *const *params, struct err *e)
{
	last_state[0] = '\0';
	PGresult *r = PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(r);
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return r;
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	if (state) {
		snprintf(last_state, sizeof last_state, "%s", state);
	}
	const char *msg = r ? PQresultErrorMessage(r) : PQerrorMessage(c);
	size_t n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		n--;
	err_set(e, state && strspn(state, "0123456789") == 5 ? atoi(state) : -1, "%.*s", (int)n, msg);
	PQclear(r);
	return NULL;
}

int db_run(PGconn *c, const char *sql, int nparams, const char *const *params, struct err *e)
{
	PGresult *r = db_exec(c, sql, nparams, params, e);
	if (!r)
		return -1;
	PQclear(r);
	return 0;
}

int db_begin(PGconn *c, struct err *e)
{
	return db_run(c, "BEGIN", 0, NULL, e);
}

int db_commit(PGconn *c, struct err *e)
{
	unsigned mask = 0;
	int waited = unpend(c, &mask);
	int rc = db_run(c, "COMMIT", 0, NULL, e);
	if (!rc && waited)
		run_hook(mask);
	return rc;
}

void db_rollback(PGconn *c)
{
	unpend(c, NULL);
	PGresult *r = PQexec(c, "ROLLBACK");
	PQclear(r);
}

int db_ping(struct db_pool *p, struct err *e)
{
	PGconn *c = db_acquire(p, 1000, e);
	if (!c)
		return -1;
	int rc = db_run(c, "SELECT 1", 0, NULL, e);
	db_release(p, c);
	if (rc)
		p->healthy = 0;
	return rc;
}

int db_pool_healthy(struct db_pool *p)
{
	return p && p->healthy;
}

char *db_embedded_conninfo(const char *run_dir)
{
	struct buf path, out;
	buf_init(&path, 4096);
	buf_init(&out, 4096);
	char *res = NULL;
	FILE *f = NULL;
	if (buf_printf(&path, "%s/pg/sockdir", run_dir))
		goto out;
	f = fopen(buf_str(&path), "r");
	if (!f)
		goto out;
	char line[1024];
	if (!fgets(line, sizeof line, f))
		goto out;
	line[strcspn(line, "\r\n")] = '\0';
	if (!line[0])
		goto out;
	if (buf_printf(&out, "host=%s port=5432 user=postgres dbname=sentry_bridge", line))
		goto out;
	res = buf_take(&out);
out:
	if (f)
		fclose(f);
	buf_reset(&path);
	buf_reset(&out);
	return res;
}
