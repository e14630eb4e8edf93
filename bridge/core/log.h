/*
 * log.h: the one logger. JSON lines on stderr (or text for people).
 *
 * Every line carries ts, level, module, msg, the request or run id when there
 * is one, and key/value fields. Secret values registered with
 * logger_add_secret() are replaced by "[REDACTED]" wherever they would appear,
 * as a last line of defence: callers must still never log secrets.
 */
#ifndef SB_CORE_LOG_H
#define SB_CORE_LOG_H

#include <stdio.h>

enum log_level { LOG_LVL_DEBUG = 0, LOG_LVL_INFO, LOG_LVL_WARN, LOG_LVL_ERROR };
enum log_format { LOG_FORMAT_JSON = 0, LOG_FORMAT_TEXT };

struct logger;

/* A new logger writing to out (stderr when NULL). Caller frees with logger_free(). */
struct logger *logger_new(enum log_format fmt, enum log_level min, FILE *out);
void logger_free(struct logger *lg);

/* Parse "json"/"text" and "debug"/"info"/"warn"/"error"; return 0 or -1. */
int log_format_parse(const char *s, enum log_format *out);
int log_level_parse(const char *s, enum log_level *out);

void logger_set_level(struct logger *lg, enum log_level min);
int logger_enabled(const struct logger *lg, enum log_level lvl);

/* Register a secret value to be redacted from all later output (copied).
 * Values shorter than 4 bytes are ignored (they would redact ordinary text). */
void logger_add_secret(struct logger *lg, const char *value);

/*
 * Emit one line. The variadic part is key, value pairs of strings ended by
 * NULL. A key starting with '#' marks a value that is already a JSON number
 * or literal (true/false/null) and is written unquoted; the '#' is dropped.
 * A NULL value is written as null. Thread-safe. lg may be NULL (no output).
 */
void log_emit(struct logger *lg, enum log_level lvl, const char *module,
	      const char *req_id, const char *msg, ...);

#define log_debug(lg, mod, rid, msg, ...) log_emit(lg, LOG_LVL_DEBUG, mod, rid, msg, __VA_ARGS__)
#define log_info(lg, mod, rid, msg, ...) log_emit(lg, LOG_LVL_INFO, mod, rid, msg, __VA_ARGS__)
#define log_warn(lg, mod, rid, msg, ...) log_emit(lg, LOG_LVL_WARN, mod, rid, msg, __VA_ARGS__)
#define log_error(lg, mod, rid, msg, ...) log_emit(lg, LOG_LVL_ERROR, mod, rid, msg, __VA_ARGS__)

#endif
