/*
 * buf.h: growable byte buffer with a hard maximum size.
 *
 * Every buffer fed from outside the process (request bodies, upstream
 * responses, config files) is a struct buf whose maximum is a named limit,
 * checked while data arrives (the curl dynbuf idea). The contents are always
 * NUL-terminated so they can be handed to text parsers.
 */
#ifndef SB_CORE_BUF_H
#define SB_CORE_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *data;   /* NUL-terminated; NULL until the first append */
	size_t len;   /* bytes used, not counting the terminator */
	size_t cap;   /* bytes allocated */
	size_t max;   /* hard limit on len; 0 means no limit (internal data only) */
};

enum buf_rc { BUF_OK = 0, BUF_TOO_BIG = 1, BUF_NOMEM = 2 };

/* Initialise an empty buffer that may hold at most max bytes (0: unlimited). */
void buf_init(struct buf *b, size_t max);

/* Free the contents and reset to empty; the limit is kept. NULL-safe. */
void buf_reset(struct buf *b);

/* Append n bytes. BUF_TOO_BIG leaves the buffer unchanged. */
int buf_append(struct buf *b, const void *data, size_t n);

/* Append a NUL-terminated string. */
int buf_puts(struct buf *b, const char *s);

/* Append formatted text (printf rules). */
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* A new string formatted by printf rules (caller frees); NULL when out of
 * memory. For internal text, not a buffer fed from outside. */
char *buf_strdupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Append s as the inside of a JSON string (quotes not added). */
int buf_json_escape(struct buf *b, const char *s);

/* Take ownership of the contents (never NULL on BUF_OK: "" when empty);
 * the caller frees with free(). The buffer is left empty. */
char *buf_take(struct buf *b);

/* The contents as a string ("" when empty); borrowed. */
const char *buf_str(const struct buf *b);

#endif
