/*
 * sim_seed.c: the simulator's built-in states.
 *
 *  - sim_seed_demo(): the fixed "acme" demo organisation the README's first
 *    command shows (access groups, team groups, a suspended and a
 *    deprovisioned user, and a Sentry org with deliberate drift);
 *  - sim_seed_generate(): a deterministic org of N users and M team groups
 *    (own splitmix64 stream: the same seed gives the same state), with
 *    Zipf-like group sizes and a Sentry org holding a plausible, slightly
 *    drifted subset of the users.
 *
 * Both build the state through the sim_state primitives; everything is
 * dated around SIM_SEED_EPOCH_MS so runs are reproducible.
 */
#include "sim.h"

#include "sim_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS INT64_C(86400000)

/* Access groups every seeded org has (the bridge's example config maps them). */
#define GROUP_MEMBERS "okta-sentry-member-users"
#define GROUP_ADMINS "okta-sentry-admin-users"
#define OWNER_EMAIL_LOCAL "ops-contact"

/* ---- shared helpers ------------------------------------------------------------------------ */

/* New Okta user with the given fields (login = email); NULL on OOM or duplicate. */
static struct okta_user *add_user(struct okta_state *ok, const char *first, const char *last,
				  const char *email, enum okta_status status, int64_t created,
				  uint64_t *rng)
{
	struct okta_user *u = okta_user_alloc();

	if (!u)
		return NULL;
	u->first_name = strdup(first);
	u->last_name = strdup(last);
	u->email = strdup(email);
	u->login = strdup(email);
	if (!u->first_name || !u->last_name || !u->email || !u->login)
		goto fail;
	u->status = status;
	u->created = created;
	if (status != OKTA_STAGED) {
		u->activated = created + 3600000;
		u->password_changed = u->activated + (int64_t)sim_rand_below(rng, 90) * DAY_MS;
	}
	u->status_changed = u->activated;
	u->last_updated = u->password_changed ? u->password_changed : created;
	if (status == OKTA_ACTIVE || status == OKTA_SUSPENDED || status == OKTA_DEPROVISIONED ||
	    status == OKTA_LOCKED_OUT || status == OKTA_PASSWORD_EXPIRED)
		u->last_login = SIM_SEED_EPOCH_MS - (int64_t)sim_rand_below(rng, 30 * 24) * 3600000;
	if (status == OKTA_SUSPENDED || status == OKTA_DEPROVISIONED) {
		u->status_changed = SIM_SEED_EPOCH_MS - (int64_t)sim_rand_below(rng, 20) * DAY_MS;
		u->last_updated = u->status_changed;
		if (u->last_login > u->status_changed)
			u->last_login = u->status_changed - 3600000;
	}
	if (okta_user_insert(ok, u) != SIM_OK)
		goto fail;
	return u;
fail:
	okta_user_free(u);
	return NULL;
}

/* New Okta group; NULL on OOM. */
static struct okta_group *add_group(struct okta_state *ok, const char *name, const char *desc,
				    enum okta_group_type type, int64_t created, uint64_t *rng)
{
	struct okta_group *g = okta_group_alloc();

	if (!g)
		return NULL;
	g->name = strdup(name);
	g->description = strdup(desc);
	if (!g->name || !g->description)
		goto fail;
	g->type = type;
	g->created = created;
	g->last_updated = created + (int64_t)sim_rand_below(rng, 30) * DAY_MS;
	g->last_membership_updated = SIM_SEED_EPOCH_MS - (int64_t)sim_rand_below(rng, 60 * 24) * 3600000;
	if (g->last_membership_updated < g->created)
		g->last_membership_updated = g->created;
	if (okta_group_insert(ok, g) != SIM_OK)
		goto fail;
	return g;
fail:
	okta_group_free(g);
	return NULL;
}

/* New Sentry team; NULL on OOM. */
static struct sentry_team *add_team(struct sentry_state *se, const char *slug, const char *name,
				    int64_t created)
{
	struct sentry_team *t = sentry_team_alloc();

	if (!t)
		return NULL;
	t->slug = strdup(slug);
	t->name = strdup(name);
	t->created = created;
	if (!t->slug || !t->name || sentry_team_insert(se, t) != SIM_OK) {
		sentry_team_free(t);
		return NULL;
	}
	return t;
}

