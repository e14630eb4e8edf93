/*
 * fuzz_config.c: the YAML config loader on arbitrary input.
 */
#include "config.h"

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
	struct config *c = NULL;
	struct config_errors e = {0};
	if (config_from_string(s, "fuzz.yaml", &c, &e) == 0)
		config_free(c);
	config_errors_free(&e);
	free(s);
	return 0;
}
