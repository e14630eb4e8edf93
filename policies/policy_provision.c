/*
 * policy_provision.c: canonical names, slugs, duplicates, the team of a new
 * project and the lint of an organisation (see policy_provision.h). Pure
 * code: no I/O.
 */
#include "policy_provision.h"
#include "buf.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Reserved project slugs (older copy of sentry/constants.py, sentry-api.md 3.4). */
static const char *const sentry_reserved[] = {
    "$all",	    "api-keys", "audit-log", "auth",	     "members",	     "projects",
    "rate-limits",  "repos",	"settings",  "teams",	     "billing",	     "payments",
    "legal",	    "subscription", "support", "integrations", "developer-settings", "usage",
    NULL,
};

/*
 * Transliteration of U+00C0..U+017F (Latin-1 Supplement letters and Latin
 * Extended-A) to ASCII. NULL: not a letter (x and / signs), refused.
 */
static const char *const translit[] = {
    /* C0 */ "A", "A", "A", "A", "A", "A", "AE", "C", "E", "E", "E", "E", "I", "I", "I", "I",
    /* D0 */ "D", "N", "O", "O", "O", "O", "O", NULL, "O", "U", "U", "U", "U", "Y", "TH", "ss",
    /* E0 */ "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",
    /* F0 */ "d", "n", "o", "o", "o", "o", "o", NULL, "o", "u", "u", "u", "u", "y", "th", "y",
    /* 100 */ "A", "a", "A", "a", "A", "a", "C", "c", "C", "c", "C", "c", "C", "c", "D", "d",
    /* 110 */ "D", "d", "E", "e", "E", "e", "E", "e", "E", "e", "E", "e", "G", "g", "G", "g",
    /* 120 */ "G", "g", "G", "g", "H", "h", "H", "h", "I", "i", "I", "i", "I", "i", "I", "i",
    /* 130 */ "I", "i", "IJ", "ij", "J", "j", "K", "k", "k", "L", "l", "L", "l", "L", "l", "L",
    /* 140 */ "l", "L", "l", "N", "n", "N", "n", "N", "n", "n", "N", "n", "O", "o", "O", "o",
    /* 150 */ "O", "o", "OE", "oe", "R", "r", "R", "r", "R", "r", "S", "s", "S", "s", "S", "s",
    /* 160 */ "S", "s", "T", "t", "T", "t", "T", "t", "U", "u", "U", "u", "U", "u", "U", "u",
    /* 170 */ "U", "u", "U", "u", "W", "w", "Y", "y", "Y", "Z", "z", "Z", "z", "Z", "z", "s",
};

/* The ASCII for one code point, or NULL. */
static const char *translit_cp(uint32_t cp)
{
	if (cp == 0xA0 || cp == 0x2007 || cp == 0x202F)
		return " ";
	if (cp >= 0x2010 && cp <= 0x2015) /* hyphens and dashes */
		return "-";
	if (cp >= 0xC0 && cp <= 0x17F)
		return translit[cp - 0xC0];
	return NULL;
}

/* Decode one UTF-8 sequence at s (n bytes left). Length, or 0 when invalid. */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	size_t len = (s[0] & 0xE0) == 0xC0 ? 2 : (s[0] & 0xF0) == 0xE0 ? 3 : (s[0] & 0xF8) == 0xF0 ? 4 : 0;
	if (!len || len > n)
		return 0;
	uint32_t c = s[0] & (0x7F >> len);
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3F);
	}
	static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
	if (c < min[len] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	*cp = c;
	return len;
}

/* Bytes of s to print with "%.*s" so that at most max bytes are shown
 * without cutting a UTF-8 sequence. */
static int utf8_prec(const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);
	if (n <= max)
		return (int)n;
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return (int)n;
}

static bool is_sep(char c)
{
	return c == '-' || c == '_' || c == '.' || c == ' ';
}

/* Does the text end (at len) with suffix as whole trailing words? The
 * match must be preceded by a separator (a lone word is not stripped). */
static size_t suffix_match(const char *s, size_t len, const char *suf)
{
	size_t m = strlen(suf);
	if (!m || m >= len)
		return 0;
	if (!is_sep(s[len - m - 1]) || strncasecmp(s + len - m, suf, m))
		return 0;
	return m;
}

/* Is the whole of s[0..len) one configured suffix? */
static bool whole_suffix(const struct config_provisioning *p, const char *s, size_t len)
{
	for (size_t i = 0; i < p->env_suffixes.n; i++) {
		const char *suf = p->env_suffixes.v[i];
		if (strlen(suf) == len && !strncasecmp(s, suf, len))
			return true;
	}
	return false;
}

static size_t trim_seps(const char *s, size_t len)
{
	while (len && is_sep(s[len - 1]))
		len--;
	return len;
}

