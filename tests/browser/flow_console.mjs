// tests/browser/flow_console.mjs: the console's main flow of issue 10 in headless Chromium,
// one person after the other in the same browser, as people do it:
//   Bob signs in through the simulated Okta and requests the manager role; he signs out;
//   Victor (an approver and console admin) signs in and approves it on Approvals; he signs out;
//   Bob signs in again and sees the role in My access, and the simulated Sentry has it;
//   Victor reads the approval in the audit log, runs a dry-run sync, creates and expires a
//   silence, and signs out: the session is ended and his old cookie gets the sign-in again.
// Every page visited is saved as a screenshot (SB_SCREENSHOTS).
import {
	URL_, PHONE, api, check, contains, eq, h1, newBrowser, noErrors, pass, run, sentryMember, shot,
	signIn, signOut, simLogin, skip, sql, visit, waitFor, who,
} from './lib.mjs';

// Pages of the console contract (notes: console-contract) that are built on the console2
// branch. Until they are in this build the flow uses the stand-in named next to each (the
// admin API), and prints SKIP for what only the page can show. Switch one on when its page
// lands; the flow says so when a page answers but its switch is still off.
const PAGES = {
	request: false, // GET/POST /console/request          stand-in: POST /api/v1/access-requests
	syncDryRun: false, // POST /console/sync/dry-run, /console/sync/{id}   stand-in: POST /api/v1/sync?dry_run=true
	alerts: false, // /console/alerts, POST /console/silences, .../expire    no stand-in
};

const BOB = 'bob.brown@acme.example';
const VICTOR = 'victor.vega@acme.example';
const REASON = 'on call for the payments launch this week';

