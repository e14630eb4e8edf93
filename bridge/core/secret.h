/*
 * secret.h: constant-time comparison and secret loading.
 *
 * Every comparison of a token, shared secret or signature goes through
 * secret_equal(), which does not leak where the first difference is.
 */
#ifndef SB_CORE_SECRET_H
#define SB_CORE_SECRET_H

#include <stddef.h>

/* 1 when a and b hold the same bytes, in time independent of the contents.
 * NULL never compares equal, not even to NULL (fail closed). */
int secret_equal(const char *a, const char *b);

/* Same for explicit lengths. */
int secret_equal_n(const void *a, size_t alen, const void *b, size_t blen);

/* Overwrite and free a secret string. NULL-safe. */
void secret_free(char *s);

#endif