/* New Sentry member (pending when name is NULL); NULL on OOM or duplicate. */
static struct sentry_member *add_member(struct sentry_state *se, const char *email, const char *name,
					enum sentry_role role, unsigned flags, int64_t created)
{
	struct sentry_member *m = sentry_member_alloc();

	if (!m)
		return NULL;
	m->email = strdup(email);
	if (!m->email || (name && !(m->name = strdup(name))))
		goto fail;
	m->role = role;
	m->flags = flags;
	m->created = created;
	if (name)
		m->user_id = se->next_user_id;
	if (sentry_member_insert(se, m) != SIM_OK)
		goto fail;
	return m;
fail:
	sentry_member_free(m);
	return NULL;
}

/* New Sentry project in one team; NULL on OOM. */
static struct sentry_project *add_project(struct sentry_state *se, const char *slug,
					  const char *platform, struct sentry_team *t, int64_t created)
{
	struct sentry_project *p = sentry_project_alloc();

	if (!p)
		return NULL;
	p->slug = strdup(slug);
	p->name = strdup(slug);
	if (!p->slug || !p->name || (platform && !(p->platform = strdup(platform))))
		goto fail;
	p->created = created;
	if (sentry_project_add_team(p, t) || sentry_project_insert(se, p) != SIM_OK)
		goto fail;
	return p;
fail:
	sentry_project_free(p);
	return NULL;
}

/* ---- demo ------------------------------------------------------------------------------------- */

/*
 * Demo users. groups: M member access, A admin access, O team-observability,
 * P team-payments, L team-platform, D app group "ad-engineering".
 */
struct demo_user {
	const char *first, *last, *local;
	enum okta_status status;
	const char *groups;
};

static const struct demo_user demo_users[] = {
	{ "Ops", "Contact", OWNER_EMAIL_LOCAL, OKTA_ACTIVE, "A" },
	{ "Alice", "Anderson", "alice.anderson", OKTA_ACTIVE, "MOD" },
	{ "Bob", "Brown", "bob.brown", OKTA_ACTIVE, "MO" },
	{ "Carol", "Chen", "carol.chen", OKTA_ACTIVE, "MO" },
	{ "Dave", "Diaz", "dave.diaz", OKTA_ACTIVE, "MP" },
	{ "Erin", "Evans", "erin.evans", OKTA_ACTIVE, "MOD" },
	{ "Frank", "Fischer", "frank.fischer", OKTA_ACTIVE, "MP" },
	{ "Grace", "Garcia", "grace.garcia", OKTA_ACTIVE, "MP" },
	{ "Henry", "Huang", "henry.huang", OKTA_ACTIVE, "MP" },
	{ "Irene", "Ito", "irene.ito", OKTA_ACTIVE, "ML" },
	{ "Jack", "Jones", "jack.jones", OKTA_ACTIVE, "ML" },
	{ "Kate", "Kowalski", "kate.kowalski", OKTA_SUSPENDED, "MP" },
	{ "Liam", "Lopez", "liam.lopez", OKTA_DEPROVISIONED, "M" },
	{ "Maya", "Muller", "maya.muller", OKTA_ACTIVE, "ML" },
	{ "Noah", "Nguyen", "noah.nguyen", OKTA_ACTIVE, "ML" },
	{ "Olga", "Orlov", "olga.orlov", OKTA_ACTIVE, "ML" },
	{ "Paul", "Patel", "paul.patel", OKTA_ACTIVE, "MLD" },
	{ "Quinn", "Quist", "quinn.quist", OKTA_ACTIVE, "M" },
	{ "Rosa", "Rossi", "rosa.rossi", OKTA_ACTIVE, "M" },
	{ "Sam", "Schmidt", "sam.schmidt", OKTA_ACTIVE, "M" },
	{ "Tara", "Tanaka", "tara.tanaka", OKTA_ACTIVE, "M" },
	{ "Uma", "Usman", "uma.usman", OKTA_ACTIVE, "MO" },
	{ "Victor", "Vega", "victor.vega", OKTA_ACTIVE, "AO" },
	{ "Wendy", "Wu", "wendy.wu", OKTA_ACTIVE, "AP" },
	{ "Yara", "Young", "yara.young", OKTA_ACTIVE, "" },
	{ "Zoe", "Zimmer", "zoe.zimmer", OKTA_ACTIVE, "" },
	{ "Ben", "Baker", "ben.baker", OKTA_STAGED, "" },
};

