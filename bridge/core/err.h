/*
 * err.h: caller-provided error detail.
 *
 * Library-like modules never print: they return a status and, when the
 * caller passes a struct err, describe the problem in it. Messages are our
 * own text (truncated if long) and must never contain secrets.
 */
#ifndef SB_CORE_ERR_H
#define SB_CORE_ERR_H

#define ERR_MSG_MAX 512

struct err {
	int code;               /* module-specific status, 0 = none */
	char msg[ERR_MSG_MAX];  /* human-readable, NUL-terminated */
};

/* Record an error (e may be NULL). Returns code, so `return err_set(...)` works. */
int err_set(struct err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Clear e (NULL-safe). */
void err_clear(struct err *e);

#endif
