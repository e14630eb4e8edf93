// tests/browser/flow_security.mjs: what only a browser shows about the console's defences
// (issue 10, "Sessions and browser security"):
//   - the session cookies are HttpOnly (no script reads them) and SameSite=Lax, and a form
//     posted from another site reaches the bridge without them: refused, nothing changed;
//   - the Content-Security-Policy blocks an inline script, an inline event handler and an
//     inline style injected into a page, and our pages raise no console errors otherwise;
//   - HTML in a request's reason is shown as text: nothing of it runs;
//   - frame-ancestors 'none': no page of the console can be framed;
//   - a non-admin gets a 403 page for the admin pages.
import {
	URL_, SIM, api, check, contains, eq, h1, newBrowser, noErrors, run, shot, signIn, sql, takeErrors,
} from './lib.mjs';

const BOB = 'bob.brown@acme.example';
const VICTOR = 'victor.vega@acme.example';
const XSS = '<img src=x onerror="window.__xss=1">"><script>window.__xss=2</script> & \'quotes\'';

await run(async (browser) => {
	// ---- cookies --------------------------------------------------------------------------------------------
	const bobCtx = await newBrowser(browser);
	const bob = await bobCtx.newPage();
	await signIn(bob, BOB);
	const cookies = (await bobCtx.cookies()).filter((c) => c.domain === '127.0.0.1');
	const session = cookies.find((c) => c.name === 'sb_session');
	check('the session cookie is there', !!session, JSON.stringify(cookies));
	for (const c of cookies) {
		check(`cookie ${c.name} is HttpOnly`, c.httpOnly);
		eq(`cookie ${c.name} is SameSite=Lax`, c.sameSite, 'Lax');
		check(`cookie ${c.name} is not Secure over plain http://127.0.0.1`, !c.secure);
	}
	eq('the session cookie is for /console only', session && session.path, '/console');
	eq('no script on the page reads a cookie', await bob.evaluate(() => document.cookie), '');

	// ---- the Content-Security-Policy -------------------------------------------------------------------
	noErrors('My access raised no console errors', bobCtx);
	const violations = await bob.evaluate(async () => {
		const seen = [];
		document.addEventListener('securitypolicyviolation', (e) => seen.push(e.effectiveDirective));
		const s = document.createElement('script');
		s.textContent = 'window.__inline = 1';
		document.body.appendChild(s);
		const d = document.createElement('div');
		d.innerHTML = '<img src="/console/style.css?x" onerror="window.__handler = 1">';
		document.body.appendChild(d);
		const st = document.createElement('style');
		st.textContent = 'main h1 { color: rgb(255, 0, 0) }';
		document.head.appendChild(st);
		await new Promise((r) => setTimeout(r, 500));
		return {
			seen,
			inline: window.__inline,
			handler: window.__handler,
			color: getComputedStyle(document.querySelector('main h1')).color,
		};
	});
	eq('an injected inline script does not run', violations.inline, undefined);
	eq('an inline event handler does not run', violations.handler, undefined);
	check('an injected inline style is not applied', violations.color !== 'rgb(255, 0, 0)', violations.color);
	check('the browser reports the script as a CSP violation', violations.seen.includes('script-src-elem'),
		violations.seen.join(','));
	check('and the event handler', violations.seen.includes('script-src-attr'), violations.seen.join(','));
	check('and the style', violations.seen.includes('style-src-elem'), violations.seen.join(','));
	const refused = takeErrors(bobCtx).filter((e) => e.includes('Content Security Policy'));
	check('the console says what the policy refused', refused.length >= 3, refused.join('\n'));
	await shot(bob, 'csp-injected');

	// ---- admin pages ---------------------------------------------------------------------------------------
	for (const p of ['/console/sync', '/console/audit']) {
		const r = await bob.goto(URL_ + p);
		eq(`a non-admin opening ${p}: 403`, r.status(), 403);
		check(`${p}: a page that says so`, (await h1(bob)).length > 0);
	}
	await shot(bob, 'admin-page-refused');
	noErrors('the 403 pages raised no console errors (besides the 403 itself)',
		{ errors: takeErrors(bobCtx).filter((e) => !e.includes('status of 403')) });

	// ---- HTML in a reason -------------------------------------------------------------------------------
	const r = await api('POST', '/api/v1/access-requests', {
		on_behalf_of: BOB, kind: 'team', team: 'payments', duration: '1h', reason: XSS,
	});
	eq('a request with HTML in its reason is filed', r.status, 201);
	const rid = r.json && r.json.id;
	const vicCtx = await newBrowser(browser);
	const vic = await vicCtx.newPage();
	await signIn(vic, VICTOR, '/console/approvals');
	const row = vic.locator('main tr', { hasText: `#${rid}` });
	eq('the request is on Approvals', await row.count(), 1);
	contains('its reason is shown as text', await row.textContent(), XSS);
	eq('no element of the reason made it into the page', await row.locator('img, script').count(), 0);
	await vic.waitForTimeout(300);
	eq('nothing of it ran', await vic.evaluate(() => window.__xss), undefined);
	await shot(vic, 'approvals-html-reason', { markupText: true });
	noErrors('Approvals raised no console errors', vicCtx);

	// ---- framing ---------------------------------------------------------------------------------------------
	// From the simulator's origin (same site, other port, no CSP of its own), so that only the
	// console's own frame-ancestors decides.
	await vic.goto(`${SIM}/_sim/oidc`);
	await vic.setContent(`<h1>framing</h1><iframe id="f" src="${URL_}/console/" width="600" height="400"></iframe>`);
	await vic.waitForTimeout(1000);
	const frame = vic.frames().find((f) => f !== vic.mainFrame());
	const framed = frame ? await frame.evaluate(() => document.body ? document.body.innerText : '').catch(() => '') : '';
	check('the console does not render inside a frame', !framed.includes('My access'), framed.slice(0, 200));
	const fa = takeErrors(vicCtx).filter((e) => e.includes('frame-ancestors'));
	check('the browser names frame-ancestors as the reason', fa.length >= 1);
	await shot(vic, 'framing-refused', { markupText: true });

	// ---- SameSite=Lax: a form posted from another site ---------------------------------------------------
	await vic.goto(`${URL_}/console/approvals`);
	const csrf = await vic.locator('input[name=csrf]').first().inputValue();
	check('Victor\'s page carries his CSRF token', csrf.length > 20);
	const form = (origin) => `<form method="post" action="${URL_}/console/approvals/${rid}">` +
		`<input name="csrf" value="${csrf}"><input name="action" value="deny">` +
		`<input name="reason" value="posted from ${origin}"><button id="go">go</button></form>`;
	// localhost is another site than 127.0.0.1 for the browser: Lax cookies stay home.
	const other = SIM.replace('127.0.0.1', 'localhost');
	await vic.goto(`${other}/_sim/oidc`);
	await vic.setContent(form('another site'));
	const [cross] = await Promise.all([vic.waitForNavigation(), vic.click('#go')]);
	eq('a form posted from another site, even with the right CSRF token: 403', cross && cross.status(), 403);
	eq('the request is still pending', sql(`SELECT status FROM access_requests WHERE id = ${rid}`), 'pending');
	await shot(vic, 'cross-site-post-refused');
	// The same form from the same site (the simulator's port on 127.0.0.1) carries the cookie:
	// the token alone would not have been the defence above.
	await vic.goto(`${SIM}/_sim/oidc`);
	await vic.setContent(form('the same site'));
	const [same] = await Promise.all([vic.waitForNavigation(), vic.click('#go')]);
	eq('the same form from the same site is let in', same && same.status(), 200);
	eq('and denies the request', sql(`SELECT status FROM access_requests WHERE id = ${rid}`), 'denied');
	takeErrors(vicCtx); // the 403 page above logs its status

	await bobCtx.close();
	await vicCtx.close();
});