/* Slug of ASCII text: letters and digits lowercased, '_' kept, blanks and
 * -./\:,;| become '-', runs of '-' collapse, other characters are dropped,
 * no leading or trailing '-'. Caller frees; NULL on allocation failure. */
static char *slugify(const char *s)
{
	size_t n = strlen(s);
	char *o = malloc(n + 1), *q = o;
	if (!o)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (isalnum(c) || c == '_') {
			*q++ = (char)tolower(c);
		} else if (c == ' ' || c == '-' || c == '.' || c == '/' || c == '\\' || c == ':' || c == ',' ||
			   c == ';' || c == '|' || c == '\t') {
			if (q > o && q[-1] != '-')
				*q++ = '-';
		}
	}
	while (q > o && q[-1] == '-')
		q--;
	*q = '\0';
	return o;
}

/* Letters and digits of s, lowercased. Caller frees. */
static char *keyify(const char *s)
{
	size_t n = strlen(s);
	char *o = malloc(n + 1), *q = o;
	if (!o)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (isalnum((unsigned char)s[i]))
			*q++ = (char)tolower((unsigned char)s[i]);
	*q = '\0';
	return o;
}

static int push_str(char ***v, size_t *n, const char *s, size_t len)
{
	char **nv = realloc(*v, (*n + 1) * sizeof **v);
	if (!nv)
		return -1;
	*v = nv;
	if (!(nv[*n] = strndup(s, len)))
		return -1;
	(*n)++;
	return 0;
}

void policy_prov_name_clear(struct prov_name *n)
{
	if (!n)
		return;
	free(n->canonical);
	free(n->slug);
	free(n->key);
	for (size_t i = 0; i < n->nstripped; i++)
		free(n->stripped[i]);
	free(n->stripped);
	memset(n, 0, sizeof *n);
}

bool policy_prov_slug_ok(const struct config_provisioning *p, enum prov_kind kind, const char *slug)
{
	size_t n = slug ? strlen(slug) : 0;
	size_t max = kind == PROV_TEAM ? PROV_TEAM_SLUG_MAX : (size_t)(p->project_slug_max > 0 ? p->project_slug_max : 100);
	if (!n || n > max)
		return false;
	bool digits = true;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)slug[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return false;
		if (!(c >= '0' && c <= '9'))
			digits = false;
	}
	if (digits)
		return false;
	if (kind == PROV_PROJECT)
		for (size_t i = 0; sentry_reserved[i]; i++)
			if (!strcmp(slug, sentry_reserved[i]))
				return false;
	for (size_t i = 0; i < p->reserved_slugs.n; i++)
		if (!strcasecmp(slug, p->reserved_slugs.v[i]))
			return false;
	return true;
}

/*
 * The core of canonicalisation. strict: refuse what the rules refuse (a
 * requested name); lenient: never fail on content (an existing name: drop
 * what cannot be transliterated, keep a lone suffix word). Fills canonical
 * (and stripped when out_stripped). -1 with e (strict only), -2 memory.
 */