/* Demo Sentry members: teams is a space-separated slug list; name NULL = pending invite. */
struct demo_member {
	const char *local;
	const char *name;
	enum sentry_role role;
	const char *teams;
	unsigned flags;
};

static const struct demo_member demo_members[] = {
	/* the org owner; also an Okta user, in the admin access group */
	{ OWNER_EMAIL_LOCAL, "Ops Contact", SENTRY_ROLE_OWNER, "acme", SENTRY_FLAG_SSO_LINKED },
	{ "alice.anderson", "Alice Anderson", SENTRY_ROLE_MEMBER, "observability", SENTRY_FLAG_SSO_LINKED },
	{ "bob.brown", "Bob Brown", SENTRY_ROLE_MEMBER, "observability", SENTRY_FLAG_SSO_LINKED },
	/* drift: manager although only in the member access group */
	{ "carol.chen", "Carol Chen", SENTRY_ROLE_MANAGER, "observability", SENTRY_FLAG_SSO_LINKED },
	/* drift: missing team payments */
	{ "dave.diaz", "Dave Diaz", SENTRY_ROLE_MEMBER, "", SENTRY_FLAG_SSO_LINKED },
	{ "erin.evans", "Erin Evans", SENTRY_ROLE_MEMBER, "observability", SENTRY_FLAG_SSO_LINKED },
	{ "frank.fischer", "Frank Fischer", SENTRY_ROLE_MEMBER, "payments", SENTRY_FLAG_SSO_LINKED },
	{ "grace.garcia", "Grace Garcia", SENTRY_ROLE_MEMBER, "payments", 0 },
	/* drift: extra team observability */
	{ "henry.huang", "Henry Huang", SENTRY_ROLE_MEMBER, "payments observability", SENTRY_FLAG_SSO_LINKED },
	{ "irene.ito", "Irene Ito", SENTRY_ROLE_MEMBER, "", SENTRY_FLAG_SSO_LINKED },
	{ "jack.jones", "Jack Jones", SENTRY_ROLE_MEMBER, "", SENTRY_FLAG_SSO_LINKED },
	/* SUSPENDED in Okta */
	{ "kate.kowalski", "Kate Kowalski", SENTRY_ROLE_MEMBER, "payments", SENTRY_FLAG_SSO_LINKED },
	/* DEPROVISIONED in Okta */
	{ "liam.lopez", "Liam Lopez", SENTRY_ROLE_MEMBER, "", SENTRY_FLAG_SSO_LINKED },
	/* pending invite */
	{ "maya.muller", NULL, SENTRY_ROLE_MEMBER, "", 0 },
	/* drift: in the admin access group but only a member */
	{ "victor.vega", "Victor Vega", SENTRY_ROLE_MEMBER, "observability", SENTRY_FLAG_SSO_LINKED },
	{ "wendy.wu", "Wendy Wu", SENTRY_ROLE_MANAGER, "payments", SENTRY_FLAG_SSO_LINKED },
	/* not in any access group */
	{ "yara.young", "Yara Young", SENTRY_ROLE_MEMBER, "acme", SENTRY_FLAG_SSO_LINKED },
	/* absent from Okta */
	{ "former.employee", "Former Employee", SENTRY_ROLE_MEMBER, "payments", 0 },
};

