/*
 * fuzz_html.c: the console's HTML escaping on arbitrary bytes. Beyond not
 * crashing, the output must hold no markup character (< > " ' `), no '&'
 * that does not start one of our character references, no C0 control other
 * than tab/LF/CR, and be well-formed UTF-8; otherwise the target aborts.
 */
#include "bridge/console/html.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int ref_ok(const char *p)
{
	static const char *const refs[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&#39;", "&#96;", "&#61;"};
	size_t i;

	for (i = 0; i < sizeof(refs) / sizeof(refs[0]); i++)
		if (strncmp(p, refs[i], strlen(refs[i])) == 0)
			return 1;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf b;
	const unsigned char *p;
	size_t i;

	buf_init(&b, 0);
	if (html_escape(&b, (const char *)data, size) != BUF_OK)
		abort();
	p = (const unsigned char *)buf_str(&b);
	for (i = 0; i < b.len; i++) {
		unsigned char c = p[i];
		if (c == '<' || c == '>' || c == '"' || c == '\'' || c == '`' || c == '=')
			abort();
		if (c == '&' && !ref_ok((const char *)p + i))
			abort();
		if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7F)
			abort();
		if (c >= 0x80) { /* well-formed UTF-8: lead byte and continuation count */
			size_t k, len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
			if (!len || c > 0xF4 || i + len > b.len)
				abort();
			for (k = 1; k < len; k++)
				if ((p[i + k] & 0xC0) != 0x80)
					abort();
			i += len - 1;
		}
	}
	buf_reset(&b);
	return 0;
}