static int canon(const struct config_provisioning *p, enum prov_kind kind, const char *name, bool strict,
		 struct prov_name *out, struct err *e)
{
	const unsigned char *s = (const unsigned char *)(name ? name : "");
	size_t n = strlen((const char *)s);
	if (strict && n > PROV_INPUT_MAX)
		return err_set(e, PROV_BAD_TOO_LONG, "the name is %zu bytes long; names are at most %d characters", n,
			       kind == PROV_TEAM ? PROV_TEAM_NAME_MAX : PROV_PROJECT_NAME_MAX), -1;
	/* 1. to ASCII */
	char *a = malloc(4 * n + 1);
	size_t al = 0;
	if (!a)
		return -2;
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t l = utf8_decode(s + i, n - i, &cp);
		if (!l) {
			if (strict) {
				free(a);
				return err_set(e, PROV_BAD_ENCODING, "the name is not valid UTF-8 (byte %zu)", i + 1), -1;
			}
			i++;
			continue;
		}
		if (cp < 0x20 || cp == 0x7F) {
			if (strict) {
				free(a);
				return err_set(e, PROV_BAD_ENCODING, "the name contains a control character (byte %zu)",
					       i + 1), -1;
			}
		} else if (cp < 0x80) {
			a[al++] = (char)cp;
		} else {
			const char *t = translit_cp(cp);
			if (strict && p->non_ascii == CONFIG_NON_ASCII_REFUSE) {
				free(a);
				return err_set(e, PROV_BAD_NON_ASCII,
					       "the name contains the non-ASCII character \"%.*s\" (U+%04X); Sentry slugs "
					       "are ASCII and provisioning.non_ascii is refuse: use an ASCII name",
					       (int)l, (const char *)s + i, (unsigned)cp), -1;
			}
			if (!t && strict) {
				free(a);
				return err_set(e, PROV_BAD_NON_ASCII,
					       "the character \"%.*s\" (U+%04X) has no ASCII transliteration (only Latin "
					       "letters do): use an ASCII name",
					       (int)l, (const char *)s + i, (unsigned)cp), -1;
			}
			if (t) {
				size_t tl = strlen(t);
				memcpy(a + al, t, tl);
				al += tl;
				out->transliterated = true;
			}
		}
		i += l;
	}
	a[al] = '\0';
	/* 2. trim blanks */
	size_t b = 0;
	while (b < al && a[b] == ' ')
		b++;
	size_t len = al;
	while (len > b && a[len - 1] == ' ')
		len--;
	char *t = a + b;
	len -= b;
	if (!len) {
		free(a);
		if (strict)
			return err_set(e, PROV_BAD_EMPTY, "the name is empty"), -1;
		return (out->canonical = strdup("")) ? 0 : -2;
	}
	bool alnum = false;
	for (size_t i = 0; i < len; i++)
		if (isalnum((unsigned char)t[i]))
			alnum = true;
	if (!alnum && strict) {
		err_set(e, PROV_BAD_NO_ALNUM, "the name \"%.*s\" has no letters or digits", (int)(len > 80 ? 80 : len), t);
		free(a);
		return -1;
	}
	/* leading separators are not part of a name either */
	while (len && is_sep(*t)) {
		t++;
		len--;
	}
	/* 3. environment suffixes, as whole trailing words, repeatedly */
	if (kind == PROV_PROJECT) {
		for (;;) {
			len = trim_seps(t, len);
			size_t best = 0;
			for (size_t i = 0; i < p->env_suffixes.n; i++) {
				size_t m = suffix_match(t, len, p->env_suffixes.v[i]);
				if (m > best)
					best = m;
			}
			if (!best)
				break;
			/* never strip down to nothing but separators */
			if (!trim_seps(t, len - best))
				break;
			if (push_str(&out->stripped, &out->nstripped, t + len - best, best)) {
				free(a);
				return -2;
			}
			len -= best;
		}
		len = trim_seps(t, len);
		if (len && whole_suffix(p, t, len) && strict) {
			err_set(e, PROV_BAD_ONLY_SUFFIXES,
				"the name \"%.*s\" is only environment suffixes; name the application, not its "
				"environment",
				(int)(len > 80 ? 80 : len), t);
			free(a);
			return -1;
		}
	}
	out->canonical = strndup(t, len);
	free(a);
	return out->canonical ? 0 : -2;
}

int policy_prov_name(const struct config_provisioning *p, enum prov_kind kind, const char *name,
		     struct prov_name *out, struct err *e)
{
	memset(out, 0, sizeof *out);
	int r = canon(p, kind, name, true, out, e);
	if (r)
		goto fail;
	const char *what = kind == PROV_TEAM ? "team" : "project";
	size_t name_max = kind == PROV_TEAM ? PROV_TEAM_NAME_MAX : PROV_PROJECT_NAME_MAX;
	size_t cl = strlen(out->canonical);
	if (cl > name_max) {
		err_set(e, PROV_BAD_TOO_LONG, "the %s name is %zu characters long; Sentry allows at most %zu", what, cl,
			name_max);
		r = -1;
		goto fail;
	}
	if (!(out->slug = slugify(out->canonical)) || !(out->key = keyify(out->canonical))) {
		r = -2;
		goto fail;
	}
	size_t sl = strlen(out->slug);
	size_t slug_max = kind == PROV_TEAM ? PROV_TEAM_SLUG_MAX : (size_t)p->project_slug_max;
	if (!sl) {
		err_set(e, PROV_BAD_NO_ALNUM, "the name \"%s\" gives an empty slug", out->canonical);
		r = -1;
	} else if (strspn(out->slug, "0123456789") == sl) {
		err_set(e, PROV_BAD_ALL_DIGITS,
			"the slug \"%s\" would be all digits, which Sentry refuses (it reads numbers as ids)",
			out->slug);
		r = -1;
	} else if (sl > slug_max) {
		err_set(e, PROV_BAD_TOO_LONG, "the %s slug \"%.60s...\" is %zu characters long; the maximum is %zu", what,
			out->slug, sl, slug_max);
		r = -1;
	} else if (!policy_prov_slug_ok(p, kind, out->slug)) {
		err_set(e, PROV_BAD_RESERVED, "the slug \"%s\" is reserved", out->slug);
		r = -1;
	}
	if (!r)
		return 0;
fail:
	if (r == -2)
		err_set(e, 0, "out of memory");
	policy_prov_name_clear(out);
	return r;
}

/* ---- distance ------------------------------------------------------------ */

