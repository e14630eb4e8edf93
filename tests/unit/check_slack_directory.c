/*
 * check_slack_directory.c: the cached Slack directory's lookups and event
 * handling (bridge/slack_directory.c) against a real PostgreSQL.
 */
#include "bridge/slack_directory.h"
#include "err.h"
#include "suites.h"
#include "testdb.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

START_TEST(test_is_id)
{
	ck_assert(slack_directory_is_id("C0000ALERTS"));
	ck_assert(slack_directory_is_id("G0PRIVATE1"));
	ck_assert(slack_directory_is_id("D0ADA"));
	ck_assert(!slack_directory_is_id("alerts"));
	ck_assert(!slack_directory_is_id("#alerts"));
	ck_assert(!slack_directory_is_id("C0alerts")); /* names are lower case, IDs are not */
	ck_assert(!slack_directory_is_id("U0ADA"));    /* a user is not a conversation */
	ck_assert(!slack_directory_is_id("C"));
	ck_assert(!slack_directory_is_id(NULL));
}
END_TEST

static void run(PGconn *c, const char *sql)
{
	free(testdb_value(c, sql));
}

static enum slack_dir_lookup lookup(PGconn *c, const char *ref, char **id)
{
	enum slack_dir_lookup lk;
	struct err e;
	err_clear(&e);
	ck_assert_msg(!slack_directory_channel(c, ref, &lk, id, &e), "%s", e.msg);
	return lk;
}

START_TEST(test_channel_lookup)
{
	PGconn *c = testdb_fresh();
	char *id = NULL;
	run(c, "INSERT INTO slack_channels (id, name, is_archived) VALUES ('C0001', 'alerts', false),"
	       " ('C0002', 'old', true), ('C0003', 'twice', true), ('C0004', 'twice', false)");
	/* Never loaded: names are used as given, IDs as is. */
	ck_assert_int_eq(lookup(c, "#nowhere", &id), SLACK_DIR_UNLOADED);
	ck_assert_ptr_null(id);
	ck_assert_int_eq(lookup(c, "#alerts", &id), SLACK_DIR_FOUND);
	ck_assert_str_eq(id, "C0001");
	free(id);
	run(c, "UPDATE slack_directory_state SET last_success_at = now() WHERE kind = 'channels'");
	ck_assert_int_eq(lookup(c, "#nowhere", &id), SLACK_DIR_MISSING);
	ck_assert_ptr_null(id);
	ck_assert_int_eq(lookup(c, "alerts", &id), SLACK_DIR_FOUND);
	ck_assert_str_eq(id, "C0001");
	free(id);
	ck_assert_int_eq(lookup(c, "#old", &id), SLACK_DIR_ARCHIVED);
	ck_assert_str_eq(id, "C0002");
	free(id);
	ck_assert_int_eq(lookup(c, "C0002", &id), SLACK_DIR_ARCHIVED);
	free(id);
	ck_assert_int_eq(lookup(c, "twice", &id), SLACK_DIR_FOUND); /* the live one wins */
	ck_assert_str_eq(id, "C0004");
	free(id);
	ck_assert_int_eq(lookup(c, "C0UNKNOWN", &id), SLACK_DIR_FOUND); /* an ID is used as given */
	ck_assert_str_eq(id, "C0UNKNOWN");
	free(id);
	PQfinish(c);
}
END_TEST

static int apply(PGconn *c, const char *envelope)
{
	json_t *j = json_loads(envelope, 0, NULL);
	ck_assert_ptr_nonnull(j);
	int handled = -1;
	struct err e;
	err_clear(&e);
	ck_assert_msg(!slack_directory_apply_event(c, j, &handled, &e), "%s", e.msg);
	json_decref(j);
	return handled;
}

static void check_value(PGconn *c, const char *sql, const char *want)
{
	char *v = testdb_value(c, sql);
	ck_assert_str_eq(v, want);
	free(v);
}

