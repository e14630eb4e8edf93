// tests/browser/lib.mjs: what the browser flows share. Run by tests/browser/run.sh,
// which starts the simulator and the bridge and sets:
//   SB_URL          the bridge (http://127.0.0.1:PORT)
//   SB_SIM_URL      the simulator (Okta with its OIDC server, Sentry)
//   SB_DB           the bridge's database (psql conninfo)
//   SB_SCREENSHOTS  where every page visited is saved as a PNG
//   SB_CHROMIUM     Debian's chromium (/usr/bin/chromium); Playwright never downloads one
//   BRIDGE_ADMIN_TOKEN  the admin API token
import { chromium } from 'playwright-core';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import process from 'node:process';

export const URL_ = need('SB_URL');
export const SIM = need('SB_SIM_URL');
export const DB = need('SB_DB');
export const SHOTS = need('SB_SCREENSHOTS');
const ADMIN_TOKEN = need('BRIDGE_ADMIN_TOKEN');
const FLOW = path.basename(process.argv[1], '.mjs').replace(/^flow_/, '');

function need(name) {
	const v = process.env[name];
	if (!v) {
		console.error(`${name} is not set: run the browser tests through tests/browser/run.sh`);
		process.exit(2);
	}
	return v;
}

// ---- results -----------------------------------------------------------------------------------------
let passes = 0;
let fails = 0;
let skips = 0;
export function pass(d) {
	passes++;
	console.log(`  PASS ${d}`);
}
export function fail(d) {
	fails++;
	console.error(`  FAIL ${d}`);
}
export function skip(d) {
	skips++;
	console.log(`  SKIP ${d}`);
}
export function check(d, ok, detail = '') {
	if (ok) pass(d);
	else fail(detail ? `${d}: ${detail}` : d);
	return !!ok;
}
export function eq(d, got, want) {
	return check(d, got === want, `got [${got}], want [${want}]`);
}
export function contains(d, hay, needle) {
	return check(d, String(hay).includes(needle), `[${needle}] not found in [${String(hay).slice(0, 600)}]`);
}
// The closing line tests/run.sh prints for every stage: "<flow>: N passed, N failed".
export function summary() {
	if (FLOW === 'console' && Object.keys(KNOWN_MARKUP).length && knownSeen.size === 0)
		console.log(`  NOTE no known bug showed in this run: take the fixed ones off KNOWN_MARKUP in lib.mjs`);
	console.log(`  (${FLOW}: ${(process.uptime()).toFixed(1)} s with Node's and Chromium's start)`);
	console.log(`  ${FLOW}: ${passes} passed, ${fails} failed${skips ? `, ${skips} skipped` : ''}`);
	return fails === 0 ? 0 : 1;
}

// run(body): the flow with a browser; a thrown error (a timeout, a missing element) is one
// failure with its message, and the browser is always closed.
export async function run(body) {
	const browser = await launch();
	try {
		await body(browser);
	} catch (err) {
		fail(`the flow stopped: ${err && err.stack ? err.stack : err}`);
	} finally {
		await browser.close().catch(() => {});
	}
	process.exitCode = summary();
}

