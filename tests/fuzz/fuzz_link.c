/*
 * fuzz_link.c: the Link header parser (Okta and Sentry pagination) and the
 * Retry-After parser on arbitrary input. Input: header lines separated by
 * newlines.
 */
#include "httpc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	const char *lines[16];
	size_t n = 0;
	char *save = NULL;
	for (char *tok = strtok_r(s, "\n", &save); tok && n < 16; tok = strtok_r(NULL, "\n", &save))
		lines[n++] = tok;
	char *next = NULL, *cursor = NULL;
	httpc_link_next(lines, n, &next, &cursor, NULL);
	free(next);
	free(cursor);
	int64_t wait = 0;
	if (n)
		httpc_parse_retry_after(lines[0], 1700000000000, &wait);
	free(s);
	return 0;
}