/* OSA distance of a[0..n) and b[0..m), case-insensitive; -1 above limit. */
static int osa(const char *a, size_t n, const char *b, size_t m, int limit)
{
	if (limit < 0)
		return -1;
	if ((n > m ? n - m : m - n) > (size_t)limit)
		return -1;
	/* three rows of the matrix (i-2, i-1, i); names are short, so on the stack */
	int stack[3 * 128], *heap = NULL, *pp, *pr, *cu;
	if (m + 1 <= 128) {
		pp = stack;
	} else {
		if (!(heap = malloc(3 * (m + 1) * sizeof *heap)))
			return -1;
		pp = heap;
	}
	pr = pp + (m + 1);
	cu = pr + (m + 1);
	int d = -1;
	for (size_t j = 0; j <= m; j++)
		pr[j] = (int)j;
	for (size_t i = 1; i <= n; i++) {
		cu[0] = (int)i;
		int rowmin = cu[0];
		int ai = tolower((unsigned char)a[i - 1]);
		for (size_t j = 1; j <= m; j++) {
			int bj = tolower((unsigned char)b[j - 1]);
			int v = pr[j] + 1;
			if (cu[j - 1] + 1 < v)
				v = cu[j - 1] + 1;
			if (pr[j - 1] + (ai != bj) < v)
				v = pr[j - 1] + (ai != bj);
			if (i > 1 && j > 1 && ai == tolower((unsigned char)b[j - 2]) &&
			    tolower((unsigned char)a[i - 2]) == bj && pp[j - 2] + 1 < v)
				v = pp[j - 2] + 1;
			cu[j] = v;
			if (v < rowmin)
				rowmin = v;
		}
		int *tmp = pp;
		pp = pr;
		pr = cu;
		cu = tmp;
		if (rowmin > limit)
			goto out;
	}
	d = pr[m] <= limit ? pr[m] : -1;
out:
	free(heap);
	return d;
}

int policy_prov_distance(const char *a, const char *b, int limit)
{
	return osa(a, strlen(a), b, strlen(b), limit);
}

/* The words of s (runs of letters and digits): up to max of them; returns
 * how many there are (more than max: max + 1). */
#define PROV_WORDS_MAX 32
static size_t words_of(const char *s, const char **w, size_t *wl, size_t max)
{
	size_t n = 0;
	while (*s) {
		while (*s && !isalnum((unsigned char)*s))
			s++;
		if (!*s)
			break;
		const char *st = s;
		while (*s && isalnum((unsigned char)*s))
			s++;
		if (n == max)
			return max + 1;
		w[n] = st;
		wl[n++] = (size_t)(s - st);
	}
	return n;
}

/* Do a and b differ only in their digits (the same letters in order)? */
static bool digits_only_diff(const char *a, size_t n, const char *b, size_t m)
{
	size_t i = 0, j = 0;
	for (;;) {
		while (i < n && isdigit((unsigned char)a[i]))
			i++;
		while (j < m && isdigit((unsigned char)b[j]))
			j++;
		if (i == n || j == m)
			return i == n && j == m;
		if (tolower((unsigned char)a[i]) != tolower((unsigned char)b[j]))
			return false;
		i++;
		j++;
	}
}

/*
 * The near-duplicate distance of two names (canonical text and key), or -1
 * when they are not near-duplicates (docs/provisioning.md, "Duplicates"):
 *  - names with the same number of words are compared word by word: each
 *    differing pair must be within floor(longer word / PROV_NEAR_DIV) edits
 *    (so "api"/"ui" or "api"/"app" never count) and must not differ only in
 *    digits ("v1"/"v2", "shard1"/"shard2" are different things); the sum
 *    is at most near_duplicate_distance;
 *  - otherwise the keys are compared whole, within
 *    min(near_duplicate_distance, floor(longer key / PROV_NEAR_DIV)), with
 *    the same digit rule.
 */
static int near_distance(const struct config_provisioning *p, const char *ca, const char *ka, const char *cb,
			 const char *kb)
{
	int cfg = p->near_duplicate_distance;
	if (cfg <= 0 || !ca || !cb || !ka || !kb)
		return -1;
	const char *wa[PROV_WORDS_MAX], *wb[PROV_WORDS_MAX];
	size_t la[PROV_WORDS_MAX], lb[PROV_WORDS_MAX];
	size_t na = words_of(ca, wa, la, PROV_WORDS_MAX), nb = words_of(cb, wb, lb, PROV_WORDS_MAX);
	if (na == nb && na > 0 && na <= PROV_WORDS_MAX) {
		int total = 0;
		for (size_t i = 0; i < na; i++) {
			if (la[i] == lb[i] && !strncasecmp(wa[i], wb[i], la[i]))
				continue;
			if (digits_only_diff(wa[i], la[i], wb[i], lb[i]))
				return -1;
			size_t l = la[i] > lb[i] ? la[i] : lb[i];
			int lim = (int)(l / PROV_NEAR_DIV);
			if (lim > cfg - total)
				lim = cfg - total;
			int d = lim > 0 ? osa(wa[i], la[i], wb[i], lb[i], lim) : -1;
			if (d < 0)
				return -1;
			total += d;
		}
		return total > 0 ? total : -1;
	}
	size_t lka = strlen(ka), lkb = strlen(kb), l = lka > lkb ? lka : lkb;
	if (digits_only_diff(ka, lka, kb, lkb))
		return -1;
	int lim = (int)(l / PROV_NEAR_DIV);
	if (lim > cfg)
		lim = cfg;
	int d = lim > 0 ? osa(ka, lka, kb, lkb, lim) : -1;
	return d > 0 ? d : -1;
}