// step(name): a heading in the output, with the seconds since the flow started.
const t0 = Date.now();
export function step(name) {
	console.log(`  -- ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
}

// ---- the browser ---------------------------------------------------------------------------------------
export async function launch() {
	// /dev/shm may be small in a container (Debian's launcher adds this only when it can tell).
	const args = ['--disable-dev-shm-usage'];
	// Chromium's sandbox refuses to run as root (CI runs make check as root);
	// SB_CHROMIUM_NO_SANDBOX=1 for a container without unprivileged user namespaces.
	if ((process.getuid && process.getuid() === 0) || process.env.SB_CHROMIUM_NO_SANDBOX === '1') args.push('--no-sandbox');
	return chromium.launch({
		executablePath: process.env.SB_CHROMIUM || '/usr/bin/chromium',
		headless: true,
		args,
	});
}

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

// A browser context (one person's browser: its own cookies) whose pages record the console
// errors and uncaught exceptions of our pages in ctx.errors; step code that provokes one on
// purpose takes it out with takeErrors().
export async function newBrowser(browser, opts = {}) {
	const ctx = await browser.newContext({ viewport: DESKTOP, ...opts });
	ctx.errors = [];
	ctx.on('page', (p) => watch(ctx, p));
	ctx.setDefaultTimeout(15000);
	return ctx;
}
export async function newPage(ctx) {
	const p = await ctx.newPage();
	return p;
}
function watch(ctx, page) {
	page.on('console', (m) => {
		if (m.type() !== 'error') return;
		const at = m.location() && m.location().url;
		// Chromium asks for /favicon.ico by itself; the console declares no icon (and the
		// bridge answers 404 outside /console): not an error of our pages.
		if (at && new URL(at, URL_).pathname === '/favicon.ico') return;
		ctx.errors.push(`${page.url()}: console error: ${m.text()}${at ? ` (${at})` : ''}`);
	});
	page.on('pageerror', (e) => ctx.errors.push(`${page.url()}: uncaught: ${e.message}`));
}
export function takeErrors(ctx) {
	const e = ctx.errors;
	ctx.errors = [];
	return e;
}
export function noErrors(d, ctx) {
	const e = takeErrors(ctx);
	return check(d, e.length === 0, e.join('\n'));
}

// shot(page, name): a full-page screenshot, numbered in visiting order. It also checks that
// the page shows no HTML markup as text (a tag escaped twice), unless the page shows such
// text on purpose ({ markupText: true }).
let shotN = 0;
export async function shot(page, name, { markupText = false } = {}) {
	shotN++;
	const f = path.join(SHOTS, `${FLOW}-${String(shotN).padStart(2, '0')}-${name}.png`);
	await page.screenshot({ path: f, fullPage: true });
	if (!markupText) await noMarkupAsText(page, name);
	return f;
}

// Markup that a page of this build shows as text by a known bug, reported with KNOWN (not a
// failure) until it is fixed, then with a NOTE to take it off this list.
const KNOWN_MARKUP = {
};
const knownSeen = new Set();
export async function noMarkupAsText(page, label) {
	let text = await page.locator('body').innerText();
	for (const [k, why] of Object.entries(KNOWN_MARKUP)) {
		if (!text.includes(k)) continue;
		text = text.split(k).join('');
		if (!knownSeen.has(k)) console.log(`  KNOWN ${why}: the page shows ${k}`);
		knownSeen.add(k);
	}
	const tags = text.match(/<\/?[a-z][a-z0-9]*(\s[^<>]*)?>/gi) || [];
	check(`${label}: no HTML markup shown as text`, tags.length === 0, tags.join(' '));
}

// The page's <h1> and the header naming who is signed in.
export async function h1(page) {
	return (await page.locator('main h1').first().textContent()).trim();
}
export async function who(page) {
	const w = page.locator('header .who');
	return (await w.count()) ? (await w.first().textContent()).trim() : '';
}

// visit(page, path, title, name): open a console page; check the answer, its title and
// that it names who is signed in; screenshot it.
export async function visit(page, p, title, name, { status = 200, email } = {}) {
	const r = await page.goto(URL_ + p);
	eq(`${p}: status`, r ? r.status() : 0, status);
	eq(`${p}: the page's title`, await h1(page), title);
	if (email) contains(`${p}: says who is signed in`, await who(page), email);
	await shot(page, name);
	return r;
}

// ---- people ---------------------------------------------------------------------------------------------
// signIn(page, login, next): the whole sign-in as a person does it: the simulated Okta is told
// who is at the keyboard, then the console page redirects to Okta and back.
export async function signIn(page, login, next = '/console/') {
	await simLogin(login);
	const r = await page.goto(`${URL_}/console/login?next=${encodeURIComponent(next)}`);
	eq(`sign-in of ${login}: back on ${next}`, new URL(page.url()).pathname + new URL(page.url()).search, next);
	eq(`sign-in of ${login}: status`, r ? r.status() : 0, 200);
	contains(`sign-in of ${login}: the header names them`, await who(page), login);
	return r;
}
// signOut(page): the "Sign out" button; ends on /console/signed-out after Okta's logout.
export async function signOut(page, name) {
	await Promise.all([page.waitForURL(`${URL_}/console/signed-out`), page.locator('header button', { hasText: 'Sign out' }).click()]);
	eq('signed out: the page', await h1(page), 'Signed out');
	if (name) await shot(page, name);
}

// ---- the simulator, the API, the database ------------------------------------------------------------
export async function simLogin(login) {
	const r = await fetch(`${SIM}/_sim/oidc/login`, {
		method: 'POST',
		headers: { 'Content-Type': 'application/json' },
		body: JSON.stringify({ login }),
	});
	if (!r.ok) throw new Error(`_sim/oidc/login ${login}: ${r.status}`);
}
export async function api(method, p, body) {
	const r = await fetch(URL_ + p, {
		method,
		headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/json' },
		body: body === undefined ? undefined : JSON.stringify(body),
	});
	const text = await r.text();
	let json = null;
	try {
		json = JSON.parse(text);
	} catch {
		/* not JSON */
	}
	return { status: r.status, json, text };
}
// The Sentry member of the simulated org with this email (null if none).
export async function sentryMember(email) {
	const r = await fetch(`${SIM}/api/0/organizations/acme/members/?per_page=100`, {
		headers: { Authorization: 'Bearer sim-sentry-token' },
	});
	const all = await r.json();
	return all.find((m) => (m.email || '').toLowerCase() === email) || null;
}
// oktaAddToGroup(login, group): a change in the simulated Okta (its Groups API).
export async function oktaAddToGroup(login, group) {
	const okta = (p, init = {}) => fetch(SIM + p, { ...init, headers: { Authorization: 'SSWS sim-okta-token', Accept: 'application/json' } });
	const user = await (await okta(`/api/v1/users/${encodeURIComponent(login)}`)).json();
	const groups = await (await okta(`/api/v1/groups?q=${encodeURIComponent(group)}`)).json();
	const g = groups.find((x) => x.profile && x.profile.name === group);
	if (!user.id || !g) throw new Error(`Okta: no user ${login} or group ${group}`);
	const r = await okta(`/api/v1/groups/${g.id}/users/${user.id}`, { method: 'PUT' });
	if (r.status !== 204) throw new Error(`Okta: adding ${login} to ${group}: ${r.status}`);
}
export function sql(q) {
	return execFileSync('psql', [DB, '-qAt', '-c', q], { encoding: 'utf8' }).trim();
}
// waitFor(fn, ms): fn() until it returns something truthy; that value, or null after ms.
export async function waitFor(fn, ms = 10000) {
	const end = Date.now() + ms;
	for (;;) {
		const v = await fn();
		if (v) return v;
		if (Date.now() > end) return null;
		await new Promise((res) => setTimeout(res, 100));
	}
}