await run(async (browser) => {
	const ctx = await newBrowser(browser);
	const page = await ctx.newPage();
	const t0 = Date.now();

	// ---- Bob signs in and requests the manager role --------------------------------------------------
	await signIn(page, BOB);
	eq('My access: the title', await h1(page), 'My access');
	contains('My access: his Sentry role', await page.locator('main').textContent(), 'Organization role: member');
	await shot(page, 'my-access');
	const [cookie] = (await ctx.cookies()).filter((c) => c.name === 'sb_session');
	check('the session cookie is set', !!cookie);

	let rid;
	if (PAGES.request) {
		await visit(page, '/console/request', 'Request access', 'request-form', { email: BOB });
		await page.selectOption('select[name=kind]', 'role');
		await page.selectOption('select[name=role]', 'manager');
		await page.fill('input[name=duration]', '2h');
		await page.fill('textarea[name=reason]', REASON);
		await shot(page, 'request-filled');
		await Promise.all([page.waitForURL(/\/console\/(\?.*)?$/), page.getByRole('button', { name: 'Request' }).click()]);
		rid = sql(`SELECT id FROM access_requests WHERE requester = '${BOB}' AND status = 'pending' ORDER BY id DESC LIMIT 1`);
		check('the request form files a request', /^\d+$/.test(rid), `no pending request of Bob (${rid})`);
	} else {
		await pageNote(page, '/console/request', 'request');
		const r = await api('POST', '/api/v1/access-requests', {
			on_behalf_of: BOB, kind: 'role', role: 'manager', duration: '2h', reason: REASON,
		});
		eq('(stand-in) the request is filed through the API', r.status, 201);
		rid = String(r.json && r.json.id);
		await page.reload();
	}
	const pending = page.locator('main table tr', { hasText: `#${rid}` });
	check('My access lists the pending request', (await pending.count()) === 1);
	contains('with its reason', await pending.first().textContent(), REASON);
	await shot(page, 'my-access-pending');
	await signOut(page, 'signed-out');

	// ---- Victor approves it -------------------------------------------------------------------------------
	await simLogin(VICTOR);
	await Promise.all([page.waitForURL(`${URL_}/console/`), page.getByRole('link', { name: 'Sign in again' }).click()]);
	contains('Victor signed in from the signed-out page', await who(page), VICTOR);
	contains('Victor is an admin', await who(page), 'admin');
	await page.getByRole('link', { name: 'Approvals', exact: true }).click();
	eq('Approvals: the title', await h1(page), 'Approvals');
	const row = page.locator('main tr', { hasText: `#${rid}` });
	check('Bob\'s request is waiting', (await row.count()) === 1);
	contains('with Bob named', await row.textContent(), BOB);
	await row.locator('input[name=reason]').fill('approved for the launch week');
	await shot(page, 'approvals-waiting');
	await Promise.all([page.waitForLoadState('load'), row.getByRole('button', { name: 'Approve' }).click()]);
	contains('the approval is recorded', await page.locator('main .msg').textContent(), 'Your approval is recorded.');
	eq('the request is approved', sql(`SELECT status FROM access_requests WHERE id = ${rid}`), 'approved');
	eq('the approval came from the web', sql(`SELECT source FROM access_approvals WHERE request_id = ${rid}`), 'web');
	await shot(page, 'approvals-decided');
	await signOut(page);

	// ---- the role is in Sentry and in Bob's My access ------------------------------------------------------
	const role = await waitFor(async () => {
		const m = await sentryMember(BOB);
		return m && (m.orgRole || m.role) === 'manager' ? 'manager' : null;
	}, 15000);
	eq('the simulated Sentry gives Bob the manager role', role, 'manager');
	await signIn(page, BOB);
	const main = page.locator('main');
	const shown = await waitFor(async () => {
		const t = await main.textContent();
		if (t.includes('Organization role: manager') && t.includes('role manager')) return t;
		await page.reload();
		return null;
	}, 10000);
	check('My access shows the manager role and the grant behind it', !!shown,
		(await main.textContent()).slice(0, 400));
	const grant = page.locator('main table tr', { hasText: 'role manager' });
	const cells = await grant.first().locator('td').allTextContents();
	check('the grant has its time left', cells.some((t) => /^(1h 5\dm|2h 0m)$/.test(t.trim())), cells.join(' | '));
	await shot(page, 'my-access-granted');
	const phone = await ctx.newPage();
	await phone.setViewportSize(PHONE);
	await phone.goto(`${URL_}/console/`);
	eq('My access on a phone-width screen', await h1(phone), 'My access');
	const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
	check('no sideways scrolling of the page on a phone', overflow <= 0, `${overflow}px wider than the screen`);
	await shot(phone, 'my-access-phone');
	await phone.close();
	await signOut(page);

	// ---- Victor: the audit log, a dry-run sync, silences -----------------------------------------------------
	await signIn(page, VICTOR);
	await page.getByRole('link', { name: 'Audit log' }).click();
	eq('Audit log: the title', await h1(page), 'Audit log');
	await shot(page, 'audit');
	const personField = (await page.locator('input[name=person]').count()) ? 'person' : 'target';
	await page.fill(`input[name=${personField}]`, personField === 'person' ? VICTOR : `access-request:${rid}`);
	await page.fill('input[name=action]', 'access.approve');
	await Promise.all([page.waitForURL(/\/console\/audit\?/), page.getByRole('button', { name: 'Filter' }).click()]);
	const entries = page.locator('main table tr', { hasText: 'access.approve' });
	eq('the filtered audit log has the approval', await entries.count(), 1);
	const entry = await entries.first().textContent();
	contains('by Victor', entry, VICTOR);
	contains('of the request', entry, `access-request:${rid}`);
	contains('with his reason', entry, 'approved for the launch week');
	await shot(page, 'audit-approval');

	await page.getByRole('link', { name: 'Sync' }).click();
	eq('Sync: the page', await h1(page), 'Sync runs');
	await shot(page, 'sync-runs');
	const runsBefore = Number(sql('SELECT count(*) FROM sync_runs'));
	if (PAGES.syncDryRun) {
		await Promise.all([page.waitForURL(/\/console\/sync\/\d+$/), page.getByRole('button', { name: 'Dry run now' }).click()]);
		const runId = page.url().match(/\/sync\/(\d+)$/)[1];
		const done = await waitFor(async () => {
			const st = sql(`SELECT status FROM sync_runs WHERE id = ${runId}`);
			if (st !== 'queued' && st !== 'running') return st;
			return null;
		}, 30000);
		check('the dry run finished', done && done !== 'failed', `status ${done}`);
		eq('it was a dry run', sql(`SELECT dry_run FROM sync_runs WHERE id = ${runId}`), 't');
		await page.reload();
		check('the run page shows its plan', (await page.locator('main').textContent()).length > 0);
		await shot(page, 'sync-plan');
	} else {
		await pageNote(page, '/console/sync/dry-run', 'syncDryRun', 'POST');
		const r = await api('POST', '/api/v1/sync?dry_run=true');
		eq('(stand-in) a dry-run sync through the API', r.status, 202);
		const id = r.json && r.json.id;
		const done = await waitFor(async () => {
			const st = sql(`SELECT status FROM sync_runs WHERE id = ${id}`);
			return st !== 'queued' && st !== 'running' ? st : null;
		}, 30000);
		check('the dry run finished', done && done !== 'failed', `status ${done}`);
		await page.reload();
		const runRow = page.locator('main table tr', { hasText: `#${id}` });
		eq('the Sync page lists the dry run', await runRow.count(), 1);
		contains('as a dry run', await runRow.first().textContent(), 'dry');
		await shot(page, 'sync-runs-dry-run');
	}
	check('one more sync run', Number(sql('SELECT count(*) FROM sync_runs')) === runsBefore + 1);

	if (PAGES.alerts) {
		await visit(page, '/console/alerts', 'Alerts', 'alerts', { email: VICTOR });
		await page.fill('textarea[name=matchers]', 'project=billing-worker\nlevel=error');
		await page.fill('input[name=duration]', '2h');
		await page.fill('[name=comment]', 'billing maintenance window');
		await Promise.all([page.waitForURL(/\/console\/alerts/), page.getByRole('button', { name: 'Create silence' }).click()]);
		const sil = page.locator('main tr', { hasText: 'billing maintenance window' });
		eq('the silence is listed', await sil.count(), 1);
		const sid = sql("SELECT id FROM slack_silences WHERE comment = 'billing maintenance window'");
		check('and stored', /^\d+$/.test(sid), sid);
		eq('active', sql(`SELECT expired_at IS NULL AND ends_at > now() FROM slack_silences WHERE id = ${sid}`), 't');
		await shot(page, 'alerts-silence');
		await Promise.all([page.waitForURL(/\/console\/alerts/), sil.getByRole('button', { name: 'Expire' }).click()]);
		eq('expired', sql(`SELECT expired_at IS NOT NULL OR ends_at <= now() FROM slack_silences WHERE id = ${sid}`), 't');
		const silences = await api('GET', '/api/v1/silences');
		check('the API no longer lists it as active',
			!JSON.stringify(silences.json).includes('billing maintenance window') ||
			/expired/.test(JSON.stringify(silences.json)), silences.text.slice(0, 300));
		await shot(page, 'alerts-expired');
	} else {
		await pageNote(page, '/console/alerts', 'alerts');
		skip('create and expire a silence on /console/alerts (not in this build)');
	}

	// ---- sign-out ends the session ----------------------------------------------------------------------------
	const old = await ctx.storageState();
	await signOut(page);
	eq('Victor\'s session is ended on the server',
		sql(`SELECT count(*) FROM console_sessions WHERE email = '${VICTOR}' AND ended_ms IS NULL`), '0');
	check('the browser dropped the cookie', !(await ctx.cookies()).some((c) => c.name === 'sb_session'));
	const stale = await browser.newContext({ storageState: old });
	const sp = await stale.newPage();
	check('the old cookie is still in that browser', (await stale.cookies()).some((c) => c.name === 'sb_session'));
	const r = await sp.goto(`${URL_}/console/`);
	const chain = [];
	for (let q = r.request(); q; q = q.redirectedFrom()) chain.unshift(new URL(q.url()).pathname);
	eq('the old cookie is sent to the sign-in', chain[1], '/console/login');
	check('and is not let in', (await h1(sp)) !== 'My access', `got ${await h1(sp)}`);
	await shot(sp, 'old-cookie');
	await stale.close();

	noErrors('no console errors or uncaught exceptions on any page', ctx);
	pass(`the flow took ${((Date.now() - t0) / 1000).toFixed(1)} s`);
	await ctx.close();
});

// A page of the contract that this flow does not use yet: say so if it already answers.
async function pageNote(page, p, key, method = 'GET') {
	const r = await page.request.fetch(URL_ + p, { method, maxRedirects: 0, failOnStatusCode: false });
	if (r.status() !== 404) console.log(`  NOTE ${method} ${p} answers ${r.status()}: switch on PAGES.${key} in flow_console.mjs`);
}
