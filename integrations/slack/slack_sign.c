/*
 * slack_sign.c: Slack v0 request signatures; see slack_sign.h.
 */
#include "slack_sign.h"

#include "secret.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>

int slack_sign(const char *secret, const char *timestamp, const void *body, size_t len, char out[SLACK_SIG_LEN + 1])
{
	if (!secret || !timestamp || (!body && len))
		return -1;
	size_t tl = strlen(timestamp), n = 3 + tl + 1 + len;
	unsigned char *base = malloc(n ? n : 1), mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	if (!base)
		return -1;
	memcpy(base, "v0:", 3);
	memcpy(base + 3, timestamp, tl);
	base[3 + tl] = ':';
	if (len)
		memcpy(base + 4 + tl, body, len);
	int ok = HMAC(EVP_sha256(), secret, (int)strlen(secret), base, n, mac, &maclen) && maclen == 32;
	free(base);
	if (!ok)
		return -1;
	static const char hex[] = "0123456789abcdef";
	memcpy(out, "v0=", 3);
	for (unsigned i = 0; i < maclen; i++) {
		out[3 + 2 * i] = hex[mac[i] >> 4];
		out[3 + 2 * i + 1] = hex[mac[i] & 15];
	}
	out[SLACK_SIG_LEN] = '\0';
	return 0;
}

enum slack_sig_rc slack_verify(const char *secret, const char *timestamp, const char *signature, const void *body,
			       size_t len, int64_t now_s, int64_t max_age_s)
{
	if (!secret || !*secret || !timestamp || !signature)
		return SLACK_SIG_MISSING;
	size_t tl = strlen(timestamp);
	if (!tl || tl > 12)
		return SLACK_SIG_STALE;
	for (size_t i = 0; i < tl; i++)
		if (!isdigit((unsigned char)timestamp[i]))
			return SLACK_SIG_STALE;
	int64_t ts = strtoll(timestamp, NULL, 10);
	if (ts > now_s + max_age_s || ts < now_s - max_age_s)
		return SLACK_SIG_STALE;
	char want[SLACK_SIG_LEN + 1];
	if (slack_sign(secret, timestamp, body, len, want))
		return SLACK_SIG_MISMATCH;
	int ok = secret_equal_n(want, SLACK_SIG_LEN, signature, strlen(signature));
	OPENSSL_cleanse(want, sizeof want);
	return ok ? SLACK_SIG_OK : SLACK_SIG_MISMATCH;
}

const char *slack_sig_describe(enum slack_sig_rc rc)
{
	switch (rc) {
	case SLACK_SIG_OK:
		return "ok";
	case SLACK_SIG_MISSING:
		return "missing X-Slack-Signature or X-Slack-Request-Timestamp";
	case SLACK_SIG_STALE:
		return "X-Slack-Request-Timestamp is malformed or outside the allowed window (replay?)";
	case SLACK_SIG_MISMATCH:
		return "X-Slack-Signature does not match the body";
	}
	return "?";
}
