/*
 * fuzz_provision.c: the provisioning rules on arbitrary names. The first
 * line is the requested name (a project and a team, in both non_ascii
 * modes), the next lines are existing project and team slugs (and names):
 * canonicalisation, duplicates, the team decision and the lint must never
 * crash, leak or read out of bounds, and what they accept must be a valid
 * Sentry slug.
 */
#include "config.h"
#include "policies/policy_provision.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *suffixes[] = {"pre", "gstg", "gprd", "staging", "production", "prod", "dev", "canary"};
static char *reserved[] = {"internal"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	/* lines: name, then existing objects */
	struct prov_existing ex[64];
	static const char *const one_team[] = {"acme"};
	size_t nex = 0;
	char *name = s, *nl = strchr(s, '\n');
	if (nl) {
		*nl = '\0';
		for (char *line = nl + 1; line && *line && nex < 64;) {
			char *next = strchr(line, '\n');
			if (next)
				*next++ = '\0';
			ex[nex] = (struct prov_existing){.slug = line, .name = line,
							 .teams = nex % 5 ? one_team : NULL, .nteams = nex % 5 ? 1 : 0};
			nex++;
			line = next;
		}
	}
	struct config_provisioning p = {
	    .default_team = "acme",
	    .env_suffixes = {suffixes, sizeof suffixes / sizeof *suffixes},
	    .allow_team_creation = true,
	    .project_slug_max = 100,
	    .near_duplicate_distance = 2,
	    .reserved_slugs = {reserved, 1},
	};
	for (int mode = 0; mode < 2; mode++) {
		p.non_ascii = mode ? CONFIG_NON_ASCII_TRANSLITERATE : CONFIG_NON_ASCII_REFUSE;
		for (int kind = 0; kind < 2; kind++) {
			struct prov_name pn;
			struct err e = {0};
			if (policy_prov_name(&p, (enum prov_kind)kind, name, &pn, &e))
				continue;
			if (!policy_prov_slug_ok(&p, (enum prov_kind)kind, pn.slug))
				abort(); /* an accepted name must give a valid slug */
			struct prov_conflict *v = NULL;
			size_t nv = 0;
			if (!policy_prov_conflicts(&p, (enum prov_kind)kind, &pn, ex, nex, &v, &nv))
				policy_prov_conflicts_free(v, nv);
			policy_prov_name_clear(&pn);
		}
		struct prov_team_decision d;
		struct err e = {0};
		if (!policy_prov_team(&p, name, ex, nex, mode, &d, &e))
			policy_prov_team_clear(&d);
	}
	struct prov_lint l;
	if (!policy_prov_lint(&p, ex, nex, &l))
		policy_prov_lint_free(&l);
	free(s);
	return 0;
}
