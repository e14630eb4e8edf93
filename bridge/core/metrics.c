/*
 * metrics.c: Prometheus registry (see metrics.h).
 *
 * Few families and bounded series: a linked list per family is plenty and
 * keeps the output order stable (declaration order, then first-seen order).
 */
#include "metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const double hist_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
				     0.25, 0.5, 1, 2.5, 5, 10, 30};
#define NBOUNDS (sizeof hist_bounds / sizeof hist_bounds[0])

struct series {
	struct series *next;
	char *labels; /* rendered: k="v",k2="v2" (may be empty) */
	double value; /* counter/gauge value, or histogram sum */
	unsigned long long count;
	unsigned long long buckets[NBOUNDS];
};

struct family {
	struct family *next;
	char *name;
	char *help;
	enum metric_type type;
	struct series *series, *last;
};

struct metrics {
	pthread_mutex_t mu;
	struct family *families, *last;
};

struct metrics *metrics_new(void)
{
	struct metrics *m = calloc(1, sizeof *m);
	if (m)
		pthread_mutex_init(&m->mu, NULL);
	return m;
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	struct family *f = m->families;
	while (f) {
		struct family *fn = f->next;
		struct series *s = f->series;
		while (s) {
			struct series *sn = s->next;
			free(s->labels);
			free(s);
			s = sn;
		}
		free(f->name);
		free(f->help);
		free(f);
		f = fn;
	}
	pthread_mutex_destroy(&m->mu);
	free(m);
}

static struct family *find_family(struct metrics *m, const char *name)
{
	for (struct family *f = m->families; f; f = f->next)
		if (!strcmp(f->name, name))
			return f;
	return NULL;
}

void metrics_describe(struct metrics *m, const char *name, enum metric_type type, const char *help)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->mu);
	if (find_family(m, name))
		goto out;
	struct family *f = calloc(1, sizeof *f);
	if (!f)
		goto out;
	f->name = strdup(name);
	f->help = strdup(help);
	f->type = type;
	if (!f->name || !f->help) {
		free(f->name);
		free(f->help);
		free(f);
		goto out;
	}
	if (m->last)
		m->last->next = f;
	else
		m->families = f;
	m->last = f;
out:
	pthread_mutex_unlock(&m->mu);
}

static char *render_labels(va_list ap)
{
	struct buf b;
	buf_init(&b, 0);
	int first = 1;
	for (;;) {
		const char *k = va_arg(ap, const char *);
		if (!k)
			break;
		const char *v = va_arg(ap, const char *);
		if (!v)
			v = "";
		buf_printf(&b, "%s%s=\"", first ? "" : ",", k);
		for (const char *p = v; *p; p++) {
			if (*p == '\\')
				buf_puts(&b, "\\\\");
			else if (*p == '"')
				buf_puts(&b, "\\\"");
			else if (*p == '\n')
				buf_puts(&b, "\\n");
			else
				buf_append(&b, p, 1);
		}
		buf_puts(&b, "\"");
		first = 0;
	}
	return buf_take(&b);
}

/* Find or create a series; caller holds the lock. Undeclared families are
 * created as the given type with a generic help text. */
static struct series *get_series(struct metrics *m, const char *name, enum metric_type type,
				 const char *labels)
{
	struct family *f = find_family(m, name);
	if (!f) {
		pthread_mutex_unlock(&m->mu);
		metrics_describe(m, name, type, name);
		pthread_mutex_lock(&m->mu);
		f = find_family(m, name);
		if (!f)
			return NULL;
	}
	for (struct series *s = f->series; s; s = s->next)
		if (!strcmp(s->labels, labels))
			return s;
	struct series *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->labels = strdup(labels);
	if (!s->labels) {
		free(s);
		return NULL;
	}
	if (f->last)
		f->last->next = s;
	else
		f->series = s;
	f->last = s;
	return s;
}

enum op { OP_ADD, OP_SET, OP_OBSERVE };

