/*
 * fuzz_okta_delivery.c: the Okta event hook delivery parser (what
 * POST /hooks/okta does with a body before storing it) on arbitrary input.
 */
#include "err.h"
#include "sso/okta_events.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *root = NULL;
	struct okta_event *ev = NULL;
	size_t n = 0;
	struct err e = {0};
	if (okta_delivery_parse((const char *)data, size, &root, &ev, &n, &e) == 0) {
		for (size_t i = 0; i < n; i++)
			(void)okta_time_valid(ev[i].published);
		free(ev);
		json_decref(root);
	}
	return 0;
}
