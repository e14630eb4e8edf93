/*
 * config_secrets.c: resolving the secrets named in the configuration.
 *
 * A secret NAME is given by NAME_env (an environment variable) or NAME_file
 * (a file whose content, trailing newlines stripped, is the secret); never
 * inline. Rules:
 *   - a NAME_env or NAME_file key written in the file must resolve, whether
 *     or not the feature that uses it is enabled (a typo in a variable name
 *     is found by check-config, not at the first webhook);
 *   - a default name that is not written (admin_token_env: BRIDGE_ADMIN_TOKEN)
 *     resolves when it can, and is an error only when a feature requires it
 *     (cfg_require_secret, called by the validation);
 *   - writing both NAME_env and NAME_file is an error.
 * Resolved values are wiped when freed (secret_free) and never appear in a
 * message: messages name the variable or the file.
 */
#include "config_int.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- secrets ---- */

/* Read a secret file: 0 and *out, or -1 and *problem (both new strings). */
static int read_secret_file(const char *path, char **out, char **problem)
{
	int rc = -1, fd = -1;
	size_t len = 0;
	char *data = malloc(CONFIG_MAX_SECRET_BYTES + 2);
	*out = *problem = NULL;
	if (!data)
		goto out;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st)) {
		*problem = cfg_strdupf("cannot read secret file %s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		*problem = cfg_strdupf("secret file %s is not a regular file", path);
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, data + len, CONFIG_MAX_SECRET_BYTES + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*problem = cfg_strdupf("cannot read secret file %s: %s", path, strerror(errno));
			goto out;
		}
		len += (size_t)n;
		if (n == 0 || len > CONFIG_MAX_SECRET_BYTES)
			break;
	}
	if (len > CONFIG_MAX_SECRET_BYTES) {
		*problem = cfg_strdupf("secret file %s is larger than %u bytes", path, CONFIG_MAX_SECRET_BYTES);
		goto out;
	}
	if (memchr(data, '\0', len)) {
		*problem = cfg_strdupf("secret file %s contains a NUL byte", path);
		goto out;
	}
	while (len && (data[len - 1] == '\n' || data[len - 1] == '\r'))
		len--;
	if (!len) {
		*problem = cfg_strdupf("secret file %s is empty", path);
		goto out;
	}
	*out = strndup(data, len);
	rc = *out ? 0 : -1;
out:
	if (fd >= 0)
		close(fd);
	if (data) {
		OPENSSL_cleanse(data, CONFIG_MAX_SECRET_BYTES + 2);
		free(data);
	}
	return rc;
}

static int resolve_env(const char *name, char **out, char **problem)
{
	const char *v = getenv(name);
	*out = *problem = NULL;
	if (!v)
		*problem = cfg_strdupf("environment variable %s is not set", name);
	else if (!*v)
		*problem = cfg_strdupf("environment variable %s is empty", name);
	else
		*out = strdup(v);
	return *out ? 0 : -1;
}

static void resolve_one(struct cfg_ctx *x, struct cfg_secret *s, const char *envkey, const char *filekey)
{
	const char *env = s->env ? *s->env : "", *file = s->file ? *s->file : "";
	int eline = s->env ? cfg_line(x, s->env, POS_FIELD) : 0;
	int fline = s->file ? cfg_line(x, s->file, POS_FIELD) : 0;
	if (*env && *file) {
		if (eline && fline) {
			cfg_error(x, eline > fline ? eline : fline, eline > fline ? envkey : filekey,
				  "set either %s or %s, not both", envkey, filekey);
			s->state = SECRET_FAILED;
			return;
		}
		/* One of them is only a default: the one written in the file wins,
		 * and the default is cleared so the struct (and the dump) say which
		 * source was used. */
		char **loser = fline ? s->env : s->file;
		char *empty = strdup("");
		if (!empty) {
			x->oom = true;
			return;
		}
		free(*loser);
		*loser = empty;
		env = s->env ? *s->env : "";
		file = s->file ? *s->file : "";
	}
	if (!*env && !*file) {
		s->state = SECRET_UNSET;
		return;
	}
	bool from_env = *env != '\0';
	s->line = from_env ? eline : fline;
	char *val = NULL, *problem = NULL;
	int rc = from_env ? resolve_env(env, &val, &problem) : read_secret_file(file, &val, &problem);
	if (!rc) {
		*s->resolved = val;
		s->state = SECRET_RESOLVED;
		return;
	}
	if (!problem) {
		x->oom = true;
		s->state = SECRET_FAILED;
		return;
	}
	if (s->line) {
		/* Written in the file: it must resolve, whatever is enabled. */
		cfg_error(x, s->line, from_env ? envkey : filekey, "%s", problem);
		free(problem);
		s->state = SECRET_FAILED;
	} else {
		s->problem = problem;
		s->state = SECRET_DEFERRED;
	}
}