/* ---- duplicates ---------------------------------------------------------- */

static const char *const reason_names[] = {"same_slug", "same_canonical_name", "same_name_but_separators",
					   "edit_distance"};

const char *policy_prov_reason_name(enum prov_reason r)
{
	return (unsigned)r < 4 ? reason_names[r] : "unknown";
}

/* The lenient canonical form of an existing name or slug: canonical text,
 * its slug and its key. All three NULL for an absent text. -1 on memory. */
struct lenient {
	char *canonical, *slug, *key;
	bool stripped;
};

static void lenient_clear(struct lenient *l)
{
	free(l->canonical);
	free(l->slug);
	free(l->key);
	memset(l, 0, sizeof *l);
}

static int lenient_of(const struct config_provisioning *p, enum prov_kind kind, const char *text, struct lenient *l)
{
	memset(l, 0, sizeof *l);
	if (!text || !*text)
		return 0;
	struct prov_name n = {0};
	if (canon(p, kind, text, false, &n, NULL)) {
		policy_prov_name_clear(&n);
		return -1;
	}
	l->canonical = n.canonical;
	n.canonical = NULL;
	l->stripped = n.nstripped > 0;
	policy_prov_name_clear(&n);
	if (!(l->slug = slugify(l->canonical)) || !(l->key = keyify(l->canonical))) {
		lenient_clear(l);
		return -1;
	}
	return 0;
}

void policy_prov_conflicts_free(struct prov_conflict *v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i].why);
	free(v);
}

static int conflict_cmp(const void *x, const void *y)
{
	const struct prov_conflict *a = x, *b = y;
	if (a->reason != b->reason)
		return a->reason < b->reason ? -1 : 1;
	if (a->distance != b->distance)
		return a->distance < b->distance ? -1 : 1;
	return a->index < b->index ? -1 : a->index > b->index;
}

int policy_prov_conflicts(const struct config_provisioning *p, enum prov_kind kind, const struct prov_name *name,
			  const struct prov_existing *existing, size_t n, struct prov_conflict **out, size_t *nout)
{
	struct prov_conflict *v = NULL;
	size_t nv = 0;
	const char *what = kind == PROV_TEAM ? "team" : "project";
	*out = NULL;
	*nout = 0;
	for (size_t i = 0; i < n; i++) {
		const struct prov_existing *x = &existing[i];
		if (!x->slug)
			continue;
		struct lenient ls, ln;
		if (lenient_of(p, kind, x->slug, &ls))
			goto nomem;
		if (lenient_of(p, kind, x->name, &ln)) {
			lenient_clear(&ls);
			goto nomem;
		}
		int reason = -1, dist = 0;
		char *why = NULL;
		const char *xname = x->name ? x->name : x->slug;
		if (!strcmp(x->slug, name->slug)) {
			reason = PROV_SAME_SLUG;
			why = buf_strdupf("the %s \"%s\" already has the slug \"%s\"", what, xname, x->slug);
		} else if ((ln.canonical && !strcasecmp(ln.canonical, name->canonical)) ||
			   (ls.slug && !strcmp(ls.slug, name->slug)) || (ln.slug && !strcmp(ln.slug, name->slug))) {
			reason = PROV_SAME_CANONICAL;
			bool env = ls.stripped || ln.stripped || name->nstripped;
			why = env ? buf_strdupf("the %s \"%s\" (%s) is the same application once environment suffixes are "
					    "stripped (\"%s\"): one project per application, whatever its environments",
					    what, xname, x->slug, name->canonical)
				  : buf_strdupf("the %s \"%s\" (%s) has the same name", what, xname, x->slug);
		} else if ((ls.key && *ls.key && !strcmp(ls.key, name->key)) ||
			   (ln.key && *ln.key && !strcmp(ln.key, name->key))) {
			reason = PROV_SAME_SEPARATORS;
			why = buf_strdupf("the %s \"%s\" (%s) has the same name but for separators or case", what, xname,
				      x->slug);
		} else if (p->near_duplicate_distance > 0) {
			const struct lenient *forms[2] = {&ls, &ln};
			int best = -1;
			for (int k = 0; k < 2; k++) {
				int d = near_distance(p, forms[k]->canonical, forms[k]->key, name->canonical, name->key);
				if (d > 0 && (best < 0 || d < best))
					best = d;
			}
			if (best > 0) {
				reason = PROV_EDIT_DISTANCE;
				dist = best;
				why = buf_strdupf("the %s \"%s\" (%s) has a name only %d edit%s away from \"%s\": a "
					      "near-duplicate",
					      what, xname, x->slug, best, best == 1 ? "" : "s", name->canonical);
			}
		}
		lenient_clear(&ls);
		lenient_clear(&ln);
		if (reason < 0)
			continue;
		struct prov_conflict *nvv = why ? realloc(v, (nv + 1) * sizeof *v) : NULL;
		if (!nvv) {
			free(why);
			goto nomem;
		}
		v = nvv;
		v[nv++] = (struct prov_conflict){.index = i, .reason = (enum prov_reason)reason, .distance = dist, .why = why};
	}
	if (nv > 1)
		qsort(v, nv, sizeof *v, conflict_cmp);
	*out = v;
	*nout = nv;
	return 0;
nomem:
	policy_prov_conflicts_free(v, nv);
	return -1;
}