START_TEST(test_events)
{
	PGconn *c = testdb_fresh();
	ck_assert_int_eq(apply(c, "{\"event_time\": 100, \"event\": {\"type\": \"channel_created\","
				  " \"channel\": {\"id\": \"C9\", \"name\": \"new\"}}}"),
			 1);
	check_value(c, "SELECT name || ' ' || is_archived || ' ' || is_member FROM slack_channels WHERE id = 'C9'",
		    "new false false");
	/* Out of order: an older rename does not win over a newer one. */
	apply(c, "{\"event_time\": 120, \"event\": {\"type\": \"channel_rename\", \"channel\": {\"id\": \"C9\", \"name\": \"b\"}}}");
	apply(c, "{\"event_time\": 110, \"event\": {\"type\": \"channel_rename\", \"channel\": {\"id\": \"C9\", \"name\": \"a\"}}}");
	check_value(c, "SELECT name FROM slack_channels WHERE id = 'C9'", "b");
	apply(c, "{\"event_time\": 130, \"event\": {\"type\": \"group_archive\", \"channel\": \"C9\"}}");
	check_value(c, "SELECT is_archived FROM slack_channels WHERE id = 'C9'", "t");
	/* The bot joins: from the envelope's authorizations, or the state's bot user. */
	apply(c, "{\"event_time\": 140, \"authorizations\": [{\"user_id\": \"U0BOT\", \"is_bot\": true}],"
		 " \"event\": {\"type\": \"member_joined_channel\", \"user\": \"U0ADA\", \"channel\": \"C9\"}}");
	check_value(c, "SELECT is_member FROM slack_channels WHERE id = 'C9'", "f");
	run(c, "UPDATE slack_directory_state SET bot_user_id = 'U0BOT'");
	apply(c, "{\"event_time\": 150, \"event\": {\"type\": \"member_joined_channel\", \"user\": \"U0BOT\", \"channel\": \"C9\"}}");
	check_value(c, "SELECT is_member FROM slack_channels WHERE id = 'C9'", "t");
	apply(c, "{\"event\": {\"type\": \"channel_deleted\", \"channel\": \"C9\"}}");
	check_value(c, "SELECT count(*) FROM slack_channels WHERE id = 'C9'", "0");
	/* Users: team_join, then user_change; e-mail lookup is case-insensitive. */
	apply(c, "{\"event_time\": 100, \"event\": {\"type\": \"team_join\", \"user\": {\"id\": \"U7\", \"name\": \"eve\","
		 " \"profile\": {\"email\": \"Eve@Acme.example\", \"real_name\": \"Eve\"}}}}");
	char *uid = NULL;
	struct err e;
	err_clear(&e);
	ck_assert(!slack_directory_user_by_email(c, "eve@acme.EXAMPLE", &uid, &e));
	ck_assert_str_eq(uid, "U7");
	free(uid);
	apply(c, "{\"event_time\": 101, \"event\": {\"type\": \"user_change\", \"user\": {\"id\": \"U7\", \"name\": \"eve\","
		 " \"deleted\": true, \"profile\": {\"email\": \"eve@acme.example\"}}}}");
	ck_assert(!slack_directory_user_by_email(c, "eve@acme.example", &uid, &e));
	ck_assert_ptr_null(uid); /* deleted users are not DM targets */
	/* Not ours, or unusable: nothing happens. */
	ck_assert_int_eq(apply(c, "{\"event\": {\"type\": \"app_mention\", \"channel\": \"C1\"}}"), 0);
	ck_assert_int_eq(apply(c, "{\"event\": {\"type\": \"channel_rename\", \"channel\": {\"id\": \"C1\"}}}"), 1);
	ck_assert_int_eq(apply(c, "{\"event\": {\"type\": \"team_join\", \"user\": \"U1\"}}"), 1);
	check_value(c, "SELECT count(*) FROM slack_channels", "0");
	PQfinish(c);
}
END_TEST

Suite *slack_directory_suite(void)
{
	Suite *s = suite_create("slack_directory");
	TCase *tc = tcase_create("directory");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_is_id);
	tcase_add_test(tc, test_channel_lookup);
	tcase_add_test(tc, test_events);
	suite_add_tcase(s, tc);
	return s;
}
