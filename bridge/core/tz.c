/*
 * tz.c: TZif (RFC 8536) reader and POSIX TZ rules; see tz.h.
 */
#include "tz.h"

#include <ctype.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TZ_MAX_FILE (512 * 1024)
#define TZ_MAX_NAME 255
#define TZ_MAX_ZONES 256

struct zone {
	char *name;
	bool ok;            /* false: unknown zone (cached so we do not retry the file) */
	int64_t *times;     /* transition instants, ascending */
	unsigned char *idx; /* type of each transition */
	size_t ntimes;
	int *utoff;         /* offset of each type */
	unsigned char *isdst;
	size_t ntypes;
	char *footer;       /* POSIX TZ rule after the last transition; NULL = none */
};

static pthread_mutex_t zones_mu = PTHREAD_MUTEX_INITIALIZER;
static struct zone zones[TZ_MAX_ZONES];
static size_t nzones;

/* ---- POSIX TZ rules ---- */

static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int year_of_days(int64_t z)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int m = (int)(mp < 10 ? mp + 3 : mp - 9);
	return (int)(yoe + era * 400 + (m <= 2));
}

static bool is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
	static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	return m == 2 && is_leap(y) ? 29 : dm[m - 1];
}

static const char *parse_name(const char *p)
{
	if (*p == '<') {
		while (*p && *p != '>')
			p++;
		return *p ? p + 1 : NULL;
	}
	const char *s = p;
	while (isalpha((unsigned char)*p))
		p++;
	return p - s >= 3 ? p : NULL;
}

/* [+-]hh[:mm[:ss]] into seconds. */
static const char *parse_hms(const char *p, int *sec)
{
	int sign = 1;
	if (*p == '+' || *p == '-')
		sign = *p++ == '-' ? -1 : 1;
	if (!isdigit((unsigned char)*p))
		return NULL;
	int h = 0, m = 0, s = 0;
	while (isdigit((unsigned char)*p) && h < 200)
		h = h * 10 + (*p++ - '0');
	if (*p == ':') {
		p++;
		if (!isdigit((unsigned char)*p))
			return NULL;
		while (isdigit((unsigned char)*p) && m < 60)
			m = m * 10 + (*p++ - '0');
		if (*p == ':') {
			p++;
			if (!isdigit((unsigned char)*p))
				return NULL;
			while (isdigit((unsigned char)*p) && s < 60)
				s = s * 10 + (*p++ - '0');
		}
	}
	*sec = sign * (h * 3600 + m * 60 + s);
	return p;
}

struct posix_date {
	char kind; /* 'M', 'J' or 'n' */
	int m, w, d, n;
	int time; /* seconds after local midnight */
};

static const char *parse_num(const char *p, int *v)
{
	if (!isdigit((unsigned char)*p))
		return NULL;
	int x = 0;
	while (isdigit((unsigned char)*p) && x < 10000)
		x = x * 10 + (*p++ - '0');
	*v = x;
	return p;
}

static const char *parse_date(const char *p, struct posix_date *d)
{
	memset(d, 0, sizeof *d);
	if (*p == 'M') {
		d->kind = 'M';
		if (!(p = parse_num(p + 1, &d->m)) || *p++ != '.' || !(p = parse_num(p, &d->w)) || *p++ != '.' ||
		    !(p = parse_num(p, &d->d)))
			return NULL;
		if (d->m < 1 || d->m > 12 || d->w < 1 || d->w > 5 || d->d > 6)
			return NULL;
	} else if (*p == 'J') {
		d->kind = 'J';
		if (!(p = parse_num(p + 1, &d->n)) || d->n < 1 || d->n > 365)
			return NULL;
	} else {
		d->kind = 'n';
		if (!(p = parse_num(p, &d->n)) || d->n > 365)
			return NULL;
	}
	d->time = 2 * 3600;
	if (*p == '/' && !(p = parse_hms(p + 1, &d->time)))
		return NULL;
	return p;
}

