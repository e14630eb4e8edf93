/*
 * html.c: HTML escaping (see html.h).
 */
#include "html.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static const char REPLACEMENT[] = "\xEF\xBF\xBD"; /* U+FFFD */

/* Length of the well-formed UTF-8 sequence at s (n bytes left), 0 if malformed. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		return n >= 2 && (s[1] & 0xC0) == 0x80 ? 2 : 0;
	if (c >= 0xE0 && c <= 0xEF) {
		if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
			return 0;
		if (c == 0xE0 && s[1] < 0xA0) /* overlong */
			return 0;
		if (c == 0xED && s[1] >= 0xA0) /* surrogates */
			return 0;
		return 3;
	}
	if (c >= 0xF0 && c <= 0xF4) {
		if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
			return 0;
		if (c == 0xF0 && s[1] < 0x90) /* overlong */
			return 0;
		if (c == 0xF4 && s[1] >= 0x90) /* > U+10FFFF */
			return 0;
		return 4;
	}
	return 0;
}

int html_escape(struct buf *b, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, run = 0; /* [i - run, i) is a pending run of bytes copied as is */
	int rc;

	if (!s)
		return BUF_OK;
	while (i < n) {
		const char *rep = NULL;
		size_t len = 1;
		unsigned char c = p[i];

		switch (c) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&#39;"; break;
		case '`': rep = "&#96;"; break;
		case '=': rep = "&#61;"; break;
		default:
			if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7F) {
				rep = REPLACEMENT;
			} else if (c >= 0x80) {
				len = utf8_len(p + i, n - i);
				if (!len) {
					rep = REPLACEMENT;
					len = 1;
				}
			}
		}
		if (!rep) {
			i += len;
			run += len;
			continue;
		}
		if (run && (rc = buf_append(b, p + i - run, run)) != BUF_OK)
			return rc;
		run = 0;
		if ((rc = buf_puts(b, rep)) != BUF_OK)
			return rc;
		i += len;
	}
	if (run && (rc = buf_append(b, p + i - run, run)) != BUF_OK)
		return rc;
	return BUF_OK;
}

int html_puts(struct buf *b, const char *s)
{
	return s ? html_escape(b, s, strlen(s)) : BUF_OK;
}

int html_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	const char *p = fmt, *lit = fmt;
	int rc = BUF_OK;
	char num[32];

	va_start(ap, fmt);
	while (*p && rc == BUF_OK) {
		if (*p != '%') {
			p++;
			continue;
		}
		if (p > lit && (rc = buf_append(b, lit, (size_t)(p - lit))) != BUF_OK)
			break;
		switch (p[1]) {
		case 's':
			rc = html_puts(b, va_arg(ap, const char *));
			p += 2;
			break;
		case 'd':
			snprintf(num, sizeof(num), "%d", va_arg(ap, int));
			rc = buf_puts(b, num);
			p += 2;
			break;
		case 'l':
			snprintf(num, sizeof(num), "%lld", va_arg(ap, long long));
			rc = buf_puts(b, num);
			p += 2;
			break;
		case '%':
			rc = buf_puts(b, "%");
			p += 2;
			break;
		case '\0':
			p += 1;
			break;
		default:
			p += 2;
		}
		lit = p;
	}
	if (rc == BUF_OK && p > lit)
		rc = buf_append(b, lit, (size_t)(p - lit));
	va_end(ap);
	return rc;
}
