/*
 * fuzz_gl_query.c: the GitLab proxy's query parsing on arbitrary input:
 * decoding (gl_params_parse), GitLab's listing options for each kind of
 * listing, and the Link / pagination headers built from the parameters.
 */
#include "http.h"
#include "integrations/gitlab/gl_query.h"

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
	struct gl_params p;
	if (gl_params_parse(s, &p) == 0) {
		static const enum gl_list_kind kinds[] = {GL_LIST_GROUP_PROJECTS, GL_LIST_PROJECTS, GL_LIST_GROUPS};
		for (size_t k = 0; k < 3; k++) {
			struct gl_listq q;
			char msg[96];
			if (gl_listq_parse(&p, kinds[k], &q, msg, sizeof msg) == 0) {
				struct http_resp r;
				http_resp_init(&r);
				gl_pagination(&r, "http://h/gitlab/api/v4/groups/1/projects", &p, q.page, q.per_page,
					      (int64_t)size * 37);
				http_resp_free(&r);
			}
		}
		gl_params_free(&p);
	}
	free(s);
	return 0;
}