/* ---- who may ------------------------------------------------------------- */

bool policy_prov_may(const struct config_strlist *configured, bool empty_means_all, bool is_admin,
		     const char *const *groups, size_t ngroups)
{
	if (is_admin)
		return true;
	if (!configured || !configured->n)
		return empty_means_all;
	for (size_t i = 0; i < ngroups; i++)
		for (size_t j = 0; j < configured->n; j++)
			if (groups[i] && !strcmp(groups[i], configured->v[j]))
				return true;
	return false;
}

/* ---- the team of a new project ------------------------------------------- */

void policy_prov_team_clear(struct prov_team_decision *d)
{
	if (!d)
		return;
	free(d->slug);
	free(d->name);
	free(d->note);
	memset(d, 0, sizeof *d);
}

/* The team whose slug is key, or whose slug is slug, or whose name is key
 * (case-insensitively). */
static const struct prov_existing *team_find(const struct prov_existing *teams, size_t n, const char *key,
					     const char *slug)
{
	for (size_t i = 0; i < n; i++)
		if (teams[i].slug && !strcmp(teams[i].slug, key))
			return &teams[i];
	for (size_t i = 0; slug && i < n; i++)
		if (teams[i].slug && !strcmp(teams[i].slug, slug))
			return &teams[i];
	for (size_t i = 0; i < n; i++)
		if (teams[i].name && !strcasecmp(teams[i].name, key))
			return &teams[i];
	return NULL;
}

static int team_set(struct prov_team_decision *out, enum prov_team_source src, const char *slug, const char *name,
		    char *note)
{
	out->source = src;
	out->slug = strdup(slug);
	out->name = strdup(name ? name : slug);
	out->note = note;
	if (!out->slug || !out->name || !out->note) {
		policy_prov_team_clear(out);
		return -2;
	}
	return 0;
}

int policy_prov_team(const struct config_provisioning *p, const char *requested, const struct prov_existing *teams,
		     size_t nteams, bool may_create, struct prov_team_decision *out, struct err *e)
{
	memset(out, 0, sizeof *out);
	char *fallback_why = NULL;
	int rc;
	if (requested) {
		while (*requested == ' ')
			requested++;
	}
	if (requested && *requested) {
		struct prov_name tn = {0};
		struct err te = {0};
		int r = policy_prov_name(p, PROV_TEAM, requested, &tn, &te);
		if (r == -2)
			return err_set(e, 0, "out of memory"), -2;
		const struct prov_existing *t = team_find(teams, nteams, requested, r ? NULL : tn.slug);
		if (t) {
			policy_prov_name_clear(&tn);
			return team_set(out, PROV_TEAM_NAMED, t->slug, t->name,
					buf_strdupf("the requested team \"%s\" exists", t->slug));
		}
		if (p->allow_team_creation && may_create) {
			if (r) {
				err_set(e, te.code, "the team \"%.*s\" does not exist and cannot be created: %s",
					utf8_prec(requested, 80), requested,
					te.msg);
				return -1;
			}
			rc = team_set(out, PROV_TEAM_CREATE, tn.slug, tn.canonical,
				      buf_strdupf("the team \"%s\" does not exist; it is created for this project", tn.slug));
			policy_prov_name_clear(&tn);
			return rc;
		}
		policy_prov_name_clear(&tn);
		fallback_why = buf_strdupf("the team \"%.*s\" does not exist and %s", utf8_prec(requested, 80), requested,
				       !p->allow_team_creation ? "provisioning.allow_team_creation is off"
							       : "the requester may not create teams");
		if (!fallback_why)
			return err_set(e, 0, "out of memory"), -2;
	}
	if (!p->default_team || !*p->default_team) {
		err_set(e, 0, "%s%sprovisioning.default_team is not set, so the project has no team",
			fallback_why ? fallback_why : "the request names no team", "; ");
		free(fallback_why);
		return -1;
	}
	const struct prov_existing *d = team_find(teams, nteams, p->default_team, NULL);
	if (!d) {
		err_set(e, 0, "%s%sthe default team \"%s\" (provisioning.default_team) does not exist in Sentry",
			fallback_why ? fallback_why : "the request names no team", "; ", p->default_team);
		free(fallback_why);
		return -1;
	}
	char *note = fallback_why ? buf_strdupf("%s: the project goes to the default team \"%s\"", fallback_why, d->slug)
				  : buf_strdupf("the request names no team: the project goes to the default team \"%s\"",
					    d->slug);
	free(fallback_why);
	rc = team_set(out, PROV_TEAM_DEFAULT, d->slug, d->name, note);
	if (rc)
		err_set(e, 0, "out of memory");
	return rc;
}