/* Local seconds since the epoch (of the year y) at which the rule date falls. */
static int64_t date_local(int64_t y, const struct posix_date *d)
{
	int64_t day;
	if (d->kind == 'M') {
		int64_t first = days_from_civil(y, d->m, 1);
		int wd1 = (int)(((first % 7) + 7 + 4) % 7); /* 1970-01-01 was a Thursday */
		int dom = 1 + (d->d - wd1 + 7) % 7 + (d->w - 1) * 7;
		while (dom > days_in_month(y, d->m))
			dom -= 7;
		day = first + dom - 1;
	} else if (d->kind == 'J') {
		/* Julian day 1..365, February 29 never counted. */
		int n = d->n;
		day = days_from_civil(y, 1, 1) + n - 1 + (is_leap(y) && n >= 60);
	} else {
		day = days_from_civil(y, 1, 1) + d->n;
	}
	return day * 86400 + d->time;
}

int tz_posix_offset(const char *rule, int64_t t, int *offset_sec)
{
	if (!rule)
		return -1;
	const char *p = parse_name(rule);
	int std, dst;
	if (!p || !(p = parse_hms(p, &std)))
		return -1;
	std = -std; /* POSIX: positive west of Greenwich */
	if (!*p) {
		*offset_sec = std;
		return 0;
	}
	if (!(p = parse_name(p)))
		return -1;
	dst = std + 3600;
	if (*p && *p != ',') {
		if (!(p = parse_hms(p, &dst)))
			return -1;
		dst = -dst;
	}
	struct posix_date a, b;
	if (*p != ',') /* no rule: the US default is obsolete; refuse */
		return -1;
	if (!(p = parse_date(p + 1, &a)) || *p != ',' || !(p = parse_date(p + 1, &b)) || *p)
		return -1;
	int64_t y = year_of_days((t + std) >= 0 ? (t + std) / 86400 : -((-(t + std) + 86399) / 86400));
	/* The start is given in standard time, the end in daylight time. */
	int64_t start = date_local(y, &a) - std, end = date_local(y, &b) - dst;
	bool in_dst = start < end ? (t >= start && t < end) : !(t >= end && t < start);
	*offset_sec = in_dst ? dst : std;
	return 0;
}

/* ---- TZif ---- */

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

static void zone_clear(struct zone *z)
{
	free(z->times);
	free(z->idx);
	free(z->utoff);
	free(z->isdst);
	free(z->footer);
	z->times = NULL;
	z->idx = NULL;
	z->utoff = NULL;
	z->isdst = NULL;
	z->footer = NULL;
}

/* Parse the file bytes into z. 0 or -1. */
static int parse_tzif(const unsigned char *b, size_t n, struct zone *z)
{
	if (n < 44 || memcmp(b, "TZif", 4))
		return -1;
	int version = b[4] ? b[4] - '0' : 1;
	size_t off = 0;
	int tsize = 4;
	for (int pass = 0; pass < 2; pass++) {
		if (off + 44 > n || memcmp(b + off, "TZif", 4))
			return -1;
		const unsigned char *h = b + off + 20;
		size_t isutcnt = be32(h), isstdcnt = be32(h + 4), leapcnt = be32(h + 8), timecnt = be32(h + 12),
		       typecnt = be32(h + 16), charcnt = be32(h + 20);
		if (timecnt > 100000 || typecnt == 0 || typecnt > 256 || charcnt > 100000 || leapcnt > 100000 ||
		    isutcnt > 256 || isstdcnt > 256)
			return -1;
		size_t len = timecnt * (size_t)tsize + timecnt + typecnt * 6 + charcnt +
			     leapcnt * (size_t)(tsize + 4) + isstdcnt + isutcnt;
		off += 44;
		if (off + len > n)
			return -1;
		if (pass == 1 || version < 2) {
			const unsigned char *d = b + off;
			z->times = calloc(timecnt ? timecnt : 1, sizeof *z->times);
			z->idx = calloc(timecnt ? timecnt : 1, 1);
			z->utoff = calloc(typecnt, sizeof *z->utoff);
			z->isdst = calloc(typecnt, 1);
			if (!z->times || !z->idx || !z->utoff || !z->isdst)
				return -1;
			for (size_t i = 0; i < timecnt; i++)
				z->times[i] = tsize == 8 ? be64(d + i * 8) : (int64_t)(int32_t)be32(d + i * 4);
			d += timecnt * (size_t)tsize;
			for (size_t i = 0; i < timecnt; i++) {
				if (d[i] >= typecnt)
					return -1;
				z->idx[i] = d[i];
			}
			d += timecnt;
			for (size_t i = 0; i < typecnt; i++) {
				z->utoff[i] = (int)(int32_t)be32(d + i * 6);
				z->isdst[i] = d[i * 6 + 4];
			}
			z->ntimes = timecnt;
			z->ntypes = typecnt;
			off += len;
			if (pass == 1 && off < n && b[off] == '\n') {
				const unsigned char *e = memchr(b + off + 1, '\n', n - off - 1);
				if (e && e > b + off + 1)
					z->footer = strndup((const char *)b + off + 1, (size_t)(e - (b + off + 1)));
			}
			return 0;
		}
		off += len;
		tsize = 8;
	}
	return -1;
}

