/*
 * html.h: the one HTML-escaping function of the web console. Every piece of
 * text that reaches a console page goes through html_escape() (or the
 * html_printf() helper whose %s arguments are escaped); templates only ever
 * paste escaped text.
 */
#ifndef SB_CONSOLE_HTML_H
#define SB_CONSOLE_HTML_H

#include "buf.h"

#include <stddef.h>

/*
 * Append n bytes of s to b, safe both as element text and inside a quoted
 * attribute value: & < > " ' ` = become character references; NUL and other
 * C0 controls except tab, LF and CR, DEL, and bytes that are not well-formed
 * UTF-8 (overlong forms, surrogates, > U+10FFFF, truncated sequences) become
 * U+FFFD. Returns BUF_OK, BUF_TOO_BIG or BUF_NOMEM (the buffer may then hold
 * a prefix of the output).
 */
int html_escape(struct buf *b, const char *s, size_t n);

/* html_escape of a NUL-terminated string; NULL appends nothing. */
int html_puts(struct buf *b, const char *s);

/*
 * Append a template fragment: fmt is trusted markup copied as is; every
 * "%s" takes a const char * that is escaped (NULL: nothing); "%d" an int,
 * "%l" a long long; "%%" a percent sign. Any other directive is a bug and
 * appends nothing for it. Returns like html_escape.
 */
int html_printf(struct buf *b, const char *fmt, ...);

#endif