void cfg_resolve_secrets(struct cfg_ctx *x, const struct cfg_table *t, void *base, const char *path)
{
	for (size_t i = 0; i < t->nrows && !x->oom; i++) {
		const struct cfg_row *r = &t->rows[i];
		if (r->type == CT_SECTION || r->type == CT_LIST || r->type == CT_ROUTES) {
			size_t n = r->type == CT_SECTION ? 1 : *CFG_AT(base, r->aux, size_t);
			char *arr = r->type == CT_SECTION ? CFG_AT(base, r->off, char) : *CFG_AT(base, r->off, char *);
			for (size_t k = 0; k < n; k++) {
				char *p = r->type == CT_SECTION
					      ? cfg_child_path(path, r->key)
					      : cfg_strdupf("%s%s%s[%zu]", path, *path ? "." : "", r->key, k);
				if (!p) {
					x->oom = true;
					return;
				}
				cfg_resolve_secrets(x, r->sub, arr + k * r->sub->size, p);
				free(p);
			}
			continue;
		}
		if (r->type != CT_SECRET_ENV && r->type != CT_SECRET_FILE)
			continue;
		const struct cfg_row *er = NULL, *fr = NULL;
		size_t first = i;
		for (size_t k = 0; k < t->nrows; k++) {
			const struct cfg_row *o = &t->rows[k];
			if ((o->type == CT_SECRET_ENV || o->type == CT_SECRET_FILE) && o->aux == r->aux) {
				if (k < first)
					first = k;
				if (o->type == CT_SECRET_ENV)
					er = o;
				else
					fr = o;
			}
		}
		if (first != i)
			continue; /* the pair was handled at its first row */
		if (x->nsecrets == x->secretcap) {
			size_t ncap = x->secretcap ? x->secretcap * 2 : 16;
			struct cfg_secret *ns = realloc(x->secrets, ncap * sizeof *ns);
			if (!ns) {
				x->oom = true;
				return;
			}
			x->secrets = ns;
			x->secretcap = ncap;
		}
		struct cfg_secret *s = &x->secrets[x->nsecrets];
		*s = (struct cfg_secret){
		    .resolved = CFG_AT(base, r->aux, char *),
		    .env = er ? CFG_AT(base, er->off, char *) : NULL,
		    .file = fr ? CFG_AT(base, fr->off, char *) : NULL,
		};
		/* The secret's name is the key without its _env/_file suffix. */
		const char *k0 = er ? er->key : fr->key;
		size_t blen = strlen(k0) - (er ? 4 : 5);
		char *envkey = er ? cfg_child_path(path, er->key) : NULL;
		char *filekey = fr ? cfg_child_path(path, fr->key) : NULL;
		s->path = cfg_strdupf("%s%s%.*s", path, *path ? "." : "", (int)blen, k0);
		if (!s->path || (er && !envkey) || (fr && !filekey)) {
			free(s->path);
			x->oom = true;
		} else {
			x->nsecrets++;
			resolve_one(x, s, envkey ? envkey : "", filekey ? filekey : "");
		}
		free(envkey);
		free(filekey);
	}
}

const struct cfg_secret *cfg_secret_of(const struct cfg_ctx *x, char *const *resolved)
{
	for (size_t i = 0; i < x->nsecrets; i++)
		if (x->secrets[i].resolved == resolved)
			return &x->secrets[i];
	return NULL;
}

void cfg_require_secret(struct cfg_ctx *x, char **resolved, int line, const char *why)
{
	const struct cfg_secret *s = cfg_secret_of(x, resolved);
	if (!s)
		return;
	switch (s->state) {
	case SECRET_RESOLVED:
	case SECRET_FAILED:
		return;
	case SECRET_DEFERRED: {
		char *key = cfg_strdupf("%s%s", s->path, s->env && **s->env ? "_env" : "_file");
		if (!key)
			x->oom = true;
		else
			cfg_error(x, line, key, "%s (required %s)", s->problem, why);
		free(key);
		return;
	}
	case SECRET_UNSET:
		/* A key was written but refused by its own check: already reported. */
		if ((s->env && cfg_line(x, s->env, POS_BAD)) || (s->file && cfg_line(x, s->file, POS_BAD)))
			return;
		{
			char *key = cfg_strdupf("%s%s", s->path, s->env ? "_env" : "_file");
			if (!key)
				x->oom = true;
			else if (s->env)
				cfg_error(x, line, key,
					  "a secret is required %s: set %s_env (an environment variable) "
					  "or %s_file (a file)",
					  why, s->path, s->path);
			else
				cfg_error(x, line, key, "a secret is required %s: set %s_file", why, s->path);
			free(key);
			return;
		}
	}
}
