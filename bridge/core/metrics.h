/*
 * metrics.h: a small Prometheus registry (text exposition format 0.0.4).
 *
 * Families are declared once with metrics_describe() (name, type, help);
 * series are addressed by name plus label pairs given as a NULL-terminated
 * list of key, value strings. Label values are escaped on output. Callers
 * must keep label cardinality bounded: use route patterns, not raw paths.
 * All functions are thread-safe; a NULL registry makes every call a no-op.
 */
#ifndef SB_CORE_METRICS_H
#define SB_CORE_METRICS_H

#include "buf.h"

enum metric_type { METRIC_COUNTER = 0, METRIC_GAUGE, METRIC_HISTOGRAM };

struct metrics;

/* A new empty registry; caller frees with metrics_free(). */
struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);

/* Declare a family. Histograms use the latency buckets
 * 0.001 .. 30 seconds. Redeclaring a family is a no-op. */
void metrics_describe(struct metrics *m, const char *name, enum metric_type type, const char *help);

/* Add v to a counter (or a gauge). Labels: key, value, ..., NULL. */
void metrics_add(struct metrics *m, const char *name, double v, ...);

/* Set a gauge. Labels: key, value, ..., NULL. */
void metrics_set(struct metrics *m, const char *name, double v, ...);

/* Observe a value (seconds for latencies) in a histogram. Labels as above. */
void metrics_observe(struct metrics *m, const char *name, double v, ...);

/* Read a counter or gauge series back (0 when absent); for tests. */
double metrics_get(struct metrics *m, const char *name, ...);

/* Render every family in Prometheus text format into out. */
int metrics_render(struct metrics *m, struct buf *out);

#endif
