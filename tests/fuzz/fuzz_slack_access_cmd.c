/*
 * fuzz_slack_access_cmd.c: the /sentry-access grammar (bridge/slack_access_cmd.c)
 * on arbitrary text, NUL bytes included: every parse either fails cleanly or
 * returns a command whose fields are consistent with its kind.
 */
#include "bridge/slack_access_cmd.h"

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
	struct slack_access_cmd c;
	if (!slack_access_cmd_parse(s, &c)) {
		if (c.kind == SA_CMD_ERROR && !c.error)
			abort();
		if (c.kind == SA_CMD_ROLE && !c.role)
			abort();
		if (c.kind == SA_CMD_TEAM && !c.team)
			abort();
		if (c.kind == SA_CMD_CANCEL && c.id <= 0)
			abort();
		if (c.duration && c.duration[0] == '-')
			abort();
		slack_access_cmd_free(&c);
	}
	free(s);
	return 0;
}