static int load_zone(const char *name, struct zone *z)
{
	const char *path_override = !strcmp(name, "Local") ? "/etc/localtime" : NULL;
	if (!*name || strlen(name) > TZ_MAX_NAME || name[0] == '/' || strstr(name, ".."))
		return -1;
	for (const char *p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("/_+-", *p))
			return -1;
	const char *dir = getenv("TZDIR");
	if (!dir || !*dir)
		dir = "/usr/share/zoneinfo";
	size_t plen = strlen(dir) + strlen(name) + 32;
	char *path = malloc(plen);
	if (!path)
		return -1;
	snprintf(path, plen, "%s/%s", dir, name);
	if (path_override)
		snprintf(path, plen, "%s", path_override);
	FILE *f = fopen(path, "rb");
	free(path);
	if (!f)
		return -1;
	unsigned char *data = malloc(TZ_MAX_FILE);
	size_t n = data ? fread(data, 1, TZ_MAX_FILE, f) : 0;
	fclose(f);
	int rc = data && n < TZ_MAX_FILE ? parse_tzif(data, n, z) : -1;
	free(data);
	if (rc)
		zone_clear(z);
	return rc;
}

static int zone_offset(const struct zone *z, int64_t t, int *off)
{
	if (!z->ntimes || t < z->times[0]) {
		/* Before the first transition: the first standard-time type. */
		size_t i = 0;
		while (i < z->ntypes && z->isdst[i])
			i++;
		*off = z->utoff[i < z->ntypes ? i : 0];
		if (!z->ntimes && z->footer)
			(void)tz_posix_offset(z->footer, t, off); /* keeps *off when not understood */
		return 0;
	}
	if (t >= z->times[z->ntimes - 1] && z->footer && !tz_posix_offset(z->footer, t, off))
		return 0;
	size_t lo = 0, hi = z->ntimes; /* last transition <= t */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (z->times[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	*off = z->utoff[z->idx[lo]];
	return 0;
}

int tz_offset(const char *name, int64_t t, int *offset_sec)
{
	if (!name)
		return -1;
	if (!strcmp(name, "UTC") || !strcmp(name, "Etc/UTC") || !strcmp(name, "GMT")) {
		*offset_sec = 0;
		return 0;
	}
	pthread_mutex_lock(&zones_mu);
	struct zone *z = NULL;
	for (size_t i = 0; i < nzones && !z; i++)
		if (!strcmp(zones[i].name, name))
			z = &zones[i];
	struct zone tmp = {0};
	if (!z) {
		tmp.ok = !load_zone(name, &tmp);
		if (nzones < TZ_MAX_ZONES && (tmp.name = strdup(name))) {
			zones[nzones] = tmp;
			z = &zones[nzones++];
		} else {
			z = &tmp;
		}
	}
	int rc = z->ok ? zone_offset(z, t, offset_sec) : -1;
	if (z == &tmp)
		zone_clear(&tmp);
	pthread_mutex_unlock(&zones_mu);
	return rc;
}
