/*
 * cli_access.c: `sentry-bridge access list|grant|revoke` for operators at
 * a shell (issue 9). Acts as the operators (like the admin token), audited
 * with actor "cli:<login>" and source "cli".
 */
#include "access.h"
#include "app.h"
#include "cli.h"
#include "db.h"
#include "log.h"
#include "metrics.h"
#include "migrate.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
    "usage: sentry-bridge [global options] access list [--status S] [--person EMAIL] [--output json]\n"
    "       sentry-bridge [global options] access grant --person EMAIL (--role ROLE | --team SLUG)\n"
    "                                      [--duration 8h] --reason TEXT\n"
    "       sentry-bridge [global options] access revoke REQUEST_ID [--reason TEXT]\n"
    "\n"
    "Time-bound access (docs/access-requests.md). grant files a request for the person and\n"
    "approves it as the operators (the rules of access_requests still apply: max_role, teams,\n"
    "durations, reasons); revoke ends a grant now. Exit codes: 0 done, 1 error, 2 usage,\n"
    "3 refused by the rules.\n";

const char *cli_access_usage(void)
{
	return usage;
}

static void print_request(json_t *r)
{
	json_t *g = json_object_get(r, "grant");
	printf("#%-5lld %-9s %-30s %-5s %-16s %s%s%s\n", (long long)json_integer_value(json_object_get(r, "id")),
	       json_string_value(json_object_get(r, "status")), json_string_value(json_object_get(r, "requester")),
	       json_string_value(json_object_get(r, "kind")),
	       json_string_value(json_object_get(r, "role")) ? json_string_value(json_object_get(r, "role"))
							      : json_string_value(json_object_get(r, "team")),
	       json_is_object(g) ? "grant " : "", json_is_object(g) ? json_string_value(json_object_get(g, "status")) : "",
	       json_is_object(g) ? "" : "");
	if (json_is_object(g))
		printf("       until %s\n", json_string_value(json_object_get(g, "ends_at")));
}

static int answer(struct access_answer *a, int json_out)
{
	int code = a->status >= 200 && a->status < 300 ? EXIT_OK : a->status == 422 || a->status == 403 || a->status == 409 ? EXIT_REFUSED : EXIT_FAILURE_RUNTIME;
	if (json_out || code != EXIT_OK) {
		char *t = a->body ? json_dumps(a->body, JSON_INDENT(2)) : NULL;
		if (code == EXIT_OK)
			printf("%s\n", t ? t : "{}");
		else
			fprintf(stderr, "sentry-bridge access: %s\n",
				json_string_value(json_object_get(a->body, "message")) ? json_string_value(json_object_get(a->body, "message")) : "failed");
		free(t);
	} else {
		print_request(a->body);
	}
	json_decref(a->body);
	return code;
}

int cli_access(const struct config *cfg, struct logger *lg, int argc, char **argv)
{
	if (argc < 1) {
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	const char *sub = argv[0];
	const char *status = NULL, *person = NULL, *role = NULL, *team = NULL, *duration = NULL, *reason = NULL, *id = NULL;
	int json_out = 0;
	for (int k = 1; k < argc; k++) {
		const char *a = argv[k];
		const char *v = k + 1 < argc ? argv[k + 1] : NULL;
		if (!strcmp(a, "--status") && v) status = argv[++k];
		else if (!strcmp(a, "--person") && v) person = argv[++k];
		else if (!strcmp(a, "--role") && v) role = argv[++k];
		else if (!strcmp(a, "--team") && v) team = argv[++k];
		else if (!strcmp(a, "--duration") && v) duration = argv[++k];
		else if (!strcmp(a, "--reason") && v) reason = argv[++k];
		else if (!strcmp(a, "--output") && v) json_out = !strcmp(argv[++k], "json");
		else if (a[0] != '-' && !id) id = a;
		else {
			fprintf(stderr, "sentry-bridge access: unknown or incomplete option %s\n\n%s", a, usage);
			return EXIT_USAGE;
		}
	}
	if (strcmp(sub, "list") && strcmp(sub, "grant") && strcmp(sub, "revoke")) {
		fprintf(stderr, "sentry-bridge access: unknown subcommand \"%s\"\n\n%s", sub, usage);
		return EXIT_USAGE;
	}
	if (!strcmp(sub, "grant") && (!person || (role != NULL) == (team != NULL))) {
		fprintf(stderr, "sentry-bridge access grant: --person and one of --role or --team are required\n\n%s", usage);
		return EXIT_USAGE;
	}
	if (!strcmp(sub, "revoke") && (!id || atoll(id) < 1)) {
		fprintf(stderr, "sentry-bridge access revoke: give the request id\n\n%s", usage);
		return EXIT_USAGE;
	}
	struct ctx ctx;
	int code = app_cli_open(cfg, lg, &ctx, "access");
	if (code)
		return code;
	char actor[96];
	const char *login = getlogin();
	snprintf(actor, sizeof actor, "cli:%s", login ? login : "operator");
	struct access_answer a = {0};
	if (!strcmp(sub, "list")) {
		struct err e = {0};
		PGconn *c = db_acquire(ctx.db, 5000, &e);
		json_t *l = c ? access_request_list(c, status, person, 200, &e) : NULL;
		db_release(ctx.db, c);
		if (!l) {
			fprintf(stderr, "sentry-bridge access: %s\n", e.msg);
			code = EXIT_FAILURE_RUNTIME;
		} else if (json_out) {
			char *t = json_dumps(l, JSON_INDENT(2));
			printf("%s\n", t ? t : "[]");
			free(t);
		} else {
			for (size_t i = 0; i < json_array_size(l); i++)
				print_request(json_array_get(l, i));
			if (!json_array_size(l))
				printf("no access requests\n");
		}
		json_decref(l);
	} else if (!strcmp(sub, "grant")) {
		access_request_create(&ctx, person, role ? "role" : "team", role, team, duration, reason, "cli", actor, &a);
		if (a.status == 201 && !strcmp(json_string_value(json_object_get(a.body, "status")), "pending")) {
			long long rid = json_integer_value(json_object_get(a.body, "id"));
			json_decref(a.body);
			access_request_decide(&ctx, rid, "approve", "admin-token", reason, "cli", &a);
		}
		code = answer(&a, json_out);
		/* Apply now (serve's workers would too: applying twice is harmless). */
		if (code == EXIT_OK)
			access_apply_person(&ctx, person, &(struct err){0});
	} else {
		access_request_decide(&ctx, atoll(id), "revoke", "admin-token", reason, "cli", &a);
		char *who = a.status == 200 ? strdup(json_string_value(json_object_get(a.body, "requester")) ? json_string_value(json_object_get(a.body, "requester")) : "") : NULL;
		code = answer(&a, json_out);
		if (code == EXIT_OK && who && *who)
			access_apply_person(&ctx, who, &(struct err){0});
		free(who);
	}
	app_cli_close(&ctx);
	return code;
}
