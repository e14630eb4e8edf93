/*
 * slack_sign.h: Slack request signing (reference gitlab-slack-api.md 4.2).
 *
 * X-Slack-Signature is "v0=" + hex(HMAC-SHA256(key = the signing secret as
 * UTF-8 text, msg = "v0:" + X-Slack-Request-Timestamp + ":" + raw body)),
 * compared in constant time; a timestamp further than max_age from now is
 * refused (replays).
 */
#ifndef SB_INTEGRATIONS_SLACK_SIGN_H
#define SB_INTEGRATIONS_SLACK_SIGN_H

#include <stddef.h>
#include <stdint.h>

#define SLACK_SIG_LEN 67 /* "v0=" + 64 hex */

enum slack_sig_rc {
	SLACK_SIG_OK = 0,
	SLACK_SIG_MISSING,   /* a header is missing or the secret is not configured */
	SLACK_SIG_STALE,     /* the timestamp is malformed or outside the window */
	SLACK_SIG_MISMATCH,  /* the signature does not match */
};

/* Compute the signature of (timestamp, body) into out (68 bytes). 0 or -1. */
int slack_sign(const char *secret, const char *timestamp, const void *body, size_t len, char out[SLACK_SIG_LEN + 1]);

/* Verify a request. now_s and max_age_s in seconds. */
enum slack_sig_rc slack_verify(const char *secret, const char *timestamp, const char *signature, const void *body,
			       size_t len, int64_t now_s, int64_t max_age_s);

/* A short English description of rc, for error bodies. */
const char *slack_sig_describe(enum slack_sig_rc rc);

#endif
