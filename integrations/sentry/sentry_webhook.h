/*
 * sentry_webhook.h: verifying Sentry integration-platform webhooks
 * (reference sentry-api.md 6.1) and telling which ones the bridge handles.
 *
 * Sentry signs the raw body: Sentry-Hook-Signature is
 * HMAC-SHA256(key = the integration's client secret, msg = body) as 64
 * lowercase hex characters, no prefix. Sentry-Hook-Timestamp is not signed,
 * so it proves nothing; redeliveries are recognised by Request-ID instead.
 */
#ifndef SB_INTEGRATIONS_SENTRY_WEBHOOK_H
#define SB_INTEGRATIONS_SENTRY_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>

#define SENTRY_SIG_HEX_LEN 64

/* Write the hex signature of body (65 bytes with the NUL) into out. 0 or -1. */
int sentry_webhook_sign(const char *secret, const void *body, size_t len, char out[SENTRY_SIG_HEX_LEN + 1]);

/* 1 when sig is the signature of body under secret (constant-time; upper-case
 * hex is accepted), 0 otherwise (NULL, wrong length, mismatch). */
int sentry_webhook_verify(const char *secret, const void *body, size_t len, const char *sig);

/* Whether the bridge acts on resource.action (event_alert.triggered,
 * metric_alert.critical|warning|resolved, issue.created|resolved|assigned|
 * ignored|archived|unresolved, installation.*). Others are recorded and skipped. */
bool sentry_webhook_handled(const char *resource, const char *action);

/* A Request-ID we accept as the inbox key: 1..128 characters of [0-9A-Za-z-]
 * (Sentry sends uuid4().hex: 32 hex characters). */
bool sentry_webhook_request_id_ok(const char *id);

#endif
