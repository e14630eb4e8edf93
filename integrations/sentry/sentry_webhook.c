/*
 * sentry_webhook.c: Sentry webhook signatures and resources; see sentry_webhook.h.
 */
#include "sentry_webhook.h"

#include "secret.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

int sentry_webhook_sign(const char *secret, const void *body, size_t len, char out[SENTRY_SIG_HEX_LEN + 1])
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	if (!secret || (!body && len))
		return -1;
	if (!HMAC(EVP_sha256(), secret, (int)strlen(secret), body ? body : (const void *)"", len, mac, &maclen) ||
	    maclen != 32)
		return -1;
	static const char hex[] = "0123456789abcdef";
	for (unsigned i = 0; i < maclen; i++) {
		out[2 * i] = hex[mac[i] >> 4];
		out[2 * i + 1] = hex[mac[i] & 15];
	}
	out[SENTRY_SIG_HEX_LEN] = '\0';
	return 0;
}

int sentry_webhook_verify(const char *secret, const void *body, size_t len, const char *sig)
{
	char want[SENTRY_SIG_HEX_LEN + 1], got[SENTRY_SIG_HEX_LEN + 1];
	if (!secret || !*secret || !sig || strlen(sig) != SENTRY_SIG_HEX_LEN)
		return 0;
	if (sentry_webhook_sign(secret, body, len, want))
		return 0;
	for (size_t i = 0; i < SENTRY_SIG_HEX_LEN; i++)
		got[i] = (char)tolower((unsigned char)sig[i]);
	got[SENTRY_SIG_HEX_LEN] = '\0';
	int ok = secret_equal_n(want, SENTRY_SIG_HEX_LEN, got, SENTRY_SIG_HEX_LEN);
	OPENSSL_cleanse(want, sizeof want);
	return ok;
}

bool sentry_webhook_handled(const char *resource, const char *action)
{
	static const char *const handled[] = {
	    "event_alert.triggered", "metric_alert.critical", "metric_alert.warning", "metric_alert.resolved",
	    "issue.created",	     "issue.resolved",	      "issue.assigned",	      "issue.ignored",
	    "issue.archived",	     "issue.unresolved",      NULL,
	};
	if (!resource || !action)
		return false;
	if (!strcmp(resource, "installation"))
		return true;
	size_t rl = strlen(resource);
	for (size_t i = 0; handled[i]; i++)
		if (!strncmp(handled[i], resource, rl) && handled[i][rl] == '.' && !strcmp(handled[i] + rl + 1, action))
			return true;
	return false;
}

bool sentry_webhook_request_id_ok(const char *id)
{
	if (!id || !*id || strlen(id) > 128)
		return false;
	for (const char *p = id; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-')
			return false;
	return true;
}