static void apply(struct metrics *m, const char *name, double v, enum op op, va_list ap)
{
	char *labels = render_labels(ap);
	if (!labels)
		return;
	pthread_mutex_lock(&m->mu);
	struct series *s = get_series(m, name, op == OP_OBSERVE ? METRIC_HISTOGRAM
						: op == OP_SET ? METRIC_GAUGE : METRIC_COUNTER, labels);
	if (s) {
		if (op == OP_ADD) {
			s->value += v;
		} else if (op == OP_SET) {
			s->value = v;
		} else {
			s->value += v;
			s->count++;
			for (size_t i = 0; i < NBOUNDS; i++)
				if (v <= hist_bounds[i])
					s->buckets[i]++;
		}
	}
	pthread_mutex_unlock(&m->mu);
	free(labels);
}

void metrics_add(struct metrics *m, const char *name, double v, ...)
{
	if (!m)
		return;
	va_list ap;
	va_start(ap, v);
	apply(m, name, v, OP_ADD, ap);
	va_end(ap);
}

void metrics_set(struct metrics *m, const char *name, double v, ...)
{
	if (!m)
		return;
	va_list ap;
	va_start(ap, v);
	apply(m, name, v, OP_SET, ap);
	va_end(ap);
}

void metrics_observe(struct metrics *m, const char *name, double v, ...)
{
	if (!m)
		return;
	va_list ap;
	va_start(ap, v);
	apply(m, name, v, OP_OBSERVE, ap);
	va_end(ap);
}

double metrics_get(struct metrics *m, const char *name, ...)
{
	if (!m)
		return 0;
	va_list ap;
	va_start(ap, name);
	char *labels = render_labels(ap);
	va_end(ap);
	if (!labels)
		return 0;
	double v = 0;
	pthread_mutex_lock(&m->mu);
	struct family *f = find_family(m, name);
	for (struct series *s = f ? f->series : NULL; s; s = s->next) {
		if (!strcmp(s->labels, labels)) {
			v = f->type == METRIC_HISTOGRAM ? (double)s->count : s->value;
			break;
		}
	}
	pthread_mutex_unlock(&m->mu);
	free(labels);
	return v;
}

static void put_num(struct buf *b, double v)
{
	if (isinf(v))
		buf_puts(b, v > 0 ? "+Inf" : "-Inf");
	else if (v == floor(v) && fabs(v) < 1e15)
		buf_printf(b, "%.0f", v);
	else
		buf_printf(b, "%.9g", v);
}

int metrics_render(struct metrics *m, struct buf *out)
{
	static const char *tnames[] = {"counter", "gauge", "histogram"};
	if (!m)
		return 0;
	pthread_mutex_lock(&m->mu);
	for (struct family *f = m->families; f; f = f->next) {
		if (!f->series)
			continue;
		buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name, tnames[f->type]);
		for (struct series *s = f->series; s; s = s->next) {
			const char *sep = s->labels[0] ? "," : "";
			if (f->type != METRIC_HISTOGRAM) {
				buf_printf(out, "%s%s%s%s ", f->name, s->labels[0] ? "{" : "", s->labels,
					   s->labels[0] ? "}" : "");
				put_num(out, s->value);
				buf_puts(out, "\n");
				continue;
			}
			for (size_t i = 0; i < NBOUNDS; i++) {
				buf_printf(out, "%s_bucket{%s%sle=\"", f->name, s->labels, sep);
				put_num(out, hist_bounds[i]);
				buf_printf(out, "\"} %llu\n", s->buckets[i]);
			}
			buf_printf(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", f->name, s->labels, sep, s->count);
			buf_printf(out, "%s_sum%s%s%s ", f->name, s->labels[0] ? "{" : "", s->labels,
				   s->labels[0] ? "}" : "");
			put_num(out, s->value);
			buf_printf(out, "\n%s_count%s%s%s %llu\n", f->name, s->labels[0] ? "{" : "", s->labels,
				   s->labels[0] ? "}" : "", s->count);
		}
	}
	pthread_mutex_unlock(&m->mu);
	return 0;
}
