/*
 * secret.c: constant-time comparison (OpenSSL CRYPTO_memcmp) and wiping.
 */
#include "secret.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

int secret_equal_n(const void *a, size_t alen, const void *b, size_t blen)
{
	if (!a || !b)
		return 0;
	/* Compare over the longer length so a length mismatch costs the same
	 * time as a content mismatch; the length check is folded in at the end. */
	size_t n = alen > blen ? alen : blen;
	if (n == 0)
		return alen == blen;
	unsigned char *pa = calloc(1, n), *pb = calloc(1, n);
	int eq = 0;
	if (!pa || !pb)
		goto out;
	memcpy(pa, a, alen);
	memcpy(pb, b, blen);
	eq = (CRYPTO_memcmp(pa, pb, n) == 0) & (alen == blen);
out:
	free(pa);
	free(pb);
	return eq;
}

int secret_equal(const char *a, const char *b)
{
	if (!a || !b)
		return 0;
	return secret_equal_n(a, strlen(a), b, strlen(b));
}

void secret_free(char *s)
{
	if (!s)
		return;
	OPENSSL_cleanse(s, strlen(s));
	free(s);
}