/* Build the demo organisation. */
int sim_seed_demo(const char *org, struct sim_state **out)
{
	struct sim_state *st = sim_state_new(org);
	struct okta_group *gM, *gA, *gO, *gP, *gL, *gD, *gE;
	uint64_t rng = 0xACAE5EEDULL;
	char email[128];
	size_t i;
	const char *p;

	*out = NULL;
	if (!st)
		return -1;
	for (i = 0; i < sizeof(demo_users) / sizeof(demo_users[0]); i++) {
		snprintf(email, sizeof(email), "%s@%s.example", demo_users[i].local, st->sentry.org_slug);
		if (!add_user(&st->okta, demo_users[i].first, demo_users[i].last, email,
			      demo_users[i].status,
			      SIM_SEED_EPOCH_MS - (int64_t)(400 - 7 * i) * DAY_MS, &rng))
			goto fail;
	}
	gE = add_group(&st->okta, "Everyone", "All users in your organization", OKTA_GT_BUILTIN,
		       SIM_SEED_EPOCH_MS - 500 * DAY_MS, &rng);
	gM = add_group(&st->okta, GROUP_MEMBERS, "Sentry access: member", OKTA_GT_OKTA,
		       SIM_SEED_EPOCH_MS - 300 * DAY_MS, &rng);
	gA = add_group(&st->okta, GROUP_ADMINS, "Sentry access: admin", OKTA_GT_OKTA,
		       SIM_SEED_EPOCH_MS - 300 * DAY_MS, &rng);
	gO = add_group(&st->okta, "team-observability", "Observability team", OKTA_GT_OKTA,
		       SIM_SEED_EPOCH_MS - 200 * DAY_MS, &rng);
	gP = add_group(&st->okta, "team-payments", "Payments team", OKTA_GT_OKTA,
		       SIM_SEED_EPOCH_MS - 200 * DAY_MS, &rng);
	gL = add_group(&st->okta, "team-platform", "Platform team", OKTA_GT_OKTA,
		       SIM_SEED_EPOCH_MS - 150 * DAY_MS, &rng);
	gD = add_group(&st->okta, "ad-engineering", "Imported from Active Directory", OKTA_GT_APP,
		       SIM_SEED_EPOCH_MS - 450 * DAY_MS, &rng);
	if (!gE || !gM || !gA || !gO || !gP || !gL || !gD)
		goto fail;
	for (i = 0; i < sizeof(demo_users) / sizeof(demo_users[0]); i++) {
		struct okta_user *u;

		snprintf(email, sizeof(email), "%s@%s.example", demo_users[i].local, st->sentry.org_slug);
		u = okta_user_find(&st->okta, email);
		if (!u || okta_group_add_member(gE, u) < 0)
			goto fail;
		for (p = demo_users[i].groups; *p; p++) {
			struct okta_group *g = *p == 'M' ? gM : *p == 'A' ? gA : *p == 'O' ? gO :
					       *p == 'P' ? gP : *p == 'L' ? gL : gD;

			if (okta_group_add_member(g, u) < 0)
				goto fail;
		}
	}
	/* Sentry: teams, members, projects */
	{
		struct sentry_team *tAcme, *tObs, *tPay;

		tAcme = add_team(&st->sentry, st->sentry.org_slug, st->sentry.org_name,
				 SIM_SEED_EPOCH_MS - 390 * DAY_MS);
		tObs = add_team(&st->sentry, "observability", "Observability",
				SIM_SEED_EPOCH_MS - 190 * DAY_MS);
		tPay = add_team(&st->sentry, "payments", "Payments", SIM_SEED_EPOCH_MS - 190 * DAY_MS);
		if (!tAcme || !tObs || !tPay)
			goto fail;
		for (i = 0; i < sizeof(demo_members) / sizeof(demo_members[0]); i++) {
			const struct demo_member *dm = &demo_members[i];
			struct sentry_member *m;
			char slug[64];

			snprintf(email, sizeof(email), "%s@%s.example", dm->local, st->sentry.org_slug);
			m = add_member(&st->sentry, email, dm->name, dm->role, dm->flags,
				       SIM_SEED_EPOCH_MS - (int64_t)(380 - 10 * i) * DAY_MS);
			if (!m)
				goto fail;
			for (p = dm->teams; *p;) {
				size_t n = strcspn(p, " ");
				struct sentry_team *t;

				snprintf(slug, sizeof(slug), "%.*s", (int)n, p);
				t = sentry_team_find(&st->sentry, !strcmp(slug, "acme") ? st->sentry.org_slug : slug);
				if (!t || sentry_member_team_add(m, t, SENTRY_TEAM_ROLE_NULL) < 0)
					goto fail;
				p += n;
				while (*p == ' ')
					p++;
			}
		}
		if (!add_project(&st->sentry, "my-awesome-app", "python", tAcme,
				 SIM_SEED_EPOCH_MS - 380 * DAY_MS) ||
		    !add_project(&st->sentry, "checkout-api", "go", tPay,
				 SIM_SEED_EPOCH_MS - 180 * DAY_MS) ||
		    !add_project(&st->sentry, "billing-worker", "python", tPay,
				 SIM_SEED_EPOCH_MS - 170 * DAY_MS))
			goto fail;
	}
	*out = st;
	return 0;
fail:
	sim_state_free(st);
	return -1;
}

