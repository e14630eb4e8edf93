// tests/browser/flow_console.mjs: the console's main flow of issue 10 in headless Chromium,
// one person after the other in the same browser, as people do it:
//   Bob signs in through the simulated Okta and requests the manager role on Request access
//   (once refused for a duration over the maximum); he signs out;
//   Victor (an approver and console admin) signs in and approves it on Approvals; he signs out;
//   Bob signs in again and sees the role in My access, and the simulated Sentry has it;
//   Victor reads the approval in the audit log; after a change in the simulated Okta he runs a
//   dry-run sync, reads its plan and applies it after the confirmation page; he creates and
//   expires a silence on Alerts, and signs out: the session is ended and his old cookie gets
//   the sign-in again.
// Every page visited is saved as a screenshot (SB_SCREENSHOTS).
import {
	URL_, PHONE, api, check, contains, eq, h1, newBrowser, noErrors, oktaAddToGroup, pass, run, sentryMember,
	shot, signIn, signOut, simLogin, sql, step, takeErrors, visit, waitFor, who,
} from './lib.mjs';

const BOB = 'bob.brown@acme.example';
const VICTOR = 'victor.vega@acme.example';
const ALICE = 'alice.anderson@acme.example';
const REASON = 'on call for the payments launch this week';

await run(async (browser) => {
	const ctx = await newBrowser(browser);
	const page = await ctx.newPage();
	const t0 = Date.now();

	// ---- Bob signs in and requests the manager role --------------------------------------------------
	step('Bob signs in and requests the manager role');
	await signIn(page, BOB);
	eq('My access: the title', await h1(page), 'My access');
	contains('My access: his Sentry role', await page.locator('main').textContent(), 'Organization role: member');
	await shot(page, 'my-access');
	const [cookie] = (await ctx.cookies()).filter((c) => c.name === 'sb_session');
	check('the session cookie is set', !!cookie);

	let rid;
	await Promise.all([page.waitForURL(`${URL_}/console/request`), page.locator('main a', { hasText: 'Request access' }).click()]);
	eq('Request access: the title', await h1(page), 'Request access');
	const limits = await page.locator('main').textContent();
	contains('the form shows the maximum role', limits, 'manager');
	contains('and the maximum duration', limits, '1d');
	await page.selectOption('select[name=kind]', 'role');
	await page.selectOption('select[name=role]', 'manager');
	await page.fill('input[name=duration]', '3d');
	await page.fill('textarea[name=reason]', REASON);
	await shot(page, 'request-filled');
	const [tooLong] = await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Request' }).click()]);
	eq('a duration over the maximum: 422', tooLong && tooLong.status(), 422);
	contains('the form names the problem', await page.locator('main').textContent(), 'duration');
	eq('and keeps what was typed', await page.inputValue('textarea[name=reason]'), REASON);
	takeErrors(ctx); // Chromium logs the 422 of the page itself
	await shot(page, 'request-refused');
	await page.fill('input[name=duration]', '2h');
	await Promise.all([page.waitForURL(/\/console\/(\?.*)?$/), page.getByRole('button', { name: 'Request' }).click()]);
	eq('filed: back on My access', await h1(page), 'My access');
	rid = sql(`SELECT id FROM access_requests WHERE requester = '${BOB}' AND status = 'pending' ORDER BY id DESC LIMIT 1`);
	check('the request form files a request', /^\d+$/.test(rid), `no pending request of Bob (${rid})`);
	eq('for the manager role, 2 hours', sql(`SELECT kind || ' ' || role || ' ' || duration_ms FROM access_requests WHERE id = ${rid || 0}`),
		`role manager ${2 * 3600 * 1000}`);
	eq('from the web', sql(`SELECT details->>'source' FROM audit_log WHERE action = 'access.request' AND target = 'access-request:${rid || 0}'`), 'web');
	const pending = page.locator('main table tr', { hasText: `#${rid}` });
	check('My access lists the pending request', (await pending.count()) === 1);
	contains('with its reason', await pending.first().textContent(), REASON);
	await shot(page, 'my-access-pending');
	await signOut(page, 'signed-out');

	// ---- Victor approves it -------------------------------------------------------------------------------
	step('Victor approves it');
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
	step("the role is in Sentry and in Bob's My access");
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
	step('Victor: the audit log, a dry-run sync, silences');
	await signIn(page, VICTOR);
	await page.getByRole('link', { name: 'Audit log' }).click();
	eq('Audit log: the title', await h1(page), 'Audit log');
	await shot(page, 'audit');
	await page.fill('input[name=person]', VICTOR);
	await page.fill('input[name=action]', 'access.approve');
	await page.selectOption('select[name=source]', 'web');
	await Promise.all([page.waitForURL(/\/console\/audit\?/), page.getByRole('button', { name: 'Filter' }).click()]);
	const entries = page.locator('main table tr', { hasText: 'access.approve' });
	eq('the filtered audit log has the approval', await entries.count(), 1);
	const entry = await entries.first().textContent();
	contains('by Victor', entry, VICTOR);
	contains('of the request', entry, `access-request:${rid}`);
	contains('with his reason', entry, 'approved for the launch week');
	contains('from the web', entry, 'web');
	contains('the filters are in the address (a link to share)', page.url(), 'source=web');
	await shot(page, 'audit-approval');

	await page.getByRole('link', { name: 'Sync' }).click();
	eq('Sync: the page', await h1(page), 'Sync runs');
	await shot(page, 'sync-runs');
	step('a dry-run sync, then applied');
	const runsBefore = Number(sql('SELECT count(*) FROM sync_runs'));
	// Drift for the plan to show: Alice joins the admin access group in Okta (manager by the
	// role mappings) while Sentry still has her as a member.
	await oktaAddToGroup(ALICE, 'okta-sentry-admin-users');
	await Promise.all([page.waitForURL(/\/console\/sync\/\d+(\?.*)?$/), page.getByRole('button', { name: 'Dry run now' }).click()]);
	const runId = page.url().match(/\/sync\/(\d+)/)[1];
	eq('the dry run is queued as a dry run', sql(`SELECT dry_run FROM sync_runs WHERE id = ${runId}`), 't');
	const done = await waitRun(runId);
	check('the dry run finished', done && done !== 'failed', `status ${done}`);
	await page.reload();
	eq('the run page', await h1(page), `Sync run #${runId}`);
	const plan = page.locator('main tr', { hasText: ALICE });
	eq('its plan has Alice\'s role change', await plan.count(), 1);
	contains('member to manager', await plan.first().textContent(), 'member → manager');
	contains('with its reason', await plan.first().textContent(), 'okta-sentry-admin-users');
	contains('under Role changes', await page.locator('main h3').allTextContents(), 'Role changes');
	eq('a dry run changes nothing in Sentry', await sentryRole(ALICE), 'member');
	await shot(page, 'sync-plan');
	await Promise.all([page.waitForURL(/\/console\/sync\/apply\??$/), page.getByRole('button', { name: 'Apply…' }).click()]);
	eq('Apply asks for confirmation', await h1(page), 'Apply the sync plan');
	await shot(page, 'sync-apply-confirm');
	await Promise.all([page.waitForURL(/\/console\/sync\/\d+(\?.*)?$/), page.getByRole('button', { name: 'Apply now' }).click()]);
	const applyId = page.url().match(/\/sync\/(\d+)/)[1];
	check('the apply is a new run', applyId !== runId);
	const applied = await waitRun(applyId);
	eq('the apply ran', applied, 'applied');
	eq('Sentry has Alice as a manager now', await sentryRole(ALICE), 'manager');
	await page.reload();
	await shot(page, 'sync-applied');
	check('two more sync runs', Number(sql('SELECT count(*) FROM sync_runs')) === runsBefore + 2);

	step('silences');
	await visit(page, '/console/alerts', 'Alerts', 'alerts', { email: VICTOR });
	contains('the route tree', await page.locator('main pre').first().textContent(), '#alerts');
	await page.fill('textarea[name=matchers]', 'project=billing-worker\nlevel=error');
	await page.fill('input[name=duration]', '2h');
	await page.fill('[name=comment]', 'billing maintenance window');
	await Promise.all([page.waitForURL(/\/console\/alerts/), page.getByRole('button', { name: 'Create silence' }).click()]);
	const sil = page.locator('main tr', { hasText: 'billing maintenance window' });
	eq('the silence is listed', await sil.count(), 1);
	const sid = sql("SELECT id FROM slack_silences WHERE comment = 'billing maintenance window'");
	check('and stored', /^\d+$/.test(sid), sid);
	const inState = async (state) => {
		const r = await api('GET', `/api/v1/silences?state=${state}`);
		return ((r.json && r.json.silences) || []).some((x) => String(x.id) === sid);
	};
	check('the API lists it as active', await inState('active'));
	contains('the page says it is created', await page.locator('main .msg').first().textContent(), 'silence');
	await shot(page, 'alerts-silence');
	await Promise.all([page.waitForURL(/\/console\/alerts/), sil.getByRole('button', { name: 'Expire' }).click()]);
	eq('expired: no longer listed on the page', await page.locator('main tr', { hasText: 'billing maintenance window' }).count(), 0);
	check('the API lists it as expired', await inState('expired'));
	check('and not as active', !(await inState('active')));
	eq('both audited', sql(`SELECT string_agg(action, ' ' ORDER BY id) FROM audit_log WHERE target = 'silence:${sid}'`),
		'silence.create silence.expire');
	await shot(page, 'alerts-expired');

	// ---- sign-out ends the session ----------------------------------------------------------------------------
	step('sign-out ends the session');
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

async function waitRun(id) {
	return waitFor(() => {
		const st = sql(`SELECT status FROM sync_runs WHERE id = ${id}`);
		return st !== 'queued' && st !== 'running' ? st : null;
	}, 30000);
}
async function sentryRole(email) {
	const m = await sentryMember(email);
	return m ? m.orgRole || m.role : null;
}