/* ---- lint ---------------------------------------------------------------- */

static const char *const violation_names[] = {"env_split", "env_suffix", "no_team", "near_duplicate"};

const char *policy_prov_violation_name(enum prov_violation_kind k)
{
	return (unsigned)k < 4 ? violation_names[k] : "unknown";
}

void policy_prov_lint_free(struct prov_lint *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].projects);
		free(l->v[i].application);
		free(l->v[i].detail);
	}
	free(l->v);
	memset(l, 0, sizeof *l);
}

struct lint_item {
	size_t index;
	struct lenient c; /* of the slug, or of the name when the slug gives nothing */
	bool stripped;    /* an env suffix was stripped from the slug or the name */
};

static int lint_item_cmp(const void *x, const void *y)
{
	const struct lint_item *a = x, *b = y;
	int c = strcmp(a->c.key, b->c.key);
	return c ? c : (a->index < b->index ? -1 : a->index > b->index);
}

struct len_ref {
	size_t pos, len;
};

static int len_ref_cmp(const void *x, const void *y)
{
	const struct len_ref *a = x, *b = y;
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	return a->pos < b->pos ? -1 : a->pos > b->pos;
}

static int violation_cmp(const void *x, const void *y, void *ctx)
{
	const struct prov_violation *a = x, *b = y;
	const struct prov_existing *projects = ctx;
	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	for (size_t i = 0; i < a->nprojects && i < b->nprojects; i++) {
		int c = strcmp(projects[a->projects[i]].slug, projects[b->projects[i]].slug);
		if (c)
			return c;
	}
	return a->nprojects < b->nprojects ? -1 : a->nprojects > b->nprojects;
}

/* Append a violation (takes detail and application; copies the indexes). */
static int add_violation(struct prov_lint *l, enum prov_violation_kind k, const size_t *idx, size_t n, char *app,
			 char *detail)
{
	struct prov_violation *nv = detail ? realloc(l->v, (l->n + 1) * sizeof *nv) : NULL;
	size_t *ids = n ? malloc(n * sizeof *ids) : NULL;
	if (!nv || (n && !ids)) {
		if (nv)
			l->v = nv;
		free(ids);
		free(app);
		free(detail);
		return -1;
	}
	l->v = nv;
	if (n)
		memcpy(ids, idx, n * sizeof *ids);
	l->v[l->n++] = (struct prov_violation){.kind = k, .projects = ids, .nprojects = n, .application = app,
					       .detail = detail};
	return 0;
}

/* "a, b and c" of the slugs of items [from, to). */
static char *slug_list(const struct prov_existing *projects, const struct lint_item *it, size_t from, size_t to)
{
	size_t len = 1;
	for (size_t i = from; i < to; i++)
		len += strlen(projects[it[i].index].slug) + 8;
	char *s = malloc(len), *q = s;
	if (!s)
		return NULL;
	*q = '\0';
	for (size_t i = from; i < to; i++) {
		const char *sep = i == from ? "" : i + 1 == to ? " and " : ", ";
		q += sprintf(q, "%s\"%s\"", sep, projects[it[i].index].slug);
	}
	return s;
}