/* ---- generator ---------------------------------------------------------------------------------- */

static const char *const first_names[] = {
	"Aaron", "Abigail", "Adam", "Adrian", "Aisha", "Alan", "Alba", "Alex", "Alice", "Amara",
	"Amir", "Ana", "Andrea", "Anna", "Arjun", "Ben", "Bianca", "Carlos", "Chen", "Chloe",
	"Chris", "Clara", "Daniel", "David", "Diana", "Dmitri", "Elena", "Eli", "Emma", "Eric",
	"Fatima", "Felix", "Fiona", "Gabriel", "Grace", "Hana", "Hannah", "Hugo", "Ian", "Ines",
	"Isaac", "Ivan", "Jack", "James", "Jana", "Javier", "Jin", "Julia", "Kai", "Karen",
	"Kenji", "Laura", "Leo", "Lina", "Lucas", "Maria", "Mark", "Maya", "Mei", "Miguel",
	"Nadia", "Nina", "Noah", "Olivia", "Omar", "Pablo", "Paula", "Priya", "Rafael", "Rosa",
	"Ryan", "Sara", "Sofia", "Tom", "Valentina", "Victor", "Wei", "Yuki", "Zara", "Zoe",
};

static const char *const last_names[] = {
	"Adams", "Ahmed", "Ali", "Alvarez", "Andersen", "Bailey", "Becker", "Bianchi", "Brown",
	"Castro", "Chen", "Cohen", "Costa", "Davis", "Dubois", "Evans", "Fernandez", "Fischer",
	"Garcia", "Gonzalez", "Gupta", "Hansen", "Hernandez", "Hoffmann", "Huang", "Ivanov",
	"Jansen", "Jensen", "Johnson", "Kim", "Klein", "Kowalski", "Kumar", "Larsen", "Lee",
	"Lopez", "Martin", "Martinez", "Meyer", "Miller", "Moreau", "Muller", "Nakamura", "Nguyen",
	"Novak", "Okafor", "Olsen", "Patel", "Perez", "Petrov", "Rossi", "Santos", "Sato",
	"Schmidt", "Schneider", "Silva", "Singh", "Smith", "Suzuki", "Tanaka", "Taylor", "Thomas",
	"Wagner", "Walker", "Wang", "Weber", "Williams", "Wilson", "Wong", "Yilmaz", "Zhang",
};

static const char *const team_words[] = {
	"alerts", "analytics", "api", "apollo", "atlas", "auth", "backend", "billing", "bots",
	"build", "cache", "catalog", "checkout", "cloud", "compliance", "compute", "core", "crm",
	"data", "database", "delivery", "design", "devex", "devops", "discovery", "docs", "edge",
	"email", "emea", "events", "finance", "fleet", "frontend", "gateway", "growth", "helios",
	"identity", "infra", "ingest", "insights", "integrations", "inventory", "ios", "kafka",
	"kernel", "labs", "ledger", "legal", "logistics", "loyalty", "maps", "marketing", "media",
	"messaging", "metrics", "mobile", "monitoring", "network", "notifications", "observability",
	"onboarding", "orders", "orion", "partners", "payments", "payroll", "pegasus", "perf",
	"platform", "pricing", "privacy", "profiles", "quality", "queue", "realtime", "recommend",
	"release", "reliability", "reporting", "risk", "routing", "sales", "search", "security",
	"sessions", "shipping", "sirius", "social", "storage", "streaming", "support", "sync",
	"tax", "telemetry", "tooling", "trust", "ux", "vega", "video", "warehouse", "web",
	"workflow", "android", "apac", "archive", "audit", "batch", "cdn", "chat", "clients",
};

