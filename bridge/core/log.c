/*
 * log.c: JSON-lines / text logger with secret redaction (see log.h).
 */
#include "log.h"

#include "buf.h"
#include "clock.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct logger {
	enum log_format fmt;
	enum log_level min;
	FILE *out;
	pthread_mutex_t mu;
	char **secrets;
	size_t nsecrets;
};

static const char *level_names[] = {"debug", "info", "warn", "error"};

struct logger *logger_new(enum log_format fmt, enum log_level min, FILE *out)
{
	struct logger *lg = calloc(1, sizeof *lg);
	if (!lg)
		return NULL;
	lg->fmt = fmt;
	lg->min = min;
	lg->out = out ? out : stderr;
	pthread_mutex_init(&lg->mu, NULL);
	return lg;
}

void logger_free(struct logger *lg)
{
	if (!lg)
		return;
	for (size_t i = 0; i < lg->nsecrets; i++)
		free(lg->secrets[i]);
	free(lg->secrets);
	pthread_mutex_destroy(&lg->mu);
	free(lg);
}

int log_format_parse(const char *s, enum log_format *out)
{
	if (!strcmp(s, "json"))
		*out = LOG_FORMAT_JSON;
	else if (!strcmp(s, "text"))
		*out = LOG_FORMAT_TEXT;
	else
		return -1;
	return 0;
}

int log_level_parse(const char *s, enum log_level *out)
{
	for (int i = 0; i < 4; i++) {
		if (!strcmp(s, level_names[i])) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	if (!strcmp(s, "warning")) {
		*out = LOG_LVL_WARN;
		return 0;
	}
	return -1;
}

void logger_set_level(struct logger *lg, enum log_level min)
{
	if (lg)
		lg->min = min;
}

int logger_enabled(const struct logger *lg, enum log_level lvl)
{
	return lg && lvl >= lg->min;
}

void logger_add_secret(struct logger *lg, const char *value)
{
	if (!lg || !value || strlen(value) < 4)
		return;
	pthread_mutex_lock(&lg->mu);
	for (size_t i = 0; i < lg->nsecrets; i++) {
		if (!strcmp(lg->secrets[i], value))
			goto out;
	}
	char **n = realloc(lg->secrets, (lg->nsecrets + 1) * sizeof *n);
	if (!n)
		goto out;
	lg->secrets = n;
	lg->secrets[lg->nsecrets] = strdup(value);
	if (lg->secrets[lg->nsecrets])
		lg->nsecrets++;
out:
	pthread_mutex_unlock(&lg->mu);
}

/* Append s, replacing registered secrets, JSON-escaped when json is set. */
static void put_redacted(struct logger *lg, struct buf *b, const char *s, int json)
{
	struct buf tmp;
	buf_init(&tmp, 0);
	const char *p = s;
	while (*p) {
		size_t skip = 0;
		for (size_t i = 0; i < lg->nsecrets; i++) {
			size_t n = strlen(lg->secrets[i]);
			if (!strncmp(p, lg->secrets[i], n)) {
				skip = n;
				break;
			}
		}
		if (skip) {
			buf_puts(&tmp, "[REDACTED]");
			p += skip;
		} else {
			buf_append(&tmp, p, 1);
			p++;
		}
	}
	if (json)
		buf_json_escape(b, buf_str(&tmp));
	else
		buf_puts(b, buf_str(&tmp));
	buf_reset(&tmp);
}

void log_emit(struct logger *lg, enum log_level lvl, const char *module,
	      const char *req_id, const char *msg, ...)
{
	if (!lg || lvl < lg->min)
		return;
	int json = lg->fmt == LOG_FORMAT_JSON;
	struct buf b;
	buf_init(&b, 0);

	char ts[40];
	clock_format_iso(clock_now_ms(), ts, sizeof ts);

	pthread_mutex_lock(&lg->mu);
	if (json) {
		buf_printf(&b, "{\"ts\":\"%s\",\"level\":\"%s\",\"module\":\"", ts, level_names[lvl]);
		buf_json_escape(&b, module ? module : "-");
		buf_puts(&b, "\",\"msg\":\"");
		put_redacted(lg, &b, msg ? msg : "", 1);
		buf_puts(&b, "\"");
		if (req_id) {
			buf_puts(&b, ",\"request_id\":\"");
			buf_json_escape(&b, req_id);
			buf_puts(&b, "\"");
		}
	} else {
		buf_printf(&b, "%s %-5s [%s] ", ts, level_names[lvl], module ? module : "-");
		put_redacted(lg, &b, msg ? msg : "", 0);
		if (req_id)
			buf_printf(&b, " request_id=%s", req_id);
	}

	va_list ap;
	va_start(ap, msg);
	for (;;) {
		const char *key = va_arg(ap, const char *);
		if (!key)
			break;
		const char *val = va_arg(ap, const char *);
		int raw = key[0] == '#';
		if (raw)
			key++;
		if (json) {
			buf_puts(&b, ",\"");
			buf_json_escape(&b, key);
			buf_puts(&b, "\":");
			if (!val) {
				buf_puts(&b, "null");
			} else if (raw) {
				buf_puts(&b, val);
			} else {
				buf_puts(&b, "\"");
				put_redacted(lg, &b, val, 1);
				buf_puts(&b, "\"");
			}
		} else {
			buf_printf(&b, " %s=", key);
			if (!val)
				buf_puts(&b, "null");
			else if (raw)
				buf_puts(&b, val);
			else if (strpbrk(val, " \t\"=")) {
				buf_puts(&b, "\"");
				put_redacted(lg, &b, val, 1);
				buf_puts(&b, "\"");
			} else
				put_redacted(lg, &b, val, 0);
		}
	}
	va_end(ap);
	buf_puts(&b, json ? "}\n" : "\n");
	fwrite(buf_str(&b), 1, b.len, lg->out);
	fflush(lg->out);
	pthread_mutex_unlock(&lg->mu);
	buf_reset(&b);
}