int policy_prov_lint(const struct config_provisioning *p, const struct prov_existing *projects, size_t n,
		     struct prov_lint *out)
{
	memset(out, 0, sizeof *out);
	struct lint_item *it = n ? calloc(n, sizeof *it) : NULL;
	size_t *idx = n ? malloc(n * sizeof *idx) : NULL;
	size_t ni = 0;
	int rc = -1;
	if (n && (!it || !idx))
		goto out;
	for (size_t i = 0; i < n; i++) {
		const struct prov_existing *x = &projects[i];
		if (!x->slug || !*x->slug) /* Sentry has none; nothing to compare */
			continue;
		if (!x->nteams) {
			idx[0] = i;
			if (add_violation(out, PROV_V_NO_TEAM, idx, 1, NULL,
					  buf_strdupf("the project \"%s\" has no team: every project needs an owner team",
						  x->slug)))
				goto out;
		}
		struct lint_item *li = &it[ni];
		li->index = i;
		struct lenient ln;
		if (lenient_of(p, PROV_PROJECT, x->slug, &li->c) || lenient_of(p, PROV_PROJECT, x->name, &ln)) {
			lenient_clear(&li->c);
			goto out;
		}
		li->stripped = li->c.stripped || ln.stripped;
		lenient_clear(&ln);
		if (!li->c.key) {
			li->c.key = strdup("");
			if (!li->c.key)
				goto out;
		}
		ni++;
	}
	if (ni > 1)
		qsort(it, ni, sizeof *it, lint_item_cmp);
	/* groups of the same key: the same application */
	for (size_t a = 0; a < ni;) {
		size_t b = a + 1;
		while (b < ni && !strcmp(it[a].c.key, it[b].c.key))
			b++;
		bool env = false;
		for (size_t k = a; k < b; k++)
			env |= it[k].stripped;
		for (size_t k = a; k < b; k++)
			idx[k - a] = it[k].index;
		if (b - a > 1) {
			char *list = slug_list(projects, it, a, b);
			if (!list)
				goto out;
			int r = env ? add_violation(out, PROV_V_ENV_SPLIT, idx, b - a, strdup(it[a].c.canonical),
						    buf_strdupf("%s are one application (\"%s\") split by environment: keep one "
							    "project and tell environments apart with Sentry's "
							    "environment tag",
							    list, it[a].c.canonical))
				    : add_violation(out, PROV_V_NEAR_DUPLICATE, idx, b - a, NULL,
						    buf_strdupf("%s have the same name but for separators or case", list));
			free(list);
			if (r)
				goto out;
		} else if (env) {
			const char *slug = projects[it[a].index].slug;
			if (add_violation(out, PROV_V_ENV_SUFFIX, idx, 1, strdup(it[a].c.canonical),
					  buf_strdupf("the project \"%s\" is named after an environment: the application is "
						  "\"%s\"",
						  slug, it[a].c.canonical)))
				goto out;
		}
		a = b;
	}
	/* typos between groups: the first item of each group, by key length,
	 * so only names whose keys are close in length are compared */
	if (p->near_duplicate_distance > 0 && ni > 1) {
		size_t nr = 0;
		for (size_t a = 0; a < ni; a++)
			if (!a || strcmp(it[a].c.key, it[a - 1].c.key))
				idx[nr++] = a; /* idx now holds positions in it[] */
		struct len_ref *lr = malloc(nr * sizeof *lr);
		if (!lr)
			goto out;
		for (size_t k = 0; k < nr; k++)
			lr[k] = (struct len_ref){.pos = idx[k], .len = strlen(it[idx[k]].c.key)};
		qsort(lr, nr, sizeof *lr, len_ref_cmp);
		for (size_t x = 0; x < nr; x++) {
			const struct lint_item *ia = &it[lr[x].pos];
			for (size_t y = x + 1; y < nr && lr[y].len - lr[x].len <= (size_t)p->near_duplicate_distance;
			     y++) {
				const struct lint_item *ib = &it[lr[y].pos];
				int d = near_distance(p, ia->c.canonical, ia->c.key, ib->c.canonical, ib->c.key);
				if (d <= 0)
					continue;
				size_t pair[2] = {ia->index, ib->index};
				if (strcmp(projects[pair[0]].slug, projects[pair[1]].slug) > 0) {
					pair[0] = ib->index;
					pair[1] = ia->index;
				}
				if (add_violation(out, PROV_V_NEAR_DUPLICATE, pair, 2, NULL,
						  buf_strdupf("\"%s\" and \"%s\" are near-duplicates (%d edit%s apart)",
							  projects[pair[0]].slug, projects[pair[1]].slug, d,
							  d == 1 ? "" : "s"))) {
					free(lr);
					goto out;
				}
			}
		}
		free(lr);
	}
	/* by kind, then by the first project's slug */
	if (out->n > 1)
		qsort_r(out->v, out->n, sizeof *out->v, violation_cmp, (void *)projects);
	rc = 0;
out:
	for (size_t i = 0; i < ni; i++)
		lenient_clear(&it[i].c);
	free(it);
	free(idx);
	if (rc)
		policy_prov_lint_free(out);
	return rc;
}