static const char *const platforms[] = {
	"python", "javascript-react", "go", "java", "node", "ruby", "php", "dotnet", "android",
	"apple-ios",
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Lower-case ASCII in place. */
static void lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

/* Compare ints for qsort. */
static int cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Fill g with `size` distinct users picked at random (partial Fisher-Yates
 * over scratch, which holds a permutation of 0..n-1). force >= 0 is always
 * included. The member array is built sorted (user index order = id order).
 */
static int fill_group(struct okta_group *g, struct okta_user **users, size_t n, size_t size,
		      size_t *scratch, size_t *pick, uint64_t *rng, long force)
{
	size_t j, k = 0;
	bool have_force = force < 0;

	if (size > n)
		size = n;
	for (j = 0; j < size; j++) {
		size_t r = j + sim_rand_below(rng, (uint32_t)(n - j)), t = scratch[j];

		scratch[j] = scratch[r];
		scratch[r] = t;
		pick[k++] = scratch[j];
		if ((long)scratch[j] == force)
			have_force = true;
	}
	if (!have_force)
		pick[k++] = (size_t)force;
	qsort(pick, k, sizeof(*pick), cmp_size);
	free(g->members);
	g->members = malloc((k ? k : 1) * sizeof(*g->members));
	if (!g->members)
		return -1;
	for (j = 0; j < k; j++)
		g->members[j] = users[pick[j]];
	g->nmembers = g->capmembers = k;
	return 0;
}

/* Build a deterministic generated organisation. */
int sim_seed_generate(const char *org, int nusers, int ngroups, uint64_t seed,
		      struct sim_state **out)
{
	struct sim_state *st = sim_state_new(org);
	uint64_t rng = sim_mix64(seed ^ 0x5EB0A2D1CE5EEDULL);
	size_t n = nusers > 1 ? (size_t)nusers : 2, m = ngroups > 0 ? (size_t)ngroups : 0;
	size_t *scratch = NULL, *pick = NULL, i, j;
	struct okta_user **users = NULL;
	struct okta_group *gE, *gM, *gA, **tg = NULL;
	struct sentry_team **teams = NULL;          /* per team group, or NULL */
	struct sentry_member **member_of = NULL;    /* per user, or NULL */
	unsigned char *admin = NULL;
	char buf[160];
	int rc = -1;

	*out = NULL;
	if (!st)
		return -1;
	scratch = malloc(n * sizeof(*scratch));
	pick = malloc((n + 1) * sizeof(*pick));
	tg = calloc(m + 1, sizeof(*tg));
	teams = calloc(m + 1, sizeof(*teams));
	member_of = calloc(n, sizeof(*member_of));
	admin = calloc(n, 1);
	if (!scratch || !pick || !tg || !teams || !member_of || !admin)
		goto out;

	/* users: index 0 is the org owner's mailbox */
	for (i = 0; i < n; i++) {
		const char *fn = first_names[sim_rand_below(&rng, NELEM(first_names))];
		const char *ln = last_names[sim_rand_below(&rng, NELEM(last_names))];
		double r = sim_rand01(&rng);
		enum okta_status status = r < 0.92 ? OKTA_ACTIVE : r < 0.94 ? OKTA_SUSPENDED :
					  r < 0.97 ? OKTA_DEPROVISIONED : r < 0.98 ? OKTA_LOCKED_OUT :
					  r < 0.99 ? OKTA_STAGED : OKTA_PROVISIONED;
		int64_t created = SIM_SEED_EPOCH_MS - (int64_t)sim_rand_below(&rng, 3 * 365) * DAY_MS -
				  (int64_t)sim_rand_below(&rng, 86400) * 1000;
		unsigned suffix = 1;

		if (i == 0) {
			fn = "Ops";
			ln = "Contact";
			status = OKTA_ACTIVE;
			snprintf(buf, sizeof(buf), "%s@%s.example", OWNER_EMAIL_LOCAL, st->sentry.org_slug);
		} else {
			snprintf(buf, sizeof(buf), "%s.%s@%s.example", fn, ln, st->sentry.org_slug);
			lower(buf);
			while (okta_user_find(&st->okta, buf)) {
				suffix++;
				snprintf(buf, sizeof(buf), "%s.%s%u@%s.example", fn, ln, suffix,
					 st->sentry.org_slug);
				lower(buf);
			}
		}
		if (!add_user(&st->okta, fn, ln, buf, status, created, &rng))
			goto out;
	}
	users = st->okta.users; /* generated ids sort in creation order: users[i] is user i */
	for (i = 0; i < n; i++)
		scratch[i] = i;

	/* groups: Everyone, the two access groups, then m team groups with Zipf-like sizes */
	gE = add_group(&st->okta, "Everyone", "All users in your organization", OKTA_GT_BUILTIN,
		       SIM_SEED_EPOCH_MS - 1200 * DAY_MS, &rng);
	gM = add_group(&st->okta, GROUP_MEMBERS, "Sentry access: member", OKTA_GT_OKTA,
		       SIM_SEED_EPOCH_MS - 700 * DAY_MS, &rng);
	gA = add_group(&st->okta, GROUP_ADMINS, "Sentry access: admin", OKTA_GT_OKTA,
		       SIM_SEED_EPOCH_MS - 700 * DAY_MS, &rng);
	if (!gE || !gM || !gA)
		goto out;
	gE->members = malloc(n * sizeof(*gE->members));
	if (!gE->members)
		goto out;
	for (i = 0; i < n; i++)
		gE->members[i] = users[i];
	gE->nmembers = gE->capmembers = n;
	if (fill_group(gM, users, n, (size_t)((double)n * 0.7), scratch, pick, &rng, -1))
		goto out;
	{
		size_t na = n / 200 < 3 ? 3 : n / 200 > 100 ? 100 : n / 200;

		if (fill_group(gA, users, n, na, scratch, pick, &rng, 0))
			goto out;
	}
	for (i = 0, j = 0; i < n && j < gA->nmembers; i++)
		if (users[i] == gA->members[j]) {
			admin[i] = 1;
			j++;
		}
	for (i = 0; i < m; i++) {
		size_t size = (size_t)lround((double)n * 0.15 / pow((double)(i + 1), 0.9));
		const char *w = team_words[i % NELEM(team_words)];
		char desc[192];

		if (size < 2)
			size = 2;
		if (i < NELEM(team_words))
			snprintf(buf, sizeof(buf), "team-%s", w);
		else
			snprintf(buf, sizeof(buf), "team-%s-%zu", w, i / NELEM(team_words) + 1);
		snprintf(desc, sizeof(desc), "Members of the %s team", buf + 5);
		tg[i] = add_group(&st->okta, buf, desc, OKTA_GT_OKTA,
				  SIM_SEED_EPOCH_MS - (int64_t)sim_rand_below(&rng, 600) * DAY_MS, &rng);
		if (!tg[i] || fill_group(tg[i], users, n, size, scratch, pick, &rng, -1))
			goto out;
	}

	/* Sentry teams: the default team plus ~60% of the team groups */
	if (!add_team(&st->sentry, st->sentry.org_slug, st->sentry.org_name,
		      SIM_SEED_EPOCH_MS - 700 * DAY_MS))
		goto out;
	for (i = 0; i < m; i++) {
		if (sim_rand01(&rng) >= 0.6)
			continue;
		teams[i] = add_team(&st->sentry, tg[i]->name + 5, tg[i]->name + 5,
				    SIM_SEED_EPOCH_MS - (int64_t)sim_rand_below(&rng, 500) * DAY_MS);
		if (!teams[i])
			goto out;
	}

	/* Sentry members: the owner, then most active access-group users, with drift */
	for (i = 0; i < n; i++) {
		struct okta_user *u = users[i];
		bool in_access = admin[i] || okta_group_has_member(gM, u);
		double r = sim_rand01(&rng);
		enum sentry_role role = admin[i] ? SENTRY_ROLE_MANAGER : SENTRY_ROLE_MEMBER;
		char name[128];
		bool member = false, pending = false;

		if (i == 0) {
			role = SENTRY_ROLE_OWNER;
			member = true;
		} else if (in_access && u->status == OKTA_ACTIVE) {
			member = r < 0.85;
			pending = !member && r < 0.87;
		} else if (in_access && u->status == OKTA_DEPROVISIONED) {
			member = r < 0.5; /* stale: should be removed */
		} else if (u->status == OKTA_ACTIVE) {
			member = r < 0.01; /* stale: not in an access group */
		} else {
			member = r < 0.3 && in_access; /* suspended etc. */
		}
		if (!member && !pending)
			continue;
		if (i != 0 && sim_rand01(&rng) < 0.03)
			role = role == SENTRY_ROLE_MANAGER ? SENTRY_ROLE_MEMBER : SENTRY_ROLE_MANAGER;
		snprintf(name, sizeof(name), "%s %s", u->first_name, u->last_name);
		member_of[i] = add_member(&st->sentry, u->email, pending ? NULL : name, role,
					  sim_rand01(&rng) < 0.8 ? SENTRY_FLAG_SSO_LINKED : 0,
					  u->created + 2 * DAY_MS);
		if (!member_of[i])
			goto out;
		if (i == 0 && sentry_member_team_add(member_of[i],
						     sentry_team_find(&st->sentry, st->sentry.org_slug),
						     SENTRY_TEAM_ROLE_NULL) < 0)
			goto out;
	}
	/* team memberships follow the team groups, with a little drift */
	for (i = 0; i < m; i++) {
		if (!teams[i])
			continue;
		for (j = 0; j < tg[i]->nmembers; j++) {
			size_t ui = (size_t)(okta_users_after(&st->okta, tg[i]->members[j]->id) - 1);
			struct sentry_member *mm = member_of[ui];

			if (!mm || sim_rand01(&rng) < 0.05)
				continue; /* 5%: missing team */
			if (sentry_member_team_add(mm, teams[i],
						   sim_rand01(&rng) < 0.05 ? SENTRY_TEAM_ROLE_ADMIN
									    : SENTRY_TEAM_ROLE_NULL) < 0)
				goto out;
		}
	}
	for (i = 0; i < n && m; i++) {
		size_t k = sim_rand_below(&rng, (uint32_t)m);

		if (member_of[i] && teams[k] && sim_rand01(&rng) < 0.02 &&
		    sentry_member_team_add(member_of[i], teams[k], SENTRY_TEAM_ROLE_NULL) < 0)
			goto out; /* 2%: an extra team */
	}
	/* members absent from Okta */
	for (i = 0; i < (n / 500 ? n / 500 : 1); i++) {
		snprintf(buf, sizeof(buf), "former.%zu@%s.example", i + 1, st->sentry.org_slug);
		if (!add_member(&st->sentry, buf, "Former Employee", SENTRY_ROLE_MEMBER, 0,
				SIM_SEED_EPOCH_MS - 600 * DAY_MS))
			goto out;
	}
	/* projects: one to three per Sentry team */
	for (i = 0; i < m; i++) {
		static const char *const kinds[] = { "api", "web", "worker" };
		size_t k, np;

		if (!teams[i])
			continue;
		np = 1 + sim_rand_below(&rng, 3);
		for (k = 0; k < np; k++) {
			snprintf(buf, sizeof(buf), "%s-%s", teams[i]->slug, kinds[k]);
			if (sentry_project_find(&st->sentry, buf))
				continue;
			if (!add_project(&st->sentry, buf, platforms[sim_rand_below(&rng, NELEM(platforms))],
					 teams[i], SIM_SEED_EPOCH_MS - (int64_t)sim_rand_below(&rng, 400) * DAY_MS))
				goto out;
		}
	}
	*out = st;
	st = NULL;
	rc = 0;
out:
	sim_state_free(st);
	free(scratch);
	free(pick);
	free(tg);
	free(teams);
	free(member_of);
	free(admin);
	return rc;
}
